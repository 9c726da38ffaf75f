"""Rate-matching calibration: the shared driver of the modes that correct each neuron's firing rate.

After a method has set the thresholds, the network is tuned layer by layer in network order, on unlabeled
calibration images, against the BN-folded ANN (Li et al., ICML 2021; their public SNN-calibration code was read
for the procedure, this is our own implementation). Each layer is simulated for exactly T steps from the stored
spike trains of the (already calibrated) layers it reads (:mod:`.frontier`: O(depth), the same numbers as
simulating the partial network up to it, :func:`measured_rates`), streaming the calibration data in batches,
and the error between the rate the ANN asks for, ``r_ANN = clip(a/λ, 0, 1)``, and the measured rate ``r_SNN``
is handed to each requested :class:`RateMode`, which turns it into a correction of its own weight (see
:mod:`.bias` and :mod:`.potential`). The calibrated quantities are non-trainable weights of the neuron layers,
so ``.keras`` files keep them. A network calibrated for T may be simulated for another number of steps; its
accuracy may drop.
"""

from __future__ import annotations

import logging
import weakref

import keras
import numpy as np
import tensorflow as tf

from spkeras.batching import iterate_batches
from spkeras.calibration.modes.frontier import Frontier
from spkeras.calibration.modes.registry import CalibrationMode, CalibrationRun
from spkeras.progress import progress_bar
from spkeras.simulate import get_simulator

logger = logging.getLogger(__name__)

_PARTIALS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # snn -> {layer name: network up to it}


class RateMode(CalibrationMode):
    """A mode that corrects one weight of each neuron layer from its rate error against the ANN.

    Subclasses set the usual class attributes and implement :meth:`correct`. All requested rate modes run
    together, layer by layer: for each layer, each mode (in order) measures the rates and applies its correction.
    """

    tunes_network = True

    def correct(self, layer, error: np.ndarray, threshold: np.ndarray, timesteps: int) -> None:
        """Updates this mode's weight of ``layer`` from ``error = r_ANN − r_SNN`` (per neuron)."""
        raise NotImplementedError

    def tune_network(self, run: CalibrationRun, modes) -> None:
        rate_modes = [mode for mode in modes if isinstance(mode, RateMode)]
        if rate_modes[0] is not self:
            return  # the first rate mode ran all of them
        targets = ann_target_rates(run.folded, run.site_layers, run.scales, run.data, run.batch_size)
        calibrate_neurons(
            run.snn, run.neurons, targets, run.data, run.timesteps, rate_modes, run.batch_size, run.verbose
        )


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

    The network is simulated for ``timesteps`` steps up to ``layer`` only (the reference measurement; calibration
    itself simulates each layer alone from stored spikes, :class:`~spkeras.calibration.modes.frontier.Frontier`).

    Returns:
        A dict from layer name to its rates (spikes per step, per neuron).
    """
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
            rate = rate / np.asarray(neuron.threshold.numpy(), "float64")
        rates[name] = rate
    return rates


def calibrate_neurons(
    snn: keras.Model,
    neuron_layers: list,
    target_rates: list[np.ndarray],
    data,
    timesteps: int,
    modes,
    batch_size: int = 100,
    verbose: bool = False,
) -> list[dict]:
    """Tunes the bias currents and/or initial potentials of ``neuron_layers``, one layer after the other.

    Each layer is simulated alone, from the stored spike trains of the (already calibrated) layers it reads
    (:class:`~spkeras.calibration.modes.frontier.Frontier`): once per mode to measure its error before that
    mode's correction, and once more to measure the corrected rates and store its spikes for the layers after
    it. So the cost is (modes + 1) simulations of the calibration set, whatever the depth, and the results are
    those of simulating the partial network up to each layer (:func:`measured_rates`).

    Args:
        snn: The converted network (its neuron layers were built with the modes' calibration weights).
        neuron_layers: The neuron layer of each site, in network order.
        target_rates: The ANN's rate per neuron of each site (:func:`ann_target_rates`).
        data: Calibration inputs.
        timesteps: T.
        modes: The :class:`RateMode` objects to apply, in order.
        batch_size: Batch size for arrays.
        verbose: Show a progress bar (one unit per layer).

    Returns:
        Per site, the mean absolute rate error against the ANN before and after its calibration.
    """
    steps = list(modes)
    if not steps:
        return []
    report = [{"layer": layer.name} for layer in neuron_layers]
    frontier = Frontier(snn, neuron_layers, data, timesteps, batch_size)
    progress = progress_bar(
        len(neuron_layers), verbose, "layer", f"calibration {'+'.join(mode.name for mode in steps)}"
    )
    for position, (layer, target) in enumerate(zip(neuron_layers, target_rates)):
        threshold = np.asarray(layer.threshold.numpy(), "float64")
        for mode in steps:
            error = target - frontier.rates(layer)
            report[position].setdefault("error_before", float(np.mean(np.abs(error))))
            mode.correct(layer, error, threshold, timesteps)
        report[position]["error_after"] = float(np.mean(np.abs(target - frontier.advance(layer))))
        progress.update(position + 1)
    for entry in report:
        logger.info(
            "calibration of '%s': mean |rate error| %.4f -> %.4f.",
            entry["layer"],
            entry["error_before"],
            entry["error_after"],
        )
    return report
