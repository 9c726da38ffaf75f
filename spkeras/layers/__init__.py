"""Spiking Keras layers: the integrate-and-fire neuron family, the settings they are built from, and QCFS.

Importing this package registers every spkeras layer with Keras's serialization (``.keras`` files load).
"""

from spkeras.layers.affine import ChannelAffine
from spkeras.layers.neurons import IntegrateAndFire
from spkeras.layers.pooling import SpikingMaxPooling1D, SpikingMaxPooling2D
from spkeras.layers.presimulated import (
    OffsetSpikeIntegrateAndFire,
    PreSimulatedIntegrateAndFire,
    ResidualPotentialIntegrateAndFire,
)
from spkeras.layers.qcfs import QuantizedClipFloorShift
from spkeras.layers.readout import Readout
from spkeras.layers.settings import NeuronSettings
from spkeras.layers.signed import AugmentedIntegrateAndFire, TernaryIntegrateAndFire

__all__ = [
    "AugmentedIntegrateAndFire",
    "ChannelAffine",
    "IntegrateAndFire",
    "NeuronSettings",
    "OffsetSpikeIntegrateAndFire",
    "PreSimulatedIntegrateAndFire",
    "QuantizedClipFloorShift",
    "Readout",
    "ResidualPotentialIntegrateAndFire",
    "SpikingMaxPooling1D",
    "SpikingMaxPooling2D",
    "TernaryIntegrateAndFire",
]
