"""The readout of a converted network: the source model's output activation, applied to the decoded output.

A spiking network's output is an accumulated current; its time average estimates the ANN's pre-activation
output (logits for a classifier, the value itself for a regression head). The output activation (softmax,
sigmoid) is nonlinear, so it cannot act on each step: the converter drops it from the network and appends a
:class:`Readout` layer that passes the current through unchanged during the simulation and remembers which
activation :func:`spkeras.predict` applies to the time average. ``.keras`` files keep it.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

READOUT_ACTIVATIONS = ("linear", "softmax", "sigmoid")


@keras.saving.register_keras_serializable(package="spkeras")
class Readout(keras.layers.Layer):
    """Identity in the network; :meth:`decode` applies the source model's output activation.

    A multi-output source model converts into a network whose one output joins the heads (each ``(batch,
    units)``) along the last axis; ``heads`` then lists each head's activation and units, and :meth:`decode`
    returns one array per head, as the source model's ``predict`` does.

    Args:
        activation: ``"linear"``, ``"softmax"`` or ``"sigmoid"`` (one output).
        heads: For several outputs: one ``(activation, units)`` pair per output, in order.
        **kwargs: Standard ``keras.layers.Layer`` arguments.

    Examples:
        >>> import numpy as np
        >>> readout = Readout("softmax")
        >>> readout(np.array([[0.0, 0.0]], "float32")).numpy().tolist()  # the network's current, unchanged
        [[0.0, 0.0]]
        >>> readout.decode(np.array([[0.0, 0.0]], "float32")).numpy().tolist()
        [[0.5, 0.5]]
    """

    def __init__(self, activation="linear", heads=None, **kwargs):
        super().__init__(**kwargs)
        if activation not in READOUT_ACTIVATIONS:
            raise ValueError(
                f"Readout '{self.name}': `activation` must be one of {READOUT_ACTIVATIONS}. Received: {activation!r}."
            )
        self.activation = activation
        self.heads = None if heads is None else [(str(name), int(units)) for name, units in heads]
        if self.heads is not None and any(name not in READOUT_ACTIVATIONS or units < 1 for name, units in self.heads):
            raise ValueError(
                f"Readout '{self.name}': `heads` pairs an activation of {READOUT_ACTIVATIONS} with a positive "
                f"number of units. Received: heads={heads!r}."
            )

    def call(self, inputs):
        return inputs

    def decode(self, outputs):
        """The source model's output activation applied to time-averaged ``outputs`` (last axis for softmax); a
        list with one array per head for a multi-output source model.

        Examples:
            >>> import numpy as np
            >>> readout = Readout(heads=[("softmax", 2), ("linear", 1)])
            >>> [part.numpy().tolist() for part in readout.decode(np.array([[0.0, 0.0, 3.0]], "float32"))]
            [[[0.5, 0.5]], [[3.0]]]
        """
        if self.heads is None:
            return _activate(outputs, self.activation)
        ends = np.cumsum([units for _, units in self.heads])
        parts = ops.split(ops.convert_to_tensor(outputs), ends[:-1].tolist(), axis=-1)
        return [_activate(part, name) for part, (name, _) in zip(parts, self.heads)]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        heads = None if self.heads is None else [list(head) for head in self.heads]
        return {**super().get_config(), "activation": self.activation, "heads": heads}


def _activate(values, activation: str):
    if activation == "softmax":
        return ops.softmax(values, axis=-1)
    if activation == "sigmoid":
        return ops.sigmoid(values)
    return ops.convert_to_tensor(values)
