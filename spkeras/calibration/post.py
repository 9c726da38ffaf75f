"""Post-conversion calibration: tune a converted network for its number of time steps T.

After a method has set the thresholds, the network is tuned layer by layer in network order, on unlabeled
calibration images, against the BN-folded ANN (Li et al., ICML 2021, "A free lunch from ANN: towards efficient,
accurate spiking neural networks calibration"; their public SNN-calibration code was read for the procedure,
this is our own implementation):

- ``"threshold"``: per site (per channel for convolutional maps), λ is the candidate ``max·(1 − 0.01·i)``,
  i = 0..79, minimising the squared error between the ANN activation ``a`` and its T-level quantisation
  ``λ/T · clip(floor(a·T/λ + v_init), 0, T)`` (the rounding of the θ/2 initial potential when ``v_init=0.5``).
  Done on the ANN before the SNN is built (it changes the scales). On large feature maps the error is estimated
  from every k-th position (at most ``SEARCH_ROWS`` per batch).
- ``"bias"``: per channel, the bias current is shifted by ``θ·(E[r_ANN] − E[r_SNN])``, where ``r_ANN =
  clip(a/λ, 0, 1)`` is the rate the ANN asks for and ``r_SNN`` the measured firing rate over T steps (light
  pipeline).
- ``"potential"``: per neuron, the initial potential gets ``T·θ·(E[r_ANN] − E[r_SNN])`` averaged over the
  calibration images (advanced pipeline).
- ``"per_step"``: a per-step, per-channel bias found forward, step by step (FTBC, Wu et al., ECCV 2024; see
  :mod:`spkeras.calibration.temporal`).

Each SNN measurement simulates the partial network up to the layer being tuned (earlier layers already
calibrated) for exactly T steps, streaming the calibration data in batches. The calibrated quantities are
non-trainable weights of the neuron layers (``bias_current``, ``potential_offset``), so ``.keras`` files keep
them. A network calibrated for T may be simulated for another number of steps; its accuracy there may drop.
"""

from __future__ import annotations

import logging
import weakref

import keras
import numpy as np
import tensorflow as tf

from spkeras.batching import iterate_batches
from spkeras.progress import progress_bar

logger = logging.getLogger(__name__)

MODES = ("threshold", "bias", "potential", "per_step")
PIPELINES = {"light": ("threshold", "bias"), "advanced": ("threshold", "potential")}
SEARCH_CANDIDATES = 80
SEARCH_STEP = 0.01
_PARTIALS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # snn -> {layer name: network up to it}
SEARCH_ROWS = 4096  # positions per batch and site used by the threshold search


def resolve_modes(calibrate) -> tuple[str, ...]:
    """Returns the calibration modes to run, in their order of application.

    Args:
        calibrate: ``None`` (none), a mode (``"threshold"``, ``"bias"``, ``"potential"``, ``"per_step"``), a
            pipeline name (``"light"`` = threshold + bias, ``"advanced"`` = threshold + potential) or a list.

    Examples:
        >>> resolve_modes(("potential", "threshold"))
        ('threshold', 'potential')
        >>> resolve_modes("light")
        ('threshold', 'bias')
        >>> resolve_modes("thresholds")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: Unknown calibration mode 'thresholds'. Received: calibrate='thresholds'. Use None, ...
    """
    if calibrate is None or calibrate == "none":
        return ()
    requested = PIPELINES.get(calibrate, (calibrate,)) if isinstance(calibrate, str) else calibrate
    try:
        requested = list(requested)
    except TypeError:
        requested = [requested]
    unknown = [mode for mode in requested if not isinstance(mode, str) or mode not in MODES]
    if unknown or not requested:
        raise ValueError(
            f"Unknown calibration mode {unknown[0] if unknown else calibrate!r}. Received: calibrate={calibrate!r}. "
            f"Use None, one of {MODES}, a list of them, or a pipeline: {sorted(PIPELINES)}."
        )
    return tuple(mode for mode in MODES if mode in requested)


def _quantisation_error(activation, scales, timesteps: float, v_init: float):
    """Squared error per channel of ``activation`` (N, C) against its T-level quantisation for each λ in scales."""
    levels = tf.clip_by_value(tf.floor(activation[None] * timesteps / scales[:, None, :] + v_init), 0.0, timesteps)
    quantised = levels * scales[:, None, :] / timesteps
    return tf.reduce_sum(tf.square(activation[None] - quantised), axis=1)


