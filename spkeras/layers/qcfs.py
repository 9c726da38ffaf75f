"""The quantisation clip-floor-shift (QCFS) activation (Bu et al., ICLR 2022).

``h(z) = λ · clip(floor(z·L/λ + 1/2) / L, 0, 1)``: a ReLU that already behaves like an integrate-and-fire
neuron over L time steps. With threshold θ = λ and initial potential θ/2, the soft-reset IF neuron's mean
output over T = L steps of a constant input equals ``h`` exactly, and the shift (+1/2) makes the expected
conversion error zero for any T. λ is trained (one per layer, or one per channel), the floor uses the
straight-through estimator. The paper's public code (QCFS repository) was read for the exact composition
(divide by λ, floor with a straight-through gradient, clip to [0, 1], multiply by λ); this is our own Keras
implementation.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from spkeras import validation


def floor_straight_through(x):
    """``floor(x)`` forward, identity gradient backward.

    Examples:
        >>> floor_straight_through(np.array([1.7, -0.2], "float32")).numpy().tolist()
        [1.0, -1.0]
    """
    return x + ops.stop_gradient(ops.floor(x) - x)


@keras.saving.register_keras_serializable(package="spkeras")
class QuantizedClipFloorShift(keras.layers.Layer):
    """The QCFS activation with a trainable threshold λ, ready to be converted to IF neurons.

    Args:
        levels: L, the number of quantisation levels (the T it is exact for).
        threshold: Initial λ: a positive float, or one per channel when ``per_channel``.
        per_channel: One trainable λ per channel (last axis) instead of one per layer.
        **kwargs: Standard layer arguments (``name``, ``dtype``, ...).

    Examples:
        >>> layer = QuantizedClipFloorShift(levels=4, threshold=2.0)
        >>> layer(np.array([[-1.0, 0.2, 0.3, 1.1, 5.0]], "float32")).numpy().tolist()
        [[0.0, 0.0, 0.5, 1.0, 2.0]]
    """

    # The conversion method a model holding this layer is converted with when the user names none (read by
    # spkeras.conversion.pipeline.default_method through this attribute, so the pipeline needs no import of it).
    preferred_conversion_method = "qcfs"

    def __init__(self, levels=4, threshold=8.0, per_channel=False, **kwargs):
        super().__init__(**kwargs)
        owner = f"QuantizedClipFloorShift '{self.name}'"
        self.levels = validation.check_number("levels", levels, minimum=0, strictly=True, integer=True, owner=owner)
        if not isinstance(per_channel, (bool, np.bool_)):
            raise TypeError(f"{owner}: `per_channel` must be True or False. Received: per_channel={per_channel!r}.")
        self.per_channel = bool(per_channel)
        values = np.asarray(threshold, dtype="float64").reshape(-1)
        if values.size == 0 or not np.all(np.isfinite(values)) or np.any(values <= 0):
            raise ValueError(f"{owner}: `threshold` must be positive and finite. Received: threshold={threshold!r}.")
        if values.size > 1 and not self.per_channel:
            raise ValueError(
                f"{owner}: {values.size} thresholds given for a layer-wide λ. Received: threshold={threshold!r}. "
                "Pass per_channel=True for one λ per channel."
            )
        self.threshold_init = [float(v) for v in values] if values.size > 1 else float(values[0])

    def build(self, input_shape):
        shape = (input_shape[-1],) if self.per_channel else ()
        if isinstance(self.threshold_init, list) and len(self.threshold_init) != input_shape[-1]:
            raise ValueError(
                f"QuantizedClipFloorShift '{self.name}': {len(self.threshold_init)} thresholds for "
                f"{input_shape[-1]} channels. Received input shape: {tuple(input_shape)}."
            )
        initial = np.broadcast_to(np.asarray(self.threshold_init, "float32"), shape)
        self.threshold = self.add_weight(
            name="threshold", shape=shape, initializer=keras.initializers.Constant(initial), trainable=True
        )

    def call(self, inputs):
        threshold = ops.maximum(self.threshold, 1e-6)  # keeps λ positive while training
        levels = float(self.levels)
        quantised = floor_straight_through(inputs / threshold * levels + 0.5) / levels
        return ops.clip(quantised, 0.0, 1.0) * threshold

    def ann_activation(self, name: str) -> QuantizedClipFloorShift:
        """A copy with the trained λ, for the BN-folded ANN (so calibration targets the quantised activations)."""
        return type(self).from_config({**self.get_config(), "name": name})

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        threshold = self.threshold_init
        if self.built:
            values = np.asarray(self.threshold.numpy(), "float64").reshape(-1)
            threshold = [float(v) for v in values] if self.per_channel else float(values[0])
        config.update(levels=self.levels, threshold=threshold, per_channel=self.per_channel)
        return config
