"""Loading the weights of a Keras-2-era ``.h5`` by layer name into a translated model, every shape checked.

Keras 2 stores each layer's weights in ``model_weights/<layer>/`` and lists them in that group's
``weight_names`` attribute (``<layer>/kernel:0``, ...); a nested model's group lists its layers' weights
(``<inner layer>/kernel:0``). Each stored weight is matched to the layer's variable of the same name (in stored
order where names repeat), its shape is compared before its values are read, and a mismatch, a missing or an
extra weight is refused by layer name.
"""

from __future__ import annotations

import logging

import keras
import numpy as np

from spkeras.io.hdf5 import _names

logger = logging.getLogger(__name__)


def _short(name: str) -> str:
    """``conv2d_1/kernel:0`` -> ``kernel``."""
    return name.rsplit("/", 1)[-1].split(":", 1)[0]


def _pairs(layer, stored: list[str]) -> list[tuple[str, object]]:
    """(stored name, variable) pairs of one layer: by name where the names are unique, else in order."""
    variables = list(layer.weights)
    if len(stored) != len(variables):
        raise ValueError(
            f"layer '{layer.name}' ({type(layer).__name__}) has {len(variables)} weights in Keras 3, but the file "
            f"stores {len(stored)} for it ({', '.join(stored) or 'none'})."
        )
    stored_short = [_short(name) for name in stored]
    variable_names = [variable.name for variable in variables]
    if len(set(stored_short)) == len(stored) and set(stored_short) == set(variable_names):
        by_name = dict(zip(variable_names, variables))
        return [(name, by_name[short]) for name, short in zip(stored, stored_short)]
    return list(zip(stored, variables))


def _find(model, name: str):
    """The layer called ``name`` in ``model`` or in a model nested in it, or None."""
    for layer in model.layers:
        if layer.name == name:
            return layer
        if isinstance(layer, keras.Model):
            found = _find(layer, name)
            if found is not None:
                return found
    return None


def _leaves(model) -> list:
    """Every layer of ``model`` that is not itself a model, nested models' layers included."""
    found = []
    for layer in model.layers:
        found.extend(_leaves(layer) if isinstance(layer, keras.Model) else [layer])
    return found


def _assign(layer, group, stored: list[str], assigned: set[int]) -> int:
    """Checks and assigns the weights ``stored`` in ``group`` to ``layer``; returns how many values it read."""
    if isinstance(layer, keras.Model):  # a nested model: its group lists its layers' weights
        by_layer: dict[str, list[str]] = {}
        for name in stored:
            parts = name.split("/")
            by_layer.setdefault(parts[-2] if len(parts) > 1 else "", []).append(name)
        count = 0
        for inner_name, names in by_layer.items():
            inner = _find(layer, inner_name)
            if inner is None:
                raise ValueError(
                    f"the file stores weights {names} for layer '{inner_name}' of model '{layer.name}', which its "
                    "config does not have."
                )
            count += _assign(inner, group, names, assigned)
        return count
    if id(layer) in assigned:
        raise ValueError(f"the file stores the weights of layer '{layer.name}' twice.")
    assigned.add(id(layer))
    count = 0
    for name, variable in _pairs(layer, stored):
        dataset = group.get(name)
        if dataset is None or not hasattr(dataset, "shape"):
            raise ValueError(f"weight '{name}' of layer '{layer.name}' is not a dataset in the file.")
        if tuple(dataset.shape) != tuple(variable.shape):
            raise ValueError(
                f"layer '{layer.name}' ({type(layer).__name__}): weight '{_short(name)}' is stored with shape "
                f"{tuple(dataset.shape)}, but the layer's config needs {tuple(variable.shape)}; the config and the "
                "weights disagree (the file is damaged or was edited)."
            )
        if dataset.dtype.kind not in "fiub":
            raise ValueError(f"weight '{name}' of layer '{layer.name}' is stored as {dataset.dtype}, not numbers.")
        variable.assign(np.asarray(dataset[()], dtype=variable.dtype))
        count += int(np.prod(dataset.shape))
    return count


def load_legacy_weights(model: keras.Model, path) -> int:
    """Loads the weights of a Keras 2.x ``.h5`` model file into ``model``, by layer name, checking every shape.

    Args:
        model: The model rebuilt from the file's config (see :func:`spkeras.io.legacy.translate_model_config`).
        path: The ``.h5`` file (already checked by :func:`spkeras.io.check_model_file`).

    Returns:
        The number of weight values loaded.

    Raises:
        ValueError: If a layer's stored weights do not match it (count or shape; the layer is named), or the file
            stores weights for a layer the model does not have, or none for one that has weights.

    Examples:
        >>> import pathlib, tempfile, keras
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.h5"
        >>> source = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="dense")])
        >>> source.save(path)
        >>> copy = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="dense")])
        >>> load_legacy_weights(copy, path)
        8
        >>> bool((copy.get_layer("dense").kernel.numpy() == source.get_layer("dense").kernel.numpy()).all())
        True
    """
    import h5py

    with h5py.File(path, "r") as handle:
        group = handle["model_weights"]
        assigned: set[int] = set()
        count = 0
        for name in _names(group, "layer_names"):
            layer_group = group[name]
            stored = _names(layer_group, "weight_names")
            if not stored:
                continue
            layer = _find(model, name)
            if layer is None:
                raise ValueError(f"the file stores weights for layer '{name}', which its model config does not have.")
            count += _assign(layer, layer_group, stored, assigned)
    missing = [layer.name for layer in _leaves(model) if layer.weights and id(layer) not in assigned]
    if missing:
        raise ValueError(f"layers {missing} have weights, but the file stores none for them.")
    logger.info("Loaded %d weight values of %d layers from %s.", count, len(assigned), path)
    return count