def search_thresholds(
    model: keras.Model,
    site_layers: list,
    data,
    timesteps: int,
    v_init: float,
    per_channel: list[bool],
    bounds: list,
    batch_size: int = 100,
    verbose: bool = False,
    channel_maxima: list | None = None,
) -> list[np.ndarray]:
    """λ per site minimising the squared T-level quantisation error of the folded ANN's activations.

    Args:
        model: The BN-folded ANN.
        site_layers: Its ReLU layer of each neuron site.
        data: Calibration inputs (array or batched ``tf.data.Dataset``).
        timesteps: T the network is tuned for.
        v_init: Initial potential fraction of the neurons (0.5 rounds, 0 floors).
        per_channel: For each site, search one λ per channel (True) or one for the layer.
        bounds: Clip bound of each site (λ never exceeds it), or None.
        batch_size: Batch size for arrays.
        verbose: Show a progress bar.
        channel_maxima: The largest activation per channel of each site on ``data``, if already measured (e.g.
            ``SiteStatistics.channel_maximum``); otherwise one extra pass measures them.

    Returns:
        One λ per site (a float64 scalar or one value per channel).

    Examples:
        >>> inputs = keras.Input((1,))
        >>> relu = keras.layers.ReLU()
        >>> model = keras.Model(inputs, relu(inputs))
        >>> x = np.concatenate([np.full((99, 1), 2.0), [[10.0]]]).astype("float32")  # one outlier
        >>> (scale,) = search_thresholds(model, [relu], x, timesteps=4, v_init=0.5, per_channel=[False],
        ...                              bounds=[None])
        >>> round(float(scale), 2)  # below the outlier: the 99 values of 2.0 get a level close to them
        8.3
    """
    probe = keras.Model(model.inputs, [layer.output for layer in site_layers])
    fractions = tf.constant(1.0 - SEARCH_STEP * np.arange(SEARCH_CANDIDATES), tf.float32)
    steps = float(timesteps)

    @tf.function(reduce_retracing=True, autograph=False)
    def maxima_of(batch):
        outputs = probe(batch, training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return [tf.reduce_max(tf.reshape(out, [-1, tf.shape(out)[-1]]), axis=0) for out in outputs]

    channel_max = None if channel_maxima is None else [np.asarray(m) for m in channel_maxima]
    for batch in iterate_batches(data, batch_size) if channel_max is None else ():
        values = [value.numpy() for value in maxima_of(batch)]
        channel_max = values if channel_max is None else [np.maximum(a, b) for a, b in zip(channel_max, values)]
    if channel_max is None:
        raise ValueError("The calibration data is empty. Received: 0 samples. Pass at least one input sample.")
    tops = [
        np.maximum(m, 1e-12) if flag else np.full_like(m, max(m.max(), 1e-12))
        for m, flag in zip(channel_max, per_channel)
    ]
    candidates = [tf.constant(fractions.numpy()[:, None] * top[None, :], tf.float32) for top in tops]

    @tf.function(reduce_retracing=True, autograph=False)
    def errors_of(batch):
        outputs = probe(batch, training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        results = []
        for out, scales in zip(outputs, candidates):
            flat = tf.reshape(tf.cast(out, tf.float32), [-1, tf.shape(out)[-1]])
            # Large maps: every k-th position estimates the per-channel error (deterministic, ≤ SEARCH_ROWS rows).
            stride = tf.maximum(1, tf.shape(flat)[0] // SEARCH_ROWS)
            results.append(_quantisation_error(flat[::stride], scales, steps, v_init) * tf.cast(stride, tf.float32))
        return results

    totals = [np.zeros((SEARCH_CANDIDATES, len(top)), "float64") for top in tops]
    progress = progress_bar(len(data) if not isinstance(data, tf.data.Dataset) else 0, verbose, "image")
    seen = 0
    for batch in iterate_batches(data, batch_size):
        for total, error in zip(totals, errors_of(batch)):
            total += error.numpy()
        seen += int(batch.shape[0])
        progress.update(seen)
    scales = []
    for site, (total, flag, bound, top) in enumerate(zip(totals, per_channel, bounds, tops)):
        score = total if flag else total.sum(axis=1, keepdims=True)
        best = np.argmin(score, axis=0)
        chosen = (1.0 - SEARCH_STEP * best) * (top if flag else top[:1])
        chosen = chosen.astype("float64") if flag else np.float64(chosen[0])
        if bound is not None:
            chosen = np.minimum(chosen, bound)
        logger.info("threshold calibration: site %d λ in [%.4g, %.4g].", site, np.min(chosen), np.max(chosen))
        scales.append(chosen)
    return scales


def ann_target_rates(model: keras.Model, site_layers: list, scales: list, data, batch_size: int = 100) -> list:
    """Per site, the mean over the calibration images of the rate the ANN asks for, ``clip(a/λ, 0, 1)``, per neuron.

    Examples:
        >>> inputs = keras.Input((2,))
        >>> relu = keras.layers.ReLU()
        >>> model = keras.Model(inputs, relu(inputs))
        >>> ann_target_rates(model, [relu], [np.float64(2.0)], np.array([[1.0, 4.0], [0.0, -1.0]], "float32"))[0]
        array([0.25, 0.5 ])
    """
    probe = keras.Model(model.inputs, [layer.output for layer in site_layers])
    constants = [tf.constant(np.asarray(scale, "float32")) for scale in scales]

    @tf.function(reduce_retracing=True, autograph=False)
    def sums_of(batch):
        outputs = probe(batch, training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return [
            tf.reduce_sum(tf.clip_by_value(out / scale, 0.0, 1.0), axis=0) for out, scale in zip(outputs, constants)
        ]

    totals, count = None, 0
    for batch in iterate_batches(data, batch_size):
        values = [value.numpy().astype("float64") for value in sums_of(batch)]
        totals = values if totals is None else [a + b for a, b in zip(totals, values)]
        count += int(batch.shape[0])
    return [total / count for total in totals]


def measured_rates(snn: keras.Model, layer, data, timesteps: int, batch_size: int = 100) -> dict[str, np.ndarray]:
    """Mean firing rate per neuron over the calibration images of ``layer`` and of every spiking layer before it.

    The network is simulated for ``timesteps`` steps up to ``layer`` only.

    Returns:
        A dict from layer name to its rates (spikes per step, per neuron).
    """
    from spkeras.simulate import get_simulator

    partials = _PARTIALS.setdefault(snn, {})
    if layer.name not in partials:
        # One partial network per layer: its compiled simulator is then reused by every mode and measurement.
        partials[layer.name] = keras.Model(snn.inputs, layer.output)
    partial = partials[layer.name]
    simulator = get_simulator(partial, timesteps)
    totals, count = None, 0
    for index, batch in enumerate(iterate_batches(data, batch_size)):
        _, values = simulator.mean_values(batch, tf.constant([0, index], tf.int64))
        values = [tf.reduce_sum(value, axis=0).numpy().astype("float64") for value in values]
        totals = values if totals is None else [a + b for a, b in zip(totals, values)]
        count += int(batch.shape[0])
    rates = {}
    for name, total in zip(simulator.layer_names, totals):
        rate = total / count
        neuron = partial.get_layer(name)
        if neuron.spike_value == "threshold":
            rate = rate / np.asarray(keras.ops.convert_to_numpy(neuron.threshold), "float64")
        rates[name] = rate
    return rates


def calibrate_neurons(
    snn: keras.Model,
    neuron_layers: list,
    target_rates: list[np.ndarray],
    data,
    timesteps: int,
    modes: tuple[str, ...],
    batch_size: int = 100,
    verbose: bool = False,
) -> list[dict]:
    """Tunes the bias currents and/or initial potentials of ``neuron_layers``, one layer after the other.

    One simulation up to layer l measures both the effect of layer l−1's correction and layer l's error, so the
    cost is one partial simulation per layer and mode (plus one).

    Args:
        snn: The converted network (its neuron layers were built with ``calibrated_bias`` /
            ``calibrated_potential``).
        neuron_layers: The neuron layer of each site, in network order.
        target_rates: The ANN's rate per neuron of each site (:func:`ann_target_rates`).
        data: Calibration inputs.
        timesteps: T.
        modes: ``"bias"`` and/or ``"potential"``.
        batch_size: Batch size for arrays.
        verbose: Show a progress bar (one unit per layer).

    Returns:
        Per site, the mean absolute rate error against the ANN before and after its calibration.
    """
    steps = [mode for mode in ("bias", "potential") if mode in modes]
    if not steps:
        return []
    report = [{"layer": layer.name} for layer in neuron_layers]
    progress = progress_bar(len(neuron_layers), verbose, "layer")
    for position, (layer, target) in enumerate(zip(neuron_layers, target_rates)):
        threshold = np.asarray(keras.ops.convert_to_numpy(layer.threshold), "float64")
        for mode in steps:
            rates = measured_rates(snn, layer, data, timesteps, batch_size)
            if position and mode == steps[0]:
                previous = neuron_layers[position - 1]
                report[position - 1]["error_after"] = float(
                    np.mean(np.abs(target_rates[position - 1] - rates[previous.name]))
                )
            error = target - rates[layer.name]
            report[position].setdefault("error_before", float(np.mean(np.abs(error))))
            if mode == "bias":
                channel_error = error.reshape(-1, error.shape[-1]).mean(axis=0)
                layer.bias_current.assign(layer.bias_current.numpy() + (threshold * channel_error).astype("float32"))
            else:
                offset = float(timesteps) * threshold * error
                layer.potential_offset.assign(layer.potential_offset.numpy() + offset.astype("float32"))
        progress.update(position + 1)
    last = neuron_layers[-1]
    final = measured_rates(snn, last, data, timesteps, batch_size)[last.name]
    report[-1]["error_after"] = float(np.mean(np.abs(target_rates[-1] - final)))
    for entry in report:
        logger.info(
            "calibration of '%s': mean |rate error| %.4f -> %.4f.",
            entry["layer"],
            entry["error_before"],
            entry["error_after"],
        )
    return report
