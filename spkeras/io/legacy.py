"""Translating the ``model_config`` of a Keras-2-era ``.h5`` into a Keras 3 model, layer by layer.

Keras 3 reads most ``.h5`` files itself; files saved by standalone Keras 2.0-2.3 and tf.keras 1.x/2.x often fail
there. :func:`translate_model_config` rebuilds such a model from its stored config, read as data, on live Keras 3
layer objects: ``batch_input_shape`` becomes an explicit ``keras.Input``; old class and argument names that map
exactly are renamed; initializer/regularizer/constraint configs lose their ``dtype``; activations are kept where
Keras 3 computes the same function; arguments that only chose an implementation are dropped. Everything else is
refused with the layer, the argument and the reason (a ``Lambda``'s code is never run). docs/loading.md lists
what is translated and what is refused.
"""

from __future__ import annotations

import logging

import keras

from spkeras.io.legacy_layers import _layer_from_config, _refuse

logger = logging.getLogger(__name__)

_MODELS = {"Sequential", "Functional", "Model"}
_MAX_DEPTH = 32


def _build_layer(entry, custom_objects: dict, depth: int):
    if not isinstance(entry, dict) or not isinstance(entry.get("config"), (dict, list)):
        _refuse(f"a layer entry of the model config is not a {{class_name, config}} object: {str(entry)[:120]}")
    class_name = str(entry.get("class_name"))
    if class_name in _MODELS:
        return _build_model(entry, custom_objects, depth + 1)
    if not isinstance(entry["config"], dict):
        _refuse(f"the config of a {class_name} layer is not a JSON object: {str(entry)[:120]}")
    return _layer_from_config(class_name, entry["config"], custom_objects)


def _input(config: dict, name: str | None = None):
    shape = config.get("batch_input_shape")
    if shape is None and isinstance(config.get("input_shape"), list):
        shape = [None, *config["input_shape"]]
    if shape is None and config.get("input_dim") is not None:
        shape = [None, config["input_dim"]]
    if not isinstance(shape, list) or not all(value is None or isinstance(value, int) for value in shape):
        _refuse(f"layer '{config.get('name', '?')}' declares no usable input shape (batch_input_shape={shape!r}).")
    if config.get("sparse") or config.get("ragged"):
        _refuse(f"input '{config.get('name', '?')}' is sparse or ragged, which spkeras does not translate.")
    dtype = config.get("dtype")
    dtype = dtype.get("config", {}).get("name") if isinstance(dtype, dict) else dtype
    return _keras(f"input '{config.get('name', '?')}'", keras.Input, batch_shape=tuple(shape), dtype=dtype, name=name)


def _keras(where: str, function, *args, **kwargs):
    """``function(*args, **kwargs)``, a Keras call building the graph; what Keras refuses is refused as ``where``."""
    try:
        return function(*args, **kwargs)
    except Exception as error:  # Keras raises several types for shapes or arguments it cannot use
        _refuse(f"{where}: Keras 3 cannot build it ({type(error).__name__}: {' '.join(str(error).split())[:300]}).")


def _build_sequential(entry: dict, custom_objects: dict, depth: int):
    inner = entry["config"]
    layers = inner if isinstance(inner, list) else inner.get("layers")  # Keras 2.0/2.1: a bare list of layers
    name = inner.get("name") if isinstance(inner, dict) else None
    if not isinstance(layers, list) or not layers or not all(isinstance(layer, dict) for layer in layers):
        _refuse(f"Sequential model '{name}' has no list of layers in its config.")
    first = layers[0].get("config") if isinstance(layers[0].get("config"), dict) else {}
    if layers[0].get("class_name") == "InputLayer":
        inputs, layers = _input(first, first.get("name")), layers[1:]
    else:
        inputs = _input(first)  # the first layer's batch_input_shape: an explicit Input, not an input_shape
    model = _keras(f"Sequential model '{name}'", keras.Sequential, name=name if isinstance(name, str) else None)
    model.add(inputs)
    for layer in layers:
        built = _build_layer(layer, custom_objects, depth)
        _keras(f"layer '{built.name}' ({layer.get('class_name')}) of '{model.name}'", model.add, built)
    return model


def _node_inputs(node, outputs: dict, where: str):
    """The tensors of one inbound node (``[[layer, node_index, tensor_index, kwargs], ...]``), None if not ready."""
    if not isinstance(node, list) or not node:
        _refuse(f"{where} has an inbound node that is not a list of [layer, node, tensor, kwargs] entries.")
    tensors = []
    for reference in node:
        if not isinstance(reference, list) or len(reference) < 3:
            _refuse(f"{where} has an inbound node in a format spkeras does not translate: {str(reference)[:120]}")
        if len(reference) > 3 and reference[3] not in ({}, None) and set(reference[3]) != {"training"}:
            _refuse(f"{where} is called with arguments spkeras does not translate: {reference[3]!r}.")
        if not isinstance(reference[0], str) or not isinstance(reference[1], int):
            _refuse(f"{where} names its input as {reference[:2]!r}, not as [layer name, node index].")
        produced = outputs.get((reference[0], reference[1]))
        if produced is None:
            return None
        if not isinstance(reference[2], int) or not 0 <= reference[2] < len(produced):
            _refuse(f"{where} reads output {reference[2]!r} of layer '{reference[0]}', which has no such output.")
        tensors.append(produced[reference[2]])
    return tensors[0] if len(tensors) == 1 else tensors


