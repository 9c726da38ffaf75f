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

import inspect
import logging
import warnings

import keras

logger = logging.getLogger(__name__)

_MODELS = {"Sequential", "Functional", "Model"}
_CLASS_ALIASES = {
    "Convolution1D": "Conv1D",
    "Convolution2D": "Conv2D",
    "Convolution3D": "Conv3D",
    "Deconvolution2D": "Conv2DTranspose",
    "Convolution2DTranspose": "Conv2DTranspose",
    "Deconvolution3D": "Conv3DTranspose",
    "SeparableConvolution1D": "SeparableConv1D",
    "SeparableConvolution2D": "SeparableConv2D",
    "DepthwiseConvolution2D": "DepthwiseConv2D",
}
_ARGUMENT_RENAMES = {"LeakyReLU": {"alpha": "negative_slope"}}
_SAME_ACTIVATIONS = {"linear", "relu", "softmax", "sigmoid", "tanh", "elu", "selu", "softplus", "softsign"}
_SAME_ACTIVATIONS |= {"exponential", "swish", "gelu", "relu6", "silu"}
_IMPLEMENTATION_ONLY = {"fused", "implementation", "input_length", "dynamic", "batch_size", "input_dim"}
_ABSENT_WHEN = {"renorm": False, "renorm_clipping": None, "virtual_batch_size": None, "adjustment": None}
_ABSENT_WHEN |= {"ragged": False, "time_major": False, "reset_after": True, "stateful": False}
_MAX_DEPTH = 32


def _refuse(reason: str):
    raise ValueError(reason)


def _accepted_arguments(cls) -> set[str]:
    """Every keyword a Keras 3 layer class accepts in its constructor (its own and its base classes')."""
    accepted = set()
    for klass in cls.__mro__:
        if klass is object:
            break
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for parameter in inspect.signature(init).parameters.values():
            if parameter.kind not in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL) and parameter.name != "self":
                accepted.add(parameter.name)
        if klass is keras.layers.Layer:
            break
    return accepted


def _translate_object(value, kind: str, where: str, key: str):
    """An initializer/regularizer/constraint config of the old era as Keras 3 takes it, or None (warned)."""
    if value is None or isinstance(value, str):
        return value
    module = {"initializer": keras.initializers, "regularizer": keras.regularizers, "constraint": keras.constraints}
    if isinstance(value, dict) and isinstance(value.get("config", {}), dict):
        config = {k: v for k, v in value.get("config", {}).items() if k != "dtype"}
        if value.get("class_name") == "VarianceScaling" and config.get("distribution") == "normal":
            config["distribution"] = "truncated_normal"  # Keras 2's "normal" drew from a truncated normal
        translated = {"class_name": value.get("class_name"), "config": config}
        try:
            module[kind].get(dict(translated))
            return translated
        except Exception as error:  # Keras raises several types for an unknown or malformed config
            reason = f"{type(error).__name__}: {error}"
    else:
        reason = f"{type(value).__name__} is not a config"
    warnings.warn(
        f"{where}: its {key} ({value!r}) has no Keras 3 equivalent ({reason}); the layer default is used. It only "
        "matters for training: the weights are loaded from the file.",
        stacklevel=4,
    )
    return None


def _translate_config(cls, class_name: str, config: dict) -> dict:
    """A Keras 2 layer config as the Keras 3 class ``cls`` takes it; refuses what does not map exactly."""
    name = config.get("name", "?")
    where = f"layer '{name}' ({class_name})"
    accepted = _accepted_arguments(cls)
    renames = _ARGUMENT_RENAMES.get(cls.__name__, {})
    translated = {}
    renorm = config.get("renorm", False)
    for key, value in config.items():
        key = renames.get(key, key)
        if key not in accepted and (key in ("batch_input_shape", "input_shape") or key in _IMPLEMENTATION_ONLY):
            continue  # the input shape becomes an explicit Input; the others only chose an implementation
        if key == "renorm_momentum" and renorm is False:
            continue
        if key in _ABSENT_WHEN and key not in accepted:
            if value != _ABSENT_WHEN[key]:
                _refuse(f"{where} sets {key}={value!r}, which Keras 3 does not implement.")
            continue
        if key not in accepted:
            _refuse(f"{where} has the argument '{key}' ({value!r}), which Keras 3's {cls.__name__} does not take.")
        if key == "dtype":
            value = value.get("config", {}).get("name") if isinstance(value, dict) else value
            if value is None:
                continue
        elif key.endswith(("_initializer", "_regularizer", "_constraint")):
            kind = key.rsplit("_", 1)[1]
            value = _translate_object(value, kind, where, key)
            if value is None:
                continue
        elif key in ("activation", "recurrent_activation"):
            if value is not None and (not isinstance(value, str) or value not in _SAME_ACTIVATIONS):
                _refuse(
                    f"{where} uses the activation {value!r}, which Keras 3 does not compute the same way (or at "
                    f"all). Activations translated: {', '.join(sorted(_SAME_ACTIVATIONS))}."
                )
        elif key == "axis" and cls.__name__ == "BatchNormalization" and isinstance(value, list) and len(value) == 1:
            value = value[0]
        translated[key] = value
    return translated


