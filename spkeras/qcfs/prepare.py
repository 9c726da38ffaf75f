"""``prepare_for_conversion``: a copy of a trained model with QCFS activations in place of its ReLUs.

Hidden activations without a spiking equivalent (ELU, SELU, leaky/parametric ReLU, GELU, swish/SiLU, hard swish,
hard sigmoid, tanh, sigmoid, mish, softplus, softsign) are replaced by the QCFS activation too: the copy then
differs from the source until it is fine-tuned (:func:`spkeras.finetune` or ``model.fit``), which recovers the
accuracy; a warning says so. The model's output activation is kept (the readout).
"""

from __future__ import annotations

import functools
import logging
import warnings

import keras
import numpy as np

from spkeras import graph, io, validation
from spkeras.calibration import collect_statistics
from spkeras.calibration.modes.threshold import search_thresholds
from spkeras.layers.qcfs import QuantizedClipFloorShift

logger = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 8.0  # the QCFS authors' initial λ when nothing is known about the activations
RELU_NAMES = ("relu", "relu6")
# Activation functions (by Keras name) that have no spiking equivalent and become QCFS in a hidden layer.
REPLACED_ACTIVATIONS = (
    "elu",
    "selu",
    "celu",
    "gelu",
    "silu",
    "hard_silu",
    "hard_sigmoid",
    "tanh",
    "sigmoid",
    "leaky_relu",
    "mish",
    "softplus",
    "softsign",
)
# Activation layers replaced as a whole (ReLU with a negative slope or a shift is one too).
ACTIVATION_LAYERS = (
    keras.layers.ReLU,
    keras.layers.Activation,
    keras.layers.ELU,
    keras.layers.LeakyReLU,
    keras.layers.PReLU,
)


@functools.cache
def _replaced_functions() -> dict:
    """The Keras activation functions of :data:`REPLACED_ACTIVATIONS` known to this Keras version → name."""
    found = {}
    for name in REPLACED_ACTIVATIONS:
        try:
            found[keras.activations.get(name)] = name
        except ValueError:  # not in this Keras version
            continue
    return found


def _site(layer, is_output: bool) -> tuple[str | None, float | None]:
    """What ``layer``'s activation becomes: ``("relu", bound)`` for a ReLU (QCFS keeps its clip bound),
    ``("replaced", None)`` for a hidden activation without a spiking equivalent, else ``(None, None)``."""
    if isinstance(layer, keras.layers.ReLU):
        if not (layer.negative_slope or layer.threshold):
            return "relu", None if layer.max_value is None else float(layer.max_value)
        return (None, None) if is_output else ("replaced", None)
    if isinstance(layer, (keras.layers.ELU, keras.layers.LeakyReLU, keras.layers.PReLU)):
        return (None, None) if is_output else ("replaced", None)
    activation = getattr(layer, "activation", None)
    if activation is keras.activations.get("relu"):
        return "relu", None
    if activation is keras.activations.get("relu6"):
        return "relu", 6.0
    if activation in _replaced_functions() and not is_output:
        return "replaced", None
    return None, None


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
    are replaced. Hidden activations that have no spiking equivalent (:data:`REPLACED_ACTIVATIONS`: ELU, SELU,
    GELU, swish/SiLU, tanh, sigmoid, …, and the ``ELU``, ``LeakyReLU``, ``PReLU`` layers) are replaced by QCFS as
    well, with a warning: the copy computes another function until it is fine-tuned. The output activation is
    kept. With ``x_calibration``, λ starts at the value minimising the squared error between the
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
        ValueError: If the model has no activation to replace.

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
    output_layers = {id(node.layer) for node in nodes if node.is_output}
    sites, replaced = {}, []
    for node in nodes[1:]:
        kind, bound = _site(node.layer, id(node.layer) in output_layers)
        if kind is not None:
            sites[id(node.layer)] = bound
        if kind == "replaced":
            replaced.append(node.layer.name)
    if not sites:
        raise ValueError(
            f"Model '{model.name}' has no activation to replace. Received: a model without hidden activations. "
            "prepare_for_conversion replaces ReLU (and non-spiking hidden activations) with QCFS activations."
        )
    if replaced:
        warnings.warn(
            f"prepare_for_conversion replaced {len(replaced)} activation(s) without a spiking equivalent by QCFS "
            f"({', '.join(replaced)}): the copy computes another function until it is fine-tuned. Fine-tune it "
            "(spkeras.finetune or model.fit) before converting.",
            UserWarning,
            stacklevel=2,
        )
    thresholds = _initial_thresholds(model, nodes, sites, x_calibration, levels, per_channel, percentile, batch_size)

    tensors = {0: keras.Input(shape=tuple(model.inputs[0].shape[1:]), name=nodes[0].layer.name)}
    for position, node in enumerate(nodes[1:], start=1):
        layer = node.layer
        arguments = [tensors[i] for i in node.inputs]
        value = arguments if len(arguments) > 1 else arguments[0]
        if id(layer) in sites and isinstance(layer, ACTIVATION_LAYERS):
            tensors[position] = _qcfs(layer.name, levels, thresholds[id(layer)], per_channel)(value)
            continue
        clone = _clone(layer, drop_activation=id(layer) in sites)
        output = clone(value)
        clone.set_weights(layer.get_weights())
        if id(layer) in sites:
            output = _qcfs(f"{layer.name}_qcfs", levels, thresholds[id(layer)], per_channel)(output)
        tensors[position] = output
    heads = [
        tensors[index] for _, index in sorted((node.output_slot, i) for i, node in enumerate(nodes) if node.is_output)
    ]
    prepared = keras.Model(tensors[0], heads if len(heads) > 1 else heads[0], name=f"{model.name}_qcfs")
    logger.info("Replaced %d activations of '%s' by QCFS (L=%d).", len(sites), model.name, levels)
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