def _build_functional(entry: dict, custom_objects: dict, depth: int):
    inner = entry["config"]
    name, layers = inner.get("name"), inner.get("layers")
    if not isinstance(layers, list) or not all(isinstance(layer, dict) for layer in layers):
        _refuse(f"model '{name}' has no list of layers in its config.")
    built, outputs, done = {}, {}, {}
    pending = list(layers)
    while pending:
        progress = False
        for layer in list(pending):
            config = layer.get("config") if isinstance(layer.get("config"), dict) else {}
            layer_name = layer.get("name", config.get("name"))
            where = f"layer '{layer_name}' ({layer.get('class_name')})"
            if not isinstance(layer_name, str):
                _refuse(f"{where} has no name in the model config.")
            if layer.get("class_name") == "InputLayer":
                outputs[(layer_name, 0)] = [_input(config, layer_name)]
                pending.remove(layer)
                progress = True
                continue
            if layer_name not in built:
                built[layer_name] = _build_layer(layer, custom_objects, depth)
            nodes = layer.get("inbound_nodes")
            if not isinstance(nodes, list):
                _refuse(f"{where} has no list of inbound nodes.")
            while done.get(layer_name, 0) < len(nodes):
                index = done.get(layer_name, 0)
                tensors = _node_inputs(nodes[index], outputs, where)
                if tensors is None:
                    break
                result = _keras(where, built[layer_name], tensors)
                node = index + (layer.get("class_name") in _MODELS)  # Keras 2 counted a nested model's own node 0
                outputs[(layer_name, node)] = list(result) if isinstance(result, (list, tuple)) else [result]
                done[layer_name] = index + 1
                progress = True
            if done.get(layer_name, 0) == len(nodes):
                pending.remove(layer)
        if not progress:
            missing = ", ".join(f"'{layer.get('name')}'" for layer in pending)
            _refuse(f"model '{name}': the inputs of {missing} are produced by no layer of the config.")

    def ends(key: str):
        references = inner.get(key)
        if isinstance(references, list) and references and isinstance(references[0], str):
            references = [references]  # a single [layer, node, tensor]
        if not isinstance(references, list) or not references or not all(isinstance(r, list) for r in references):
            _refuse(f"model '{name}' has no {key} in its config.")
        return _node_inputs([[*reference[:3], {}] for reference in references], outputs, f"model '{name}'")

    return _keras(f"model '{name}'", keras.Model, ends("input_layers"), ends("output_layers"), name=name)


def _build_model(entry: dict, custom_objects: dict, depth: int):
    if depth > _MAX_DEPTH:
        _refuse(f"models are nested more than {_MAX_DEPTH} deep.")
    if entry.get("class_name") == "Sequential" and isinstance(entry.get("config"), (dict, list)):
        return _build_sequential(entry, custom_objects, depth)
    if not isinstance(entry.get("config"), dict):
        _refuse(f"model '{entry.get('name')}' has no config object.")
    return _build_functional(entry, custom_objects, depth)


def translate_model_config(model_config: dict, custom_objects: dict | None = None) -> keras.Model:
    """Builds a Keras 3 model from the ``model_config`` of a Keras 2.x ``.h5`` file (weights not loaded).

    Args:
        model_config: The parsed ``model_config`` attribute (``{"class_name": ..., "config": ...}``).
        custom_objects: Custom layer classes by the class name the config uses.

    Returns:
        A new ``keras.Model`` with freshly initialised weights.

    Raises:
        ValueError: What cannot be translated: the layer, the argument and the reason.

    Examples:
        >>> config = {"class_name": "Sequential", "config": [{"class_name": "Dense", "config": {
        ...     "name": "dense_1", "units": 2, "activation": "relu", "batch_input_shape": [None, 3],
        ...     "dtype": "float32", "kernel_initializer": {"class_name": "VarianceScaling", "config": {
        ...     "scale": 1.0, "mode": "fan_avg", "distribution": "uniform", "seed": None, "dtype": "float32"}}}}]}
        >>> model = translate_model_config(config)
        >>> model.inputs[0].shape, model.get_layer("dense_1").units
        ((None, 3), 2)
    """
    if not isinstance(model_config, dict) or str(model_config.get("class_name")) not in _MODELS:
        _refuse(f"the model config is not a Sequential or functional model: {str(model_config)[:120]}")
    try:
        model = _build_model(model_config, dict(custom_objects or {}), 0)
    except (TypeError, KeyError, AttributeError, IndexError) as error:  # a config edited into another shape
        raise ValueError(f"the model config is malformed ({type(error).__name__}: {error}).") from error
    logger.info("Translated the Keras 2 config of model '%s' (%d layers).", model.name, len(model.layers))
    return model
