"""``prepare_for_conversion``: a copy of a trained model with QCFS activations in place of its ReLUs."""

from __future__ import annotations

import logging

import keras
import numpy as np

from spkeras import graph, io, validation
from spkeras.calibration import collect_statistics
from spkeras.calibration.modes.threshold import search_thresholds
from spkeras.errors import UnsupportedLayerError
from spkeras.layers.qcfs import QuantizedClipFloorShift

logger = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 8.0  # the QCFS authors' initial λ when nothing is known about the activations
RELU_NAMES = ("relu", "relu6")


def _relu_bound(layer) -> tuple[bool, float | None]:
    """Whether ``layer`` is (or ends with) a ReLU, and its clip bound."""
    if isinstance(layer, keras.layers.ReLU):
        if layer.negative_slope or layer.threshold:
            raise UnsupportedLayerError(
                layer,
                "a leaky or shifted ReLU has no QCFS equivalent. Received: "
                f"negative_slope={layer.negative_slope}, threshold={layer.threshold}.",
            )
        return True, None if layer.max_value is None else float(layer.max_value)
    activation = getattr(layer, "activation", None)
    if activation is keras.activations.get("relu"):
        return True, None
    if activation is keras.activations.get("relu6"):
        return True, 6.0
    return False, None


def _clone(layer, drop_activation: bool):
    config = layer.get_config()
    if drop_activation:
        config["activation"] = "linear"
    return type(layer).from_config(config)


def prepare_for_conversion(
    model,
    levels: int = 4,
    x_calibration=None,
    *,
    per_channel: bool = False,
    percentile: float | None = None,
    batch_size: int = 100,
) -> keras.Model:
    """Returns a copy of ``model`` with every ReLU (and clipped ReLU) replaced by a QCFS activation.

    The copy keeps all weights and is ready for ``model.fit`` (see :func:`spkeras.finetune`); the source model is
    not modified. ReLUs given as layers, as ``Activation("relu")`` or as ``activation="relu"`` of a Conv2D/Dense
    are replaced. With ``x_calibration``, λ starts at the value minimising the squared error between the
    activations and their L-level QCFS quantisation (the threshold search of ``calibrate="threshold"``; per channel
    for convolutional maps with ``per_channel``), or at the ``percentile``-th percentile if one is given; without
    data, at a clipped ReLU's bound, else at 8.

    Args:
        model: A ``keras.Model`` or the path of a ``.h5``/``.keras`` file (any model ``spkeras.convert`` accepts).
        levels: L, the quantisation levels (the number of time steps the SNN is meant for).
        x_calibration: Optional training inputs to initialise λ.
        per_channel: One λ per channel.
        percentile: Initialise λ at this percentile of the positive activations (per channel: the maximum)
            instead of the quantisation-error search.
        batch_size: Batch size of the statistics pass.

    Returns:
        The new ``keras.Model`` (not compiled).

    Raises:
        UnsupportedLayerError: For activations without a QCFS equivalent (e.g. a leaky ReLU).

    Examples:
        >>> import spkeras
        >>> sample = spkeras.demo.load_sample()
        >>> cnn = spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH)
        >>> qcfs = prepare_for_conversion(cnn, levels=4, x_calibration=sample["x_calibration"][:100])
        >>> sorted({type(layer).__name__ for layer in qcfs.layers} & {"QuantizedClipFloorShift", "ReLU"})
        ['QuantizedClipFloorShift']
    """
    model = io.load_model(model)
    levels = validation.check_number("levels", levels, minimum=0, strictly=True, integer=True)
    percentile = None if percentile is None else validation.check_percentile(percentile)
    nodes = graph.model_graph(model)
    sites = {}
    problems = []
    for node in nodes[1:]:
        try:
            is_relu, bound = _relu_bound(node.layer)
        except UnsupportedLayerError as error:
            problems.append(error)
            continue
        if is_relu:
            sites[id(node.layer)] = bound
    if problems:
        raise UnsupportedLayerError.combine(problems, model.name)
    if not sites:
        raise ValueError(
            f"Model '{model.name}' has no ReLU to replace. Received: a model without ReLU activations. "
            "prepare_for_conversion replaces ReLU / relu6 activations with QCFS activations."
        )
    thresholds = _initial_thresholds(model, nodes, sites, x_calibration, levels, per_channel, percentile, batch_size)

    tensors = {0: keras.Input(shape=tuple(model.inputs[0].shape[1:]), name=nodes[0].layer.name)}
    for position, node in enumerate(nodes[1:], start=1):
        layer = node.layer
        arguments = [tensors[i] for i in node.inputs]
        value = arguments if len(arguments) > 1 else arguments[0]
        if id(layer) in sites and isinstance(layer, (keras.layers.ReLU, keras.layers.Activation)):
            tensors[position] = _qcfs(layer.name, levels, thresholds[id(layer)], per_channel)(value)
            continue
        clone = _clone(layer, drop_activation=id(layer) in sites)
        output = clone(value)
        clone.set_weights(layer.get_weights())
        if id(layer) in sites:
            output = _qcfs(f"{layer.name}_qcfs", levels, thresholds[id(layer)], per_channel)(output)
        tensors[position] = output
    prepared = keras.Model(tensors[0], tensors[len(nodes) - 1], name=f"{model.name}_qcfs")
    logger.info("Replaced %d ReLU activations of '%s' by QCFS (L=%d).", len(sites), model.name, levels)
    return prepared


def _qcfs(name, levels, threshold, per_channel):
    return QuantizedClipFloorShift(levels=levels, threshold=threshold, per_channel=per_channel, name=name)


def _initial_thresholds(model, nodes, sites, data, levels, per_channel, percentile, batch_size) -> dict:
    """λ per site: from the activation statistics of ``data``, else the clip bound, else the default."""
    layers = [node.layer for node in nodes[1:] if id(node.layer) in sites]
    if data is None:
        for layer in layers:
            if sites[id(layer)] is None:
                logger.info("QCFS '%s': no calibration data; λ starts at %g.", layer.name, DEFAULT_THRESHOLD)
        return {id(layer): sites[id(layer)] or DEFAULT_THRESHOLD for layer in layers}
    data = validation.check_inputs(data, tuple(model.inputs[0].shape[1:]), "x_calibration")
    batch_size = validation.check_batch_size(batch_size)
    if percentile is None:  # λ minimising the squared L-level quantisation error of the activations
        ranks = [per_channel and len(layer.output.shape) > 2 for layer in layers]
        bounds = [sites[id(layer)] for layer in layers]
        scales = search_thresholds(model, layers, data, levels, 0.5, ranks, bounds, batch_size)
        return {id(layer): np.asarray(scale).tolist() for layer, scale in zip(layers, scales)}
    statistics = collect_statistics(model, layers, data, batch_size)
    thresholds = {}
    for layer, stats in zip(layers, statistics):
        if per_channel:
            value = np.where(stats.channel_maximum > 0, stats.channel_maximum, max(stats.maximum, 1e-3))
            value = [float(v) for v in value]
        else:
            value = stats.percentile(percentile) if stats.positive_count else DEFAULT_THRESHOLD
        bound = sites[id(layer)]
        thresholds[id(layer)] = np.minimum(value, bound).tolist() if bound is not None else value
    return thresholds
