"""Translating one layer entry of a Keras-2-era config into a Keras 3 layer (see :mod:`spkeras.io.legacy`).

The class is looked up by name among Keras 3's layers (old names that map exactly renamed); every argument is
kept only where the Keras 3 class takes it, renamed where Keras renamed it, dropped where it only chose an
implementation, and refused otherwise, naming the layer and the argument.
"""

from __future__ import annotations

import inspect
import warnings

import keras

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


def _layer_from_config(class_name: str, config: dict, custom_objects: dict):
    """A Keras 3 layer built from a Keras 2 layer config; refuses what does not translate exactly."""
    where = f"layer '{config.get('name', '?')}' ({class_name})"
    cls = _layer_class(class_name, where, custom_objects)
    translated = _translate_config(cls, class_name, config)
    try:
        return cls.from_config(translated)
    except Exception as error:  # Keras raises several types for a config it cannot build
        _refuse(f"{where}: Keras 3 cannot build its translated config ({type(error).__name__}: {error}).")
