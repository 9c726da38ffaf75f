"""Closed-form ("analytic") evaluation: SpKeras-style spike counts without a time loop.

Each integrate-and-fire layer is replaced by the exact spike count of a neuron driven for T steps by the
*constant* current it would receive on average. This is exact for the first spiking layer under analog
input and an estimate deeper in the network (there the real input current fluctuates from step to step).
It costs one ANN-sized forward pass for any T: a fast estimate, not a simulation.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from spkeras import distribute, validation
from spkeras.batching import iterate_batches
from spkeras.network import spiking_network


@dataclasses.dataclass
class ClosedFormResult:
    """Accuracy and spike counts of the closed-form estimate.

    Attributes:
        timesteps: The T of each estimate.
        accuracy: Accuracy for each T.
        spikes_per_image: Mean spikes per image (all layers) for each T.
    """

    timesteps: list[int]
    accuracy: list[float]
    spikes_per_image: list[float]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def closed_form_model(snn: keras.Model, jit_compile: bool | None = None):
    """A compiled ``forward(x, timesteps) -> (output, total spikes)`` using each neuron's own closed form.

    Each spiking layer's :meth:`~spkeras.layers.IntegrateAndFire.closed_form_count` replaces its time loop; the
    graph is walked with :func:`spkeras.network.spiking_network`, like the simulator's.

    Examples:
        >>> import spkeras, tensorflow as tf
        >>> sample = spkeras.demo.load_sample()
        >>> snn = spkeras.convert(spkeras.demo.DEMO_MODEL_PATH, sample["x_calibration"][:50])
        >>> output, spikes = closed_form_model(snn)(sample["x_test"][:4], tf.constant(64.0))
        >>> tuple(output.shape), float(spikes) > 0
        ((4, 10), True)
    """
    network = spiking_network(snn)

    @tf.function(reduce_retracing=True, jit_compile=jit_compile, autograph=False)
    def forward(x, timesteps):
        counts = []

        def neuron(layer, current):
            count = layer.closed_form_count(layer.closed_form_input(current, timesteps), timesteps)
            counts.append(tf.reduce_sum(count))
            return layer.emit(count / timesteps)

        values = network.forward(x, neuron)
        spikes = tf.zeros([], tf.float32)
        for count in counts:
            spikes += count
        return values[network.output_position], spikes

    return forward


def estimate_closed_form(
    snn: keras.Model, x, y, timesteps=(64,), batch_size: int = 100, jit_compile: bool = False, strategy=None
) -> ClosedFormResult:
    """Estimates the SNN's accuracy at each T in ``timesteps`` with closed-form spike counts.

    Args:
        snn: A model returned by :func:`spkeras.convert`.
        x: Inputs (float array shaped like the model input).
        y: Integer or one-hot labels.
        timesteps: An int or a list of ints.
        batch_size: Batch size of the forward passes.
        jit_compile: Compile with XLA (fuses the elementwise count arithmetic; on CPU it helps small networks
            and slows convolution-heavy ones, so it is off by default).
        strategy: A ``tf.distribute.Strategy``: each worker computes only its rows of each (global) batch; hit
            and spike counts are summed across all workers, so every worker gets the one-process estimate.
            Defaults to the active scope's.

    Returns:
        A :class:`ClosedFormResult`.

    Examples:
        >>> import spkeras
        >>> sample = spkeras.demo.load_sample()
        >>> snn = spkeras.convert(spkeras.demo.DEMO_MODEL_PATH, sample["x_calibration"][:100])
        >>> estimate = spkeras.estimate_closed_form(snn, sample["x_test"][:100], sample["y_test"][:100], [16, 64])
        >>> estimate.timesteps, all(accuracy > 0.9 for accuracy in estimate.accuracy)
        ([16, 64], True)
    """
    steps = [timesteps] if isinstance(timesteps, int) else list(timesteps)
    steps = [validation.check_timesteps(step) for step in steps]
    input_shape = tuple(snn.inputs[0].shape[1:])
    strategy = distribute.resolve_strategy(strategy)

    def check(inputs):
        return validation.check_array_inputs(inputs, input_shape, "x")

    x = check(x) if strategy is None else distribute.check_metadata(check, x)
    labels = validation.check_labels(y, len(x), int(snn.outputs[0].shape[-1]))
    forward = closed_form_model(snn, jit_compile=jit_compile)
    accuracy, spikes = [], []
    for step in steps:
        steps_tensor = tf.constant(float(step))
        if strategy is not None:

            def shard_counts(first, batch, batch_labels, steps_tensor=steps_tensor):
                output, batch_spikes = forward(batch, steps_tensor)
                predictions = tf.argmax(output, axis=-1, output_type=tf.int64)
                return tf.reduce_sum(tf.cast(tf.equal(predictions, batch_labels), tf.int64)), batch_spikes

            sharded = distribute.run_checked(strategy, shard_counts, ("sum", "sum"), (x, labels), batch_size)
            counts = [(int(hits), float(batch_spikes)) for _, (hits, batch_spikes), _ in sharded]
        else:
            counts = []
            for start, batch in iterate_batches(x, batch_size, with_start=True):
                output, batch_spikes = forward(batch, steps_tensor)
                predictions = np.argmax(output.numpy(), axis=-1)
                counts.append((int(np.sum(predictions == labels[start : start + batch_size])), float(batch_spikes)))
        correct, total_spikes = 0, 0.0
        for hits, batch_spikes in counts:
            correct += hits
            total_spikes += batch_spikes
        accuracy.append(correct / len(x))
        spikes.append(total_spikes / len(x))
    return ClosedFormResult(timesteps=steps, accuracy=accuracy, spikes_per_image=spikes)
