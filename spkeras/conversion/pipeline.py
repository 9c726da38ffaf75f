"""The conversion pipeline, one way: lower → fold → statistics → method → build.

``lower_model`` checks every layer against the converter registry and produces the IR; batch norms are folded;
one streaming pass collects activation statistics of the folded ANN; the method turns them into per-site
scales (measuring provisional SNNs through a :class:`~spkeras.conversion.probe.Probe` if it needs to); the
spiking network is built once, from the scales, the method's neuron settings and its weight transform.
"""

from __future__ import annotations

import logging
import time

import keras
import numpy as np

from spkeras import graph, io, methods, validation
from spkeras.calibration import collect_statistics
from spkeras.calibration import modes as calibration_modes
from spkeras.calibration.statistics import input_range
from spkeras.conversion.batchnorm import fold_batchnorm
from spkeras.conversion.build import build_folded_ann
from spkeras.conversion.lower import lower_model, output_heads
from spkeras.conversion.probe import Probe
from spkeras.layers.readout import Readout
from spkeras.methods.base import CalibrationContext

logger = logging.getLogger(__name__)

MAX_POOLING_POLICIES = ("average", "spiking", "error")


def fold_model(model: keras.Model, max_pooling: str = "spiking") -> keras.Model:
    """Returns a new ANN equal to ``model`` with every BatchNormalization folded into its Conv2D/Dense.

    Dropout and the output softmax are removed and ReLUs are explicit layers; the result computes the
    same logits as ``model`` (up to float rounding). The source model is not modified.

    Examples:
        >>> import numpy as np, spkeras
        >>> cnn = spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH)
        >>> x = spkeras.demo.load_sample()["x_test"][:8]
        >>> folded = fold_model(cnn)
        >>> bool(np.all(folded.predict(x, verbose=0).argmax(-1) == cnn.predict(x, verbose=0).argmax(-1)))
        True
        >>> folded.layers[-1].get_config()["activation"]  # the softmax is gone: logits out
        'linear'
    """
    model = io.load_model(model)
    validation.check_choice("max_pooling", max_pooling, MAX_POOLING_POLICIES)
    nodes = fold_batchnorm(lower_model(model, max_pooling=max_pooling))
    folded, _ = build_folded_ann(nodes, f"{model.name}_folded")
    return folded


