"""``spkeras.predict``: what the source ANN's ``predict`` returns, decoded from the spiking simulation.

The network's output current is averaged over the simulated steps (the rate code's estimate of the ANN's
pre-activation output: logits for a classifier, the value of a regression head) and the source model's output
activation is applied to it: the converter keeps it in a :class:`~spkeras.layers.Readout` layer (softmax,
sigmoid), or the output is linear. With ``every_step=True`` the estimate after each step t ≤ T is returned.
"""

from __future__ import annotations

import keras
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


def score(snn, x, y, metrics, timesteps: int | None = None, *, ann=None, batch_size: int = 100, seed: int = 0):
    """A metric per output at every step t ≤ T, for regression heads and multi-output models.

    :func:`spkeras.evaluate` measures classification accuracy of one output; ``score`` decodes the spiking
    simulation with :func:`predict` (``every_step=True``) and applies a Keras metric (or any callable
    ``metric(y_true, y_pred) -> scalar``) to each output at each step, next to the source ANN's value.

    Args:
        snn: A converted model.
        x: Inputs, float array shaped like the model input.
        y: The targets: an array, or a list with one array per output of the source model.
        metrics: One metric (applied to every output) or a list with one per output: a Keras metric instance
            (e.g. ``keras.metrics.MeanSquaredError()``), a metric name Keras knows (``"mse"``), or a callable.
        timesteps: Number of steps T; by default the T the network was converted for.
        ann: The source ANN: its metric values go into the result under ``"ann"``.
        batch_size: Images simulated together.
        seed: Seed of the input encoding.

    Returns:
        A dict: ``"snn"`` → a list with, per output, the metric's value after each step (shape ``(T,)``), and
        ``"ann"`` → a list with the ANN's value per output (when ``ann`` is given).

    Examples:
        >>> import keras, numpy as np, spkeras
        >>> keras.utils.set_random_seed(0)
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
        ...                           keras.layers.Dense(1)])
        >>> x = np.random.default_rng(0).uniform(0, 1, (32, 4)).astype("float32")
        >>> snn = spkeras.convert(model, x, timesteps=64)
        >>> scores = spkeras.simulate.score(snn, x, model.predict(x, verbose=0), "mse", ann=model)
        >>> scores["snn"][0].shape, scores["ann"][0] == 0.0, bool(scores["snn"][0][-1] < scores["snn"][0][0])
        ((64,), True, True)
    """
    estimates = predict(snn, x, timesteps, every_step=True, batch_size=batch_size, seed=seed)
    estimates = estimates if isinstance(estimates, list) else [estimates]
    targets = list(y) if isinstance(y, (list, tuple)) else [y]
    if len(targets) != len(estimates):
        raise ValueError(
            f"`y` must hold one target array per output of '{snn.name}' ({len(estimates)}). "
            f"Received: {len(targets)} arrays. Pass a list with one array per output."
        )
    metric_list = list(metrics) if isinstance(metrics, (list, tuple)) else [metrics] * len(estimates)
    if len(metric_list) != len(estimates):
        raise ValueError(
            f"`metrics` must be one metric or one per output ({len(estimates)}). Received: {len(metric_list)}."
        )
    functions = [_metric_function(metric) for metric in metric_list]
    result = {
        "snn": [
            np.array([function(target, step) for step in steps])
            for function, target, steps in zip(functions, targets, estimates)
        ]
    }
    if ann is not None:
        outputs = ann.predict(x, batch_size=batch_size, verbose=0)
        outputs = outputs if isinstance(outputs, list) else [outputs]
        result["ann"] = [function(target, output) for function, target, output in zip(functions, targets, outputs)]
    return result


def _metric_function(metric):
    """``f(y_true, y_pred) -> float`` from a Keras metric, a metric name or a callable."""
    if isinstance(metric, str):
        metric = keras.metrics.get(metric)
    if isinstance(metric, keras.metrics.Metric):
        template = metric

        def stateful(y_true, y_pred):
            fresh = type(template).from_config(template.get_config())
            fresh.update_state(y_true, y_pred)
            return float(fresh.result())

        return stateful
    if callable(metric):
        return lambda y_true, y_pred: float(np.mean(np.asarray(metric(y_true, y_pred))))
    raise TypeError(
        f"A metric must be a keras.metrics.Metric, a metric name or a callable. Received: {metric!r}. "
        "Pass e.g. keras.metrics.MeanSquaredError() or 'mse'."
    )