def _layer_class(class_name: str, where: str, custom_objects: dict):
    if class_name == "Lambda":
        _refuse(
            f"{where} is a Lambda layer: its Python code (stored as bytecode of the Python that saved it) is never "
            "run from a file. Rebuild the model in Keras 3 with that function and load the weights with "
            "model.load_weights(path, skip_mismatch=False)."
        )
    candidate = custom_objects.get(class_name) or getattr(
        keras.layers, _CLASS_ALIASES.get(class_name, class_name), None
    )
    if not (isinstance(candidate, type) and issubclass(candidate, keras.layers.Layer)) or candidate is (
        keras.layers.InputLayer
    ):
        _refuse(f"{where}: Keras 3 has no layer class '{class_name}'. For a custom layer, pass it in custom_objects.")
    return candidate


def _build_layer(entry, custom_objects: dict, depth: int):
    if not isinstance(entry, dict) or not isinstance(entry.get("config"), (dict, list)):
        _refuse(f"a layer entry of the model config is not a {{class_name, config}} object: {str(entry)[:120]}")
    class_name = str(entry.get("class_name"))
    if class_name in _MODELS:
        return _build_model(entry, custom_objects, depth + 1)
    config = entry["config"]
    where = f"layer '{config.get('name', entry.get('name', '?'))}' ({class_name})"
    cls = _layer_class(class_name, where, custom_objects)
    translated = _translate_config(cls, class_name, config)
    try:
        return cls.from_config(translated)
    except Exception as error:  # Keras raises several types for a config it cannot build
        _refuse(f"{where}: Keras 3 cannot build its translated config ({type(error).__name__}: {error}).")


def _input(config: dict, name: str | None = None):
    shape = config.get("batch_input_shape")
    if shape is None and config.get("input_shape") is not None:
        shape = [None, *config["input_shape"]]
    if shape is None and config.get("input_dim") is not None:
        shape = [None, config["input_dim"]]
    if not isinstance(shape, list) or not all(value is None or isinstance(value, int) for value in shape):
        _refuse(f"layer '{config.get('name', '?')}' declares no usable input shape (batch_input_shape={shape!r}).")
    if config.get("sparse") or config.get("ragged"):
        _refuse(f"input '{config.get('name', '?')}' is sparse or ragged, which spkeras does not translate.")
    dtype = config.get("dtype")
    dtype = dtype.get("config", {}).get("name") if isinstance(dtype, dict) else dtype
    return keras.Input(batch_shape=tuple(shape), dtype=dtype or "float32", name=name)


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
    model = keras.Sequential(name=name)
    model.add(inputs)
    for layer in layers:
        model.add(_build_layer(layer, custom_objects, depth))
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
            layer_name = layer.get("name", (layer.get("config") or {}).get("name"))
            where = f"layer '{layer_name}' ({layer.get('class_name')})"
            if layer.get("class_name") == "InputLayer":
                outputs[(layer_name, 0)] = [_input(layer.get("config") or {}, layer_name)]
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
                result = built[layer_name](tensors)
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
        references = [references] if references and isinstance(references[0], str) else references
        if not isinstance(references, list) or not references:
            _refuse(f"model '{name}' has no {key} in its config.")
        return _node_inputs([[*reference[:3], {}] for reference in references], outputs, f"model '{name}'")

    return keras.Model(ends("input_layers"), ends("output_layers"), name=name)


def _build_model(entry: dict, custom_objects: dict, depth: int):
    if depth > _MAX_DEPTH:
        _refuse(f"models are nested more than {_MAX_DEPTH} deep.")
    if entry.get("class_name") == "Sequential":
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
    if not isinstance(model_config, dict) or model_config.get("class_name") not in _MODELS:
        _refuse(f"the model config is not a Sequential or functional model: {str(model_config)[:120]}")
    model = _build_model(model_config, dict(custom_objects or {}), 0)
    logger.info("Translated the Keras 2 config of model '%s' (%d layers).", model.name, len(model.layers))
    return model
