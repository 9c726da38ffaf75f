"""``spkeras.predict``: what the source ANN's ``predict`` returns, decoded from the spiking simulation.

The network's output current is averaged over the simulated steps (the rate code's estimate of the ANN's
pre-activation output: logits for a classifier, the value of a regression head) and the source model's output
activation is applied to it: the converter keeps it in a :class:`~spkeras.layers.Readout` layer (softmax,
sigmoid), or the output is linear. With ``every_step=True`` the estimate after each step t ≤ T is returned.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from spkeras import validation
from spkeras.batching import iterate_batches
from spkeras.layers.readout import Readout
from spkeras.simulate import budget
from spkeras.simulate.expectations import resolve_timesteps
from spkeras.simulate.simulator import get_simulator


def readout_of(snn):
    """The network's :class:`~spkeras.layers.Readout` layer, or a linear one when it has none."""
    found = [layer for layer in snn.layers if isinstance(layer, Readout)]
    return found[-1] if found else Readout("linear")


def predict(snn, x, timesteps: int | None = None, *, every_step: bool = False, batch_size: int = 100, seed: int = 0):
    """Simulates ``snn`` and returns what the source ANN's ``predict`` returns, estimated from the spikes.

    Args:
        snn: A model returned by :func:`spkeras.convert` (or loaded from its ``.keras`` file).
        x: Inputs, float array shaped like the model input and scaled as for the ANN.
        timesteps: Number of steps T; by default the T the network was converted for.
        every_step: Also return the estimate after every step: an array of shape ``(T, N) + output shape``.
        batch_size: Images simulated together.
        seed: Seed of the input encoding (the analog encoding ignores it).

    Returns:
        An array of shape ``(N,) + output shape``: the time-averaged output with the source model's output
        activation applied (probabilities for a softmax or sigmoid head, the values of a linear head), or with
        ``every_step=True`` the estimates after each step, shape ``(T, N) + output shape``. For a multi-output
        source model, a list with one such array per output, as its ``predict`` returns.

    Examples:
        >>> import spkeras
        >>> sample = spkeras.demo.load_sample()
        >>> snn = spkeras.convert(spkeras.demo.DEMO_MODEL_PATH, sample["x_calibration"][:100], timesteps=32)
        >>> probabilities = spkeras.predict(snn, sample["x_test"][:8])
        >>> probabilities.shape, bool(abs(probabilities.sum(axis=1) - 1).max() < 1e-5)
        ((8, 10), True)
        >>> spkeras.predict(snn, sample["x_test"][:8], timesteps=4, every_step=True).shape
        (4, 8, 10)
    """
    simulator = get_simulator(snn, resolve_timesteps(snn, timesteps))
    batch_size = validation.check_batch_size(batch_size)
    seed = validation.check_seed(seed)
    x = simulator.check_inputs(x)
    budget.check_simulation(simulator, len(x), batch_size)
    readout = readout_of(snn)
    steps = np.arange(1, simulator.timesteps + 1, dtype="float64")
    parts = []
    for start, batch in iterate_batches(x, batch_size, with_start=True):
        trains = simulator.output_trains(batch, tf.constant([seed, start], tf.int64)).numpy().astype("float64")
        if every_step:
            means = np.cumsum(trains, axis=0) / steps.reshape((-1,) + (1,) * (trains.ndim - 1))
        else:
            means = trains.mean(axis=0)
        decoded = readout.decode(means.astype("float32"))
        parts.append([np.asarray(head) for head in decoded] if isinstance(decoded, list) else [np.asarray(decoded)])
    axis = 1 if every_step else 0
    heads = [np.concatenate([part[head] for part in parts], axis=axis) for head in range(len(parts[0]))]
    return heads if readout.heads is not None else heads[0]
