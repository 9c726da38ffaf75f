"""A per-channel affine map, the spiking form of a batch normalisation that cannot be folded into a weight layer."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="spkeras")
class ChannelAffine(keras.layers.Layer):
    """``y = x · scale + offset`` per channel (last axis), applied to the current of every time step.

    Used for a BatchNormalization that does not directly follow a Conv2D/Dense (after pooling, or before a ReLU in
    a pre-activation block): it is linear, so applying it to each step's input keeps the rates exact, and its
    offset becomes a constant current. ``scale`` and ``offset`` are non-trainable weights.

    Args:
        **kwargs: Standard ``keras.layers.Layer`` arguments.

    Examples:
        >>> import numpy as np
        >>> layer = ChannelAffine()
        >>> layer.build((None, 2))
        >>> layer.set_weights([np.array([2.0, 0.5]), np.array([0.0, 1.0])])
        >>> layer(np.array([[1.0, 2.0]], "float32")).numpy()
        array([[2., 2.]], dtype=float32)
    """

    def build(self, input_shape):
        channels = input_shape[-1]
        self.scale = self.add_weight(name="scale", shape=(channels,), initializer="ones", trainable=False)
        self.offset = self.add_weight(name="offset", shape=(channels,), initializer="zeros", trainable=False)

    def call(self, inputs):
        return inputs * self.scale + self.offset

    def compute_output_shape(self, input_shape):
        return input_shape
