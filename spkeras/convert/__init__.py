"""ANN → SNN conversion: validate, fold batch norms, calibrate, balance thresholds, build."""

from __future__ import annotations

import logging
import time

import keras
import numpy as np
import tensorflow as tf

from spkeras import io, methods, validation
from spkeras.calibration import collect_statistics, max_input_current
from spkeras.convert.batchnorm import fold_batchnorm
from spkeras.convert.build import build_folded_ann, build_model
from spkeras.convert.lower import layer_report, lower_model
from spkeras.convert.registry import UnsupportedLayerError, register_converter, supported_layer_names
from spkeras.convert.scaling import plan_snn
from spkeras.layers import NEURON_CLASSES
from spkeras.methods.base import CalibrationContext

logger = logging.getLogger(__name__)

MAX_POOLING_POLICIES = ("average", "error")

__all__ = [
    "UnsupportedLayerError",
    "convert",
    "fold_model",
    "layer_report",
    "register_converter",
    "supported_layer_names",
]


def fold_model(model: keras.Model, max_pooling: str = "average") -> keras.Model:
    """Returns a new ANN equal to ``model`` with every BatchNormalization folded into its Conv2D/Dense.

    Dropout and the output softmax are removed and ReLUs are explicit layers; the result computes the
    same logits as ``model`` (up to float rounding). The source model is not modified.

    Examples:
        >>> # folded = spkeras.convert.fold_model(cnn); np.allclose(folded(x), logits_of_cnn(x))
    """
    nodes = fold_batchnorm(lower_model(model, max_pooling=max_pooling))
    folded, _ = build_folded_ann(nodes, f"{model.name}_folded")
    return folded


