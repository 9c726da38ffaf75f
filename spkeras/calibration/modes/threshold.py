"""Mode ``"threshold"``: λ per site minimising the T-level quantisation error of the folded ANN's activations.

Li et al., ICML 2021 ("A free lunch from ANN: towards efficient, accurate spiking neural networks calibration");
their public SNN-calibration code was read for the procedure, this is our own implementation. Per site (per
channel for convolutional maps), λ is the candidate ``max·(1 − 0.01·i)``, i = 0..79, minimising the squared error
between the ANN activation ``a`` and its T-level quantisation ``λ/T · clip(floor(a·T/λ + v_init), 0, T)`` (the
rounding of the θ/2 initial potential when ``v_init=0.5``). Done on the ANN before the SNN is built (it changes
the scales). On large feature maps the error is estimated from every k-th position (at most ``SEARCH_ROWS`` per
batch).
"""

from __future__ import annotations

import logging

import keras
import numpy as np
import tensorflow as tf

from spkeras.batching import iterate_batches
from spkeras.calibration.modes.registry import CalibrationMode, CalibrationRun, register_mode
from spkeras.progress import progress_bar

logger = logging.getLogger(__name__)

SEARCH_CANDIDATES = 80
SEARCH_STEP = 0.01
SEARCH_ROWS = 4096  # positions per batch and site used by the threshold search


@tf.function(jit_compile=True, autograph=False, reduce_retracing=True)
def _squared_errors(activation, scales, timesteps, v_init):
    """``(candidates, N, C)`` squared errors of ``activation`` (N, C) against its T-level quantisation per λ.

    Compiled with XLA, which fuses the elementwise passes into one (about 3× faster on CPU). Only elementwise
    operations run here, which XLA evaluates exactly as TensorFlow does (no reassociation without fast-math), so
    the errors are bit for bit the same; the sum over positions stays in :func:`_quantisation_error`, outside
    XLA, because XLA may sum in another order.
    """
    levels = tf.clip_by_value(tf.floor(activation[None] * timesteps / scales[:, None, :] + v_init), 0.0, timesteps)
    return tf.square(activation[None] - levels * scales[:, None, :] / timesteps)


def _quantisation_error(activation, scales, timesteps: float, v_init: float):
    """Squared error per channel of ``activation`` (N, C) against its T-level quantisation for each λ in scales."""
    constants = tf.constant(timesteps, tf.float32), tf.constant(v_init, tf.float32)
    return tf.reduce_sum(_squared_errors(activation, scales, *constants), axis=1)


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
    # A channel that never activated on the calibration data gets the layer's λ, not a vanishing one: with
    # λ ≈ 0 any positive input on other data would fire it at every step (and an augmented neuron's event would
    # carry a coefficient of about input/λ, e.g. 10⁹ spikes).
    tops = [
        np.where(m > 1e-12, m, max(m.max(), 1e-12)) if flag else np.full_like(m, max(m.max(), 1e-12))
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
    progress = progress_bar(
        len(data) if not isinstance(data, tf.data.Dataset) else 0, verbose, "image", "calibration threshold"
    )
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


class ThresholdMode(CalibrationMode):
    """Tunes λ per site (and per channel on convolutional maps) for T before the network is built."""

    name = "threshold"
    order = 0
    description = "λ per site minimising the T-level quantisation error of the ANN activations (Li et al. 2021)"

    def tune_scales(self, run: CalibrationRun, scales: list) -> list:
        return search_thresholds(
            run.folded,
            run.site_layers,
            run.data,
            run.timesteps,
            run.v_init,
            run.per_channel,
            run.bounds,
            run.batch_size,
            run.verbose,
            channel_maxima=run.channel_maxima,
        )


register_mode(ThresholdMode())
