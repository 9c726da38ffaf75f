"""Spiking Keras layers: the integrate-and-fire neuron family."""

from spkeras.layers.neurons import IntegrateAndFire

__all__ = ["IntegrateAndFire"]