def convert(
    model,
    x_calibration,
    method: str = "ecc",
    timesteps: int = 64,
    *,
    reset: str | None = None,
    v_init: float | None = None,
    spike_value: str | None = None,
    max_pooling: str = "average",
    batch_size: int = 100,
    strategy=None,
    verbose: bool = False,
    **method_options,
) -> keras.Model:
    """Converts a trained Keras CNN into a spiking neural network of integrate-and-fire neurons.

    Steps: every layer is checked against the converter registry (an unsupported layer is refused with its
    name, type and the reason); batch norms are folded with their own statistics and epsilon; activation
    statistics are collected in one streaming pass over ``x_calibration``; the method turns them into
    thresholds and weight scales; a new functional ``keras.Model`` of spiking layers is built. The source
    model is never modified.

    Args:
        model: A ``keras.Model`` (Sequential or functional) or the path of a ``.h5``/``.keras`` file.
        x_calibration: Calibration inputs scaled as for the ANN: a float NumPy array of shape
            ``(N,) + input_shape`` or a batched ``tf.data.Dataset``. A few hundred to a few thousand
            training images are typical.
        method: A registered method name: ``"ecc"`` (default), ``"robust"``, ``"max"``, ``"channelwise"``,
            ``"opi"``, ``"termapping"``, ``"augmapping"`` (see ``spkeras.methods.available_methods()``).
        timesteps: Number of time steps the network is meant to run; used by the closed-form forward pass
            of the returned model (``snn.predict``). Simulation may use any number of steps.
        reset: Override the method's reset mode (``"soft"`` or ``"hard"``).
        v_init: Override the method's initial potential (fraction of the threshold, in [0, 1)).
        spike_value: Override the spike parametrisation: ``"unit"`` (weights rescaled) or ``"threshold"``
            (weights unchanged, spikes carry θ).
        max_pooling: ``"average"`` replaces MaxPooling2D by AveragePooling2D with a warning;
            ``"error"`` refuses models with max pooling.
        batch_size: Calibration batch size for NumPy input (the global batch under a strategy).
        strategy: A ``tf.distribute.Strategy`` for the calibration pass; defaults to the active scope's.
        verbose: Show a progress bar during calibration.
        **method_options: Options of the method, e.g. ``percentile=99.9`` for ``"robust"``,
            ``amp_factor=100`` for ``"ecc"``.

    Returns:
        The spiking ``keras.Model``; its ``IntegrateAndFire`` layers hold thresholds as non-trainable weights.

    Raises:
        ValueError: For unsupported layers, bad data (wrong shape, NaN/inf, empty) or bad arguments.
        TypeError: For data of the wrong type or dtype.

    Examples:
        >>> import spkeras
        >>> cnn = spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH)
        >>> sample = spkeras.demo.load_sample()
        >>> snn = spkeras.convert(cnn, sample["x_calibration"][:100], method="ecc", timesteps=64)
        >>> [type(layer).__name__ for layer in snn.layers][:3]
        ['InputLayer', 'Conv2D', 'IntegrateAndFire']
    """
    started = time.perf_counter()
    model = io.load_model(model)
    timesteps = validation.check_timesteps(timesteps)
    batch_size = validation.check_batch_size(batch_size)
    if max_pooling not in MAX_POOLING_POLICIES:
        raise ValueError(f"`max_pooling` must be one of {MAX_POOLING_POLICIES}. Received: max_pooling={max_pooling!r}.")
    policy = methods.get_method(method)(**method_options)
    reset = policy.reset if reset is None else reset
    v_init = policy.v_init if v_init is None else v_init
    spike_value = policy.spike_value if spike_value is None else spike_value
    # Validates reset / v_init / spike_value with the layer's own messages before any work is done.
    NEURON_CLASSES[policy.neuron](
        threshold=1.0, reset=reset, v_init=v_init, spike_value=spike_value, timesteps=timesteps
    )

    nodes = fold_batchnorm(lower_model(model, max_pooling=max_pooling))
    if spike_value == "unit" and any(node.kind == "merge" for node in nodes):
        logger.info(
            "'%s' has Add/Concatenate layers: spikes carry their threshold (spike_value='threshold') so that "
            "merged tensors share the ANN's scale; the dynamics are those of the requested method.",
            model.name,
        )
        spike_value = "threshold"
    input_shape = tuple(model.inputs[0].shape[1:])
    x_calibration = validation.check_inputs(x_calibration, input_shape, "x_calibration")

    folded, folded_layers = build_folded_ann(nodes, f"{model.name}_folded")
    sites = [index for index, node in enumerate(nodes) if node.kind == "neuron"]
    statistics = collect_statistics(
        folded, [folded_layers[i] for i in sites], x_calibration, batch_size, verbose, strategy=strategy
    )
    settings = {
        "reset": reset,
        "v_init": v_init,
        "spike_value": spike_value,
        "gain": policy.gain,
        "weight_bits": policy.weight_bits,
        "neuron": NEURON_CLASSES[policy.neuron],
        "timesteps": timesteps,
    }

    def measure_currents(scales, site_position, calibration_timesteps, samples=None):
        """Max per-step input current (per channel, ANN units) of one site in the SNN built with ``scales``."""
        provisional = {
            index: _repair_scale(
                np.asarray(scales[k] if k < site_position else statistics[k].maximum, dtype="float64"),
                nodes[index].name,
                statistics[k].maximum,
            )
            for k, index in enumerate(sites)
        }
        trial = {**settings, "spike_value": "threshold", "gain": 1.0, "weight_bits": 0}
        snn, layers = _build_snn(nodes, provisional, trial, f"{model.name}_calibration")
        probe = keras.Model(snn.inputs, layers[sites[site_position]].input)
        data = x_calibration
        if samples is not None:
            data = data.take(-(-samples // batch_size)) if isinstance(data, tf.data.Dataset) else data[:samples]
        return max_input_current(probe, data, calibration_timesteps, batch_size)

    context = CalibrationContext(
        site_names=[nodes[i].name for i in sites],
        statistics=statistics,
        bounds=[nodes[i].bound for i in sites],
        ranks=[len(folded_layers[i].output.shape) for i in sites],
        measure_currents=measure_currents,
    )
    scales = policy.compute_scales(context)
    site_scales = {
        index: _repair_scale(np.asarray(scale, dtype="float64"), nodes[index].name, stats.maximum)
        for index, scale, stats in zip(sites, scales, statistics)
    }
    snn, _ = _build_snn(nodes, site_scales, settings, f"{model.name}_snn")
    logger.info(
        "Converted '%s' with %s (reset=%s, v_init=%s, spike_value=%s): %d spiking layers in %.2f s.",
        model.name,
        policy.describe(),
        reset,
        v_init,
        spike_value,
        len(sites),
        time.perf_counter() - started,
    )
    return snn


def _build_snn(nodes, site_scales, settings, name):
    weights, neurons, _ = plan_snn(
        nodes,
        site_scales,
        reset=settings["reset"],
        v_init=settings["v_init"],
        spike_value=settings["spike_value"],
        gain=settings["gain"],
        weight_bits=settings["weight_bits"],
    )

    def make_neuron(index, node, layer_name):
        parameters = neurons[index]
        return settings["neuron"](
            threshold=parameters.threshold,
            reset=parameters.reset,
            v_init=parameters.v_init,
            spike_value=parameters.spike_value,
            timesteps=settings["timesteps"],
            name=layer_name,
        )

    return build_model(nodes, name, make_neuron, lambda index, node: weights[index])


def _repair_scale(scale: np.ndarray, site: str, layer_maximum: float) -> np.ndarray:
    """Replaces non-positive scales (units that never fired on the calibration data) with a safe value."""
    if np.all(scale > 0) and np.all(np.isfinite(scale)):
        return scale
    fallback = layer_maximum if layer_maximum > 0 else 1.0
    if scale.ndim == 0 or not np.any(scale > 0):
        logger.warning(
            "Neuron site '%s' never activated on the calibration data; its threshold is set from %g. "
            "Use more (or more varied) calibration data.",
            site,
            fallback,
        )
        return np.full(scale.shape, fallback)
    logger.info("Neuron site '%s': %d silent channels get the layer's scale.", site, int(np.sum(scale <= 0)))
    return np.where(scale > 0, scale, fallback)
