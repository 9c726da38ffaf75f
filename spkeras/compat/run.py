"""Running the SpKeras-compatible closed-form network: build it for one T, encode the input, count spikes."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from spkeras.compat.layers import SpikeActivation
from spkeras.compat.plan import LegacyPlan


def build_legacy_model(
    plan: LegacyPlan, timesteps: int, thresholding=0.5, scaling_factor=1.0, spike_ext=0, noneloss=False
) -> keras.Model:
    """Instantiates the closed-form network for one T (the original's ``chts_model``).

    The model takes ``floor(x·T)`` and returns the output-layer spike counts (followed by a softmax if the
    source model ended with one, as in SpKeras).
    """
    used: set[str] = set()

    def unique(base):
        name, counter = base, 1
        while name in used:
            counter += 1
            name = f"{base}_{counter}"
        used.add(name)
        return name

    inputs = keras.Input(plan.input_shape, name=unique("input"))
    tensor = inputs
    for step in plan.steps:
        if step.kind == "spike":
            layer = SpikeActivation(
                threshold=step.threshold,
                bias=step.bias,
                timesteps=timesteps,
                thresholding=thresholding,
                scaling_factor=scaling_factor,
                spike_ext=spike_ext,
                noneloss=noneloss,
                name=unique(f"{step.name}_spike"),
            )
            tensor = layer(tensor)
        else:
            layer = step.make_layer(unique(step.name))
            tensor = layer(tensor)
            if step.kind == "linear":
                layer.set_weights([step.kernel, np.zeros(step.kernel.shape[-1], dtype="float32")])
    if plan.softmax:
        tensor = keras.layers.Activation("softmax", name=unique("softmax"))(tensor)
    return keras.Model(inputs, tensor, name=f"{plan.name}_spkeras")


def spike_layers(model: keras.Model) -> list[SpikeActivation]:
    return [layer for layer in model.layers if isinstance(layer, SpikeActivation)]


def encode_input(batch: np.ndarray, timesteps: int, fix: float = 0) -> np.ndarray:
    """SpKeras's input: ``floor(x·T)`` (or ``x·fix`` if ``fix > 0``), as float32."""
    batch = np.asarray(batch)
    return np.asarray(batch * fix if fix > 0 else np.floor(batch * timesteps), dtype="float32")


def layer_counts(model: keras.Model, x: np.ndarray, timesteps: int, batch_size: int = 100, fix: float = 0):
    """Yields, per batch, the spike counts of every spiking layer (a list of NumPy arrays, output last)."""
    probe = keras.Model(model.inputs, [layer.output for layer in spike_layers(model)])
    forward = tf.function(lambda batch: probe(batch, training=False), reduce_retracing=True)
    for start in range(0, len(x), batch_size):
        yield [value.numpy() for value in forward(encode_input(x[start : start + batch_size], timesteps, fix))]


def output_counts(model: keras.Model, x: np.ndarray, timesteps: int, batch_size: int = 100, fix: float = 0):
    """Output-layer spike counts of every image, shape ``(N, classes)``."""
    probe = keras.Model(model.inputs, spike_layers(model)[-1].output)
    forward = tf.function(lambda batch: probe(batch, training=False), reduce_retracing=True)
    parts = [
        forward(encode_input(x[start : start + batch_size], timesteps, fix)).numpy()
        for start in range(0, len(x), batch_size)
    ]
    return np.concatenate(parts)
