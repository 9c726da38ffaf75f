"""The readout of a converted network: the source model's output activation, applied to the decoded output.

A spiking network's output is an accumulated current; its time average estimates the ANN's pre-activation
output (logits for a classifier, the value itself for a regression head). The output activation (softmax,
sigmoid) is nonlinear, so it cannot act on each step: the converter drops it from the network and appends a
:class:`Readout` layer that passes the current through unchanged during the simulation and remembers which
activation :func:`spkeras.predict` applies to the time average. ``.keras`` files keep it.
"""

from __future__ import annotations

import keras
from keras import ops

READOUT_ACTIVATIONS = ("linear", "softmax", "sigmoid")


@keras.saving.register_keras_serializable(package="spkeras")
class Readout(keras.layers.Layer):
    """Identity in the network; :meth:`decode` applies the source model's output activation.

    Args:
        activation: ``"linear"``, ``"softmax"`` or ``"sigmoid"``.
        **kwargs: Standard ``keras.layers.Layer`` arguments.

    Examples:
        >>> import numpy as np
        >>> readout = Readout("softmax")
        >>> readout(np.array([[0.0, 0.0]], "float32")).numpy().tolist()  # the network's current, unchanged
        [[0.0, 0.0]]
        >>> readout.decode(np.array([[0.0, 0.0]], "float32")).numpy().tolist()
        [[0.5, 0.5]]
    """

    def __init__(self, activation="linear", **kwargs):
        super().__init__(**kwargs)
        if activation not in READOUT_ACTIVATIONS:
            raise ValueError(
                f"Readout '{self.name}': `activation` must be one of {READOUT_ACTIVATIONS}. Received: {activation!r}."
            )
        self.activation = activation

    def call(self, inputs):
        return inputs

    def decode(self, outputs):
        """The source model's output activation applied to time-averaged ``outputs`` (last axis for softmax)."""
        if self.activation == "softmax":
            return ops.softmax(outputs, axis=-1)
        if self.activation == "sigmoid":
            return ops.sigmoid(outputs)
        return ops.convert_to_tensor(outputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}