def convert(
    model,
    x_calibration,
    method: str | None = None,
    timesteps: int = 64,
    *,
    reset: str | None = None,
    v_init: float | None = None,
    spike_value: str | None = None,
    max_pooling: str = "spiking",
    calibrate=None,
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
            training images are typical. ``None`` is allowed for methods that need no statistics (``"qcfs"``,
            or ``"opi"`` when every ReLU is clipped).
        method: A registered method name: ``"ecc"``, ``"robust"``, ``"max"``, ``"channelwise"``, ``"opi"``,
            ``"qcfs"``, ``"termapping"``, ``"augmapping"`` (see ``spkeras.methods.available_methods()``).
            Default: ``"qcfs"`` for models prepared with :func:`spkeras.prepare_for_conversion`, else ``"ecc"``
            with ``percentile=99.9`` (:data:`DEFAULT_METHOD_OPTIONS`; λ at the 99.9th percentile of each
            layer's activations instead of the paper's maximum, which leaves most neurons of well-trained,
            heavy-tailed networks nearly silent; ``method="ecc"`` alone is the paper's method).
        timesteps: Number of time steps the network is meant to run; used by the closed-form forward pass
            of the returned model (``snn.predict``). Simulation may use any number of steps.
        reset: Override the method's reset mode (``"soft"`` or ``"hard"``).
        v_init: Override the method's initial potential (fraction of the threshold, in [0, 1)).
        spike_value: Override the spike parametrisation: ``"unit"`` (weights rescaled) or ``"threshold"``
            (weights unchanged, spikes carry θ).
        max_pooling: How MaxPooling2D/MaxPooling1D is converted: ``"spiking"`` (default) keeps max pooling as a
            gated spiking max pooling (:class:`~spkeras.layers.SpikingMaxPooling2D`: the increase of each window's
            largest accumulated input passes); ``"average"`` replaces it by average pooling with a warning (the
            network changes; on a trained CIFAR-10 VGG it cost 40 pp, see benchmarks/max_pooling.py); ``"error"``
            refuses models with max pooling.
        batch_size: Calibration batch size for NumPy input (the global batch under a strategy).
        calibrate: Post-conversion calibration for ``timesteps`` (see :mod:`spkeras.calibration.modes`): None
            (default), a mode (``"threshold"``, ``"bias"``, ``"potential"``, ``"per_step"``: FTBC per-step
            biases), a list of them, or a pipeline name (``"light"`` = threshold + bias, ``"advanced"`` =
            threshold + potential); ``spkeras.calibration.modes.available_modes()`` lists the registered modes.
            Calibrated quantities are non-trainable weights of the neuron layers; simulating for another T is
            allowed (accuracy may drop).
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
    validation.check_choice("max_pooling", max_pooling, MAX_POOLING_POLICIES)
    modes = calibration_modes.resolve_modes(calibrate)
    nodes = fold_batchnorm(lower_model(model, max_pooling=max_pooling))
    if method is None:
        method = default_method(nodes)
        method_options = {**DEFAULT_METHOD_OPTIONS.get(method, {}), **method_options}
    policy = methods.get_method(method)(**method_options)
    # Bad reset / v_init / spike_value fail here with the layer's own messages, before any work is done.
    settings = policy.neuron_settings(timesteps, reset=reset, v_init=v_init, spike_value=spike_value).validate()
    settings = _spike_value_for(nodes, settings, explicit=spike_value is not None, model_name=model.name)
    _check_finite_weights(nodes, model.name)
    sites = [index for index, node in enumerate(nodes) if node.kind == "neuron"]
    bounds = [nodes[i].bound for i in sites]
    if x_calibration is None and (policy.needs_data(bounds) or modes):
        raise ValueError(
            f"Method '{policy.name}'{' with calibrate=' + repr(calibrate) if modes else ''} needs calibration data. "
            "Received: x_calibration=None. Pass a few hundred training images scaled as for the ANN."
        )
    if x_calibration is not None:
        x_calibration = validation.check_inputs(x_calibration, tuple(model.inputs[0].shape[1:]), "x_calibration")

    if x_calibration is not None:  # stored on the neurons: simulations warn on inputs far outside it (x / 255)
        bounds_in = input_range(x_calibration, batch_size, strategy)
        settings = settings.replace(options={**settings.options, "calibration_range": list(bounds_in)})
    folded, folded_layers = build_folded_ann(nodes, f"{model.name}_folded")
    if x_calibration is None:
        statistics = [None] * len(sites)
        maxima = [float(np.max(bound)) for bound in bounds]
    else:
        statistics = collect_statistics(
            folded, [folded_layers[i] for i in sites], x_calibration, batch_size, verbose, strategy=strategy
        )
        maxima = [stats.maximum for stats in statistics]
    probe = Probe(nodes, sites, maxima, settings, x_calibration, batch_size, model.name)
    context = CalibrationContext(
        site_names=[nodes[i].name for i in sites],
        statistics=statistics,
        bounds=bounds,
        ranks=[len(folded_layers[i].output.shape) for i in sites],
        probe=probe,
    )
    scales = policy.compute_scales(context)
    if len(scales) != len(sites):
        raise ValueError(
            f"Method '{policy.name}' returned {len(scales)} scales for {len(sites)} neuron sites. "
            f"Received: {len(scales)} scales. compute_scales() must return one λ per site, in network order."
        )
    run = calibration_modes.CalibrationRun(
        folded=folded,
        site_layers=[folded_layers[i] for i in sites],
        data=x_calibration,
        timesteps=timesteps,
        v_init=settings.v_init,
        per_channel=[len(folded_layers[i].output.shape) > 2 for i in sites],
        bounds=context.bounds,
        batch_size=batch_size,
        verbose=verbose,
        channel_maxima=[stats.channel_maximum for stats in statistics] if x_calibration is not None else None,
    )
    scales = calibration_modes.tune_scales(modes, run, scales)
    weights = calibration_modes.neuron_weights(modes)
    if weights:
        settings = settings.replace(options={**settings.options, "calibration_weights": weights})
    with np.errstate(over="ignore", invalid="ignore"):  # overflowing weights are refused below, by name
        snn, layers = probe.build(scales, settings, policy.weight_transform(), f"{model.name}_snn")
    if any(mode.tunes_network for mode in modes):
        lambdas = probe.site_scales(scales)
        run.snn, run.neurons, run.scales = snn, [layers[i] for i in sites], [lambdas[i] for i in sites]
        calibration_modes.tune_network(modes, run)
    heads = output_heads(model)  # the decoded output gets the source's output activation(s) (spkeras.predict)
    if len(heads) > 1 or heads[0][0] != "linear":
        readout = Readout(heads[0][0], heads=heads if len(heads) > 1 else None, name="readout")
        snn = keras.Model(snn.inputs, readout(snn.outputs[0]), name=snn.name)
    bad = [layer.name for layer in snn.layers if any(not np.all(np.isfinite(w)) for w in layer.get_weights())]
    if bad:
        raise ValueError(
            f"Converting '{model.name}' gave non-finite weights or thresholds in {', '.join(bad)}. Received: "
            "calibration data whose activations overflow float32 (or a method returning non-finite scales). "
            "Scale the inputs as the ANN was trained (e.g. x / 255)."
        )
    logger.info(
        "Converted '%s' with %s (reset=%s, v_init=%s, spike_value=%s, calibrate=%s): %d spiking layers in %.2f s.",
        model.name,
        policy.describe(),
        settings.reset,
        settings.v_init,
        settings.spike_value,
        tuple(mode.name for mode in modes) or None,
        len(sites),
        time.perf_counter() - started,
    )
    return snn


# Options of the default method when ``convert`` picks it (method=None). λ = max (the ECC paper) lost 14 pp on a
# trained CIFAR ResNet-8 and 6 pp on a public 91 % ResNet-20 at T = 64, where the 99.9th percentile lost 2.1 and
# 0.1 pp, and was better or within one test image on the other benchmark networks and public .h5 files
# (docs/methods/ecc.md, "The default threshold").
DEFAULT_METHOD_OPTIONS = {"ecc": {"percentile": 99.9}}


def default_method(model_or_nodes) -> str:
    """The method ``convert`` uses when none is given: the one a layer asks for, else ``"ecc"``.

    A layer class asks for a method with the class attribute ``preferred_conversion_method`` (e.g. the QCFS
    activation asks for ``"qcfs"``); the first such layer in network order decides.

    Args:
        model_or_nodes: A model (or its path), or its lowered IR nodes.

    Examples:
        >>> import spkeras
        >>> default_method(spkeras.demo.DEMO_MODEL_PATH)
        'ecc'
    """
    if isinstance(model_or_nodes, list):
        layers = [node.source for node in model_or_nodes]
    else:  # the graph only: no converter runs (no warnings or logs twice)
        layers = [node.layer for node in graph.model_graph(io.load_model(model_or_nodes))]
    preferred = [getattr(layer, "preferred_conversion_method", None) for layer in layers]
    return next((name for name in preferred if isinstance(name, str)), "ecc")


def _spike_value_for(nodes, settings, explicit: bool, model_name: str):
    """Models with Add/Concatenate need spikes that carry θ, so that merged tensors share the ANN's scale."""
    if settings.spike_value != "unit" or not any(node.kind == "merge" for node in nodes):
        return settings
    merges = [node.name for node in nodes if node.kind == "merge"]
    if explicit:
        raise ValueError(
            f"Model '{model_name}' merges tensors ({', '.join(merges)}), which is exact only when spikes carry "
            "their threshold. Received: spike_value='unit'. Pass spike_value='threshold' (or leave it unset)."
        )
    logger.info(
        "'%s' has Add/Concatenate layers: spikes carry their threshold (spike_value='threshold') so that "
        "merged tensors share the ANN's scale; the dynamics are those of the requested method.",
        model_name,
    )
    return settings.replace(spike_value="threshold")


def _check_finite_weights(nodes, model_name: str) -> None:
    """Refuses source weights with NaN or infinity (the converted network would hold them)."""
    for node in nodes:
        for field in ("kernel", "bias", "scale", "offset"):
            values = getattr(node, field, None)
            if values is not None and not np.all(np.isfinite(values)):
                count = int(np.size(values) - np.count_nonzero(np.isfinite(values)))
                raise ValueError(
                    f"Layer '{node.name}' of model '{model_name}' has {count} NaN or infinite weights. Received: "
                    f"non-finite values in its {field} (after folding batch norms). Retrain or repair the model."
                )
