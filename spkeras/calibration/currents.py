"""Measuring a (partial) spiking network on calibration data: the largest per-step input current."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from spkeras import distribute
from spkeras.batching import iterate_batches
from spkeras.simulate import get_simulator


def max_input_current(model: keras.Model, x, timesteps: int, batch_size: int = 100, strategy=None) -> np.ndarray:
    """Simulates a (partial) spiking model and returns the largest per-step value of its output, per channel.

    Used to calibrate thresholds on the SNN itself (channel-wise threshold balancing): ``model`` ends at the
    input current of the layer being calibrated.

    Args:
        model: A spiking model, or a part of one that ends at a spiking layer's input.
        x: Calibration inputs (NumPy array or batched ``tf.data.Dataset``).
        timesteps: Steps simulated.
        batch_size: Batch size for NumPy input (the global batch under a strategy).
        strategy: A ``tf.distribute.Strategy``: each worker simulates only its rows of each batch and the maxima
            are reduced across all workers (NumPy input); defaults to the active scope's.

    Returns:
        The maximum over samples, positions and steps, one value per output channel (float64).

    Examples:
        >>> import numpy as np, spkeras
        >>> sample = spkeras.demo.load_sample()
        >>> snn = spkeras.convert(spkeras.demo.DEMO_MODEL_PATH, sample["x_calibration"][:50])
        >>> neuron = [layer for layer in snn.layers if isinstance(layer, spkeras.layers.IntegrateAndFire)][1]
        >>> partial = keras.Model(snn.inputs, neuron.input)
        >>> max_input_current(partial, sample["x_calibration"][:20], timesteps=8).shape
        (32,)
    """
    simulator = get_simulator(model, timesteps, require_neurons=False)
    strategy = distribute.resolve_strategy(strategy)
    if strategy is not None and not isinstance(x, tf.data.Dataset):

        def shard_maximum(first, batch):
            return simulator.output_maximum(batch, tf.stack([tf.constant(0, tf.int64), first]))

        maxima = (value for _, value in distribute.run_sharded(strategy, shard_maximum, "max", (x,), batch_size))
    else:
        maxima = (
            simulator.output_maximum(batch, tf.constant([0, index], tf.int64)).numpy()
            for index, batch in enumerate(iterate_batches(x, batch_size))
        )
    largest = None
    for value in maxima:
        largest = value if largest is None else np.maximum(largest, value)
    if largest is None:
        raise ValueError("The calibration data is empty. Received: 0 samples. Pass at least one input sample.")
    return largest.astype("float64")
