"""Mode ``"per_step"``: per-step biases, forward temporal bias correction (FTBC; Wu et al., ECCV 2024).

Each neuron layer gets a per-step, per-channel bias ``b_t`` (weight ``step_bias``), found forward: layer by layer
in network order (earlier layers already calibrated) and, within a layer, step by step. At step t the layer is
charged with its input current plus ``b_t``; the per-channel mean deviation of that step's firing rate from the
rate the ANN asks for, ``d_t = E[r_t] − E[clip(a/λ, 0, 1)]``, gives the correction ``−α·θ·d_t``, which is added to
``b_t`` and applied to the step before moving on (the replay), so that later steps see the corrected membrane.
Corrections accumulate over the calibration batches (α = 0.5 as in the authors' public code, which was read for
the procedure; this is our own implementation on :meth:`~spkeras.layers.IntegrateAndFire.step`). Each layer's input
currents are simulated from the stored spike trains of the layers before it (:mod:`.frontier`), so the cost is
about two simulations of the calibration set whatever the depth (the result is that of simulating the partial
network up to each layer).
"""

from __future__ import annotations

import logging

import keras
import numpy as np
import tensorflow as tf

from spkeras.batching import iterate_batches
from spkeras.calibration.modes.frontier import Frontier
from spkeras.calibration.modes.registry import CalibrationMode, CalibrationRun, register_mode
from spkeras.progress import progress_bar

logger = logging.getLogger(__name__)

ALPHA = 0.5
BATCH_SIZE = 25  # the input current of one layer is held for all T steps of a batch


def _step_corrections(layer, timesteps: int, alpha: float):
    """A compiled ``corrections(currents (T, B, ...), target (C,)) -> (T, C)`` for one layer."""
    spike_threshold = layer.spike_value == "threshold"

    @tf.function(reduce_retracing=True, autograph=False)
    def corrections(currents, target):
        batch = tf.shape(currents)[1]
        state = layer.initial_state(batch)
        threshold = tf.cast(layer.threshold, tf.float32)
        rows = []
        for step in range(timesteps):
            drive = layer.input_current(currents[step], step)
            output, _, _ = layer.step(drive, state)
            rate = output / threshold if spike_threshold else output
            deviation = tf.reduce_mean(tf.reshape(rate, [-1, tf.shape(rate)[-1]]), axis=0) - target
            correction = -alpha * threshold * deviation
            _, state, _ = layer.step(drive + correction, state)
            rows.append(correction)
        return tf.stack(rows)

    return corrections


def calibrate_steps(
    snn: keras.Model,
    neuron_layers: list,
    ann: keras.Model,
    site_layers: list,
    scales: list,
    data,
    timesteps: int,
    alpha: float = ALPHA,
    verbose: bool = False,
) -> None:
    """Sets the per-step biases (weight ``step_bias``) of ``neuron_layers`` in place.

    Args:
        snn: The converted network.
        neuron_layers: The neuron layer of each site, in network order.
        ann: The BN-folded ANN.
        site_layers: Its ReLU layer of each site (same order).
        scales: λ of each site (scalar or per channel).
        data: Calibration inputs (array or batched ``tf.data.Dataset``).
        timesteps: T (the number of per-step biases).
        alpha: Weight of each correction.
        verbose: Show a progress bar (one unit per layer).
    """
    progress = progress_bar(len(neuron_layers), verbose, "layer", "calibration per_step")
    # Each layer's input currents are simulated from the stored spikes of the layers before it (O(depth)).
    # The data are read once: the same batches feed the ANN targets and the spiking layers (shuffling datasets too).
    batches = list(iterate_batches(data, BATCH_SIZE))
    frontier = Frontier(snn, neuron_layers, batches, timesteps, BATCH_SIZE)
    for position, (layer, relu, scale) in enumerate(zip(neuron_layers, site_layers, scales)):
        held = int(layer.step_bias.shape[0])
        if held != timesteps:
            raise ValueError(
                f"Layer '{layer.name}' holds {held} per-step biases but {timesteps} steps are "
                "calibrated. Received: a network built for another T. Convert with calibrate='per_step' for this T."
            )
        activation = keras.Model(ann.inputs, relu.output)
        scale = tf.constant(np.asarray(scale, "float32"))
        corrections = _step_corrections(layer, timesteps, alpha)
        for batch, currents in zip(batches, frontier.currents(layer)):
            rates = tf.clip_by_value(activation(batch, training=False) / scale, 0.0, 1.0)
            target = tf.reduce_mean(tf.reshape(rates, [-1, tf.shape(rates)[-1]]), axis=0)
            layer.step_bias.assign_add(corrections(currents, target))
        if position + 1 < len(neuron_layers):
            frontier.advance(layer)  # its spikes with the final per-step biases, for the layers after it
        logger.info(
            "per-step calibration of '%s': |b_t| mean %.4g.",
            layer.name,
            float(np.mean(np.abs(layer.step_bias.numpy()))),
        )
        progress.update(position + 1)


class PerStepMode(CalibrationMode):
    """A per-step, per-channel bias for each of the T steps, found forward (FTBC)."""

    name = "per_step"
    order = 3
    neuron_weights = {"step_bias": "step_current"}
    temporal = True
    tunes_network = True
    description = "per-step, per-channel biases found forward step by step (FTBC, Wu et al. 2024)"

    def tune_network(self, run: CalibrationRun, modes) -> None:
        calibrate_steps(
            run.snn, run.neurons, run.folded, run.site_layers, run.scales, run.data, run.timesteps, verbose=run.verbose
        )


register_mode(PerStepMode())
