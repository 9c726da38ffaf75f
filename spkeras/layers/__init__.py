"""Spiking Keras layers: the integrate-and-fire neuron family."""

from spkeras.layers.affine import ChannelAffine
from spkeras.layers.neurons import AugmentedIntegrateAndFire, IntegrateAndFire, TernaryIntegrateAndFire

NEURON_CLASSES = {
    "if": IntegrateAndFire,
    "ternary": TernaryIntegrateAndFire,
    "augmented": AugmentedIntegrateAndFire,
}

__all__ = [
    "NEURON_CLASSES",
    "AugmentedIntegrateAndFire",
    "ChannelAffine",
    "IntegrateAndFire",
    "TernaryIntegrateAndFire",
]
