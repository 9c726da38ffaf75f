"""Spiking Keras layers: the integrate-and-fire neuron family and the settings they are built from."""

from spkeras.layers.affine import ChannelAffine
from spkeras.layers.neurons import IntegrateAndFire
from spkeras.layers.pooling import SpikingMaxPooling1D, SpikingMaxPooling2D
from spkeras.layers.settings import NeuronSettings
from spkeras.layers.signed import AugmentedIntegrateAndFire, TernaryIntegrateAndFire

__all__ = [
    "AugmentedIntegrateAndFire",
    "ChannelAffine",
    "IntegrateAndFire",
    "NeuronSettings",
    "SpikingMaxPooling1D",
    "SpikingMaxPooling2D",
    "TernaryIntegrateAndFire",
]
