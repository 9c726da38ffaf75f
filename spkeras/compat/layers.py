"""The layers of the SpKeras-compatible closed-form network (``cnn_to_snn(legacy=True)``)."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="spkeras.compat")
class SpikeActivation(keras.layers.Layer):
    """The original SpKeras neuron: the closed-form spike count over ``timesteps`` steps.

    ``count = clip(floor((relu(Q + bias·T') + thresholding·θ_eff) / θ_eff), 0, T')`` with ``T' = timesteps +
    spike_ext`` and ``θ_eff = scaling_factor·threshold``; ``noneloss=True`` drops the floor and the
    ``thresholding`` term; ``spike_ext < 0`` drops the clip. Computed in float32 in the original's order.

    Args:
        threshold: θ (a positive float).
        bias: Bias current per step (a float, or one float per channel).
        timesteps: T.
        thresholding: Initial-potential fraction (0.5 rounds instead of flooring).
        scaling_factor: Multiplier of θ.
        spike_ext: Extra steps (``T' = T + spike_ext``); negative disables the clip.
        noneloss: Continuous count (no floor).

    Examples:
        >>> import numpy as np
        >>> layer = SpikeActivation(threshold=1.0, timesteps=4)
        >>> layer(np.array([[0.4, 2.6, 9.0]], dtype="float32")).numpy()
        array([[0., 3., 4.]], dtype=float32)
    """

    #: A spiking layer (closed-form counts, no time-step rule) for the metrics and ``NeuronNumbers``.
    spiking_neuron = True

    def __init__(
        self,
        threshold=1.0,
        bias=0.0,
        timesteps=255,
        thresholding=0.5,
        scaling_factor=1.0,
        spike_ext=0,
        noneloss=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.threshold = float(threshold)
        self.bias = [float(b) for b in np.ravel(bias)] if np.ndim(bias) else float(bias)
        self.timesteps = int(timesteps)
        self.thresholding = float(thresholding)
        self.scaling_factor = float(scaling_factor)
        self.spike_ext = int(spike_ext)
        self.noneloss = bool(noneloss)

    def call(self, inputs):
        steps = self.timesteps + self.spike_ext
        bias_current = np.asarray(self.bias, dtype="float32") * np.float32(steps)
        theta = np.float32(self.scaling_factor) * np.float32(self.threshold)
        x = ops.relu(ops.add(inputs, bias_current))
        if not self.noneloss:
            x = ops.add(x, theta * np.float32(self.thresholding))
        x = ops.divide(x, theta)
        if not self.noneloss:
            x = ops.floor(x)
        if self.spike_ext >= 0:
            x = ops.clip(x, 0.0, float(steps))
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            threshold=self.threshold,
            bias=self.bias,
            timesteps=self.timesteps,
            thresholding=self.thresholding,
            scaling_factor=self.scaling_factor,
            spike_ext=self.spike_ext,
            noneloss=self.noneloss,
        )
        return config


class Keras2BatchNorm(keras.layers.Layer):
    """Batch norm in inference mode computed as Keras 2 did (fused kernel for 4-D inputs), for λ only."""

    def __init__(self, source, **kwargs):
        super().__init__(**kwargs)
        variance = float32_array(source.moving_variance)
        self.mean = float32_array(source.moving_mean)
        self.variance = variance
        self.gamma = float32_array(source.gamma) if source.scale else np.ones_like(variance)
        self.beta = float32_array(source.beta) if source.center else np.zeros_like(variance)
        self.epsilon = float(source.epsilon)

    def call(self, inputs):
        if len(inputs.shape) == 4 and self.epsilon >= 1.001e-5:
            outputs, _, _ = tf.compat.v1.nn.fused_batch_norm(
                inputs, self.gamma, self.beta, self.mean, self.variance, epsilon=self.epsilon, is_training=False
            )
            return outputs
        return tf.nn.batch_normalization(inputs, self.mean, self.variance, self.beta, self.gamma, self.epsilon)


def float32_array(variable) -> np.ndarray:
    return np.asarray(variable.numpy() if hasattr(variable, "numpy") else variable, dtype="float32")
