"""Applying mutation specs (plain JSON-able dicts drawn by :mod:`tests.fuzz.strategies`) to files and arrays.

Every function here is deterministic: the same spec on the same corpus file gives the same bytes, so a case
from a report can be replayed with :func:`tests.fuzz.harness.run_case`.
"""

from __future__ import annotations

import io
import json
import math
import pathlib
import random
import shutil
import tempfile
import zipfile

import numpy as np

INTERESTING = [
    None,
    True,
    False,
    0,
    -1,
    1,
    3,
    2**31,
    10**12,
    -(10**9),
    1.5,
    -0.5,
    math.nan,
    math.inf,
    "",
    "x" * 300,
    "relu",
    "float16",
    [],
    {},
    [None],
    [0, 0],
    [-1, 3],
    {"class_name": "Unknown", "config": {}},
]
CLASS_NAMES = [
    "FooLayer",
    "LSTM",
    "Lambda",
    "Conv3D",
    "Dense",
    "",
    123,
    None,
    "LayerNormalization",
    "MaxPooling2D",
    "Softmax",
    "Sequential",
    "Functional",
    "TFOpLambda",
    "InputLayer",
    "Attention",
    "Embedding",
]
SIZES = [-1, 0, 1, 10**9, 2**31, 1.5, "7", None, True, -(2**40)]
ACTIVATIONS = ["sigmoid", "tanh", "softmax", "linear", "relu6", "elu", "gelu", "leaky_relu", "nope", None, 3, {"x": 1}]
DTYPES = [
    "float16",
    "bfloat16",
    "int32",
    "string",
    "float64",
    "mixed_float16",
    "mixed_bfloat16",
    "uint8",
    "bool",
    "complex64",
    "nonsense",
    None,
    {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "int8"}, "registered_name": None},
    {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float16"}, "registered_name": None},
]
SHAPES = [
    [None],
    [],
    [None, 0, 8, 1],
    [None, -3, 8, 1],
    [None, 10**6, 10**6, 3],
    [None, 8, 8],
    [None, 8, 8, 1, 1],
    "abc",
    None,
    [None, 8.5, 8, 1],
    [None, None, None, 1],
    [2, 8, 8, 1],
    [None, 28, 28, 1],
    [None, 6],
]
CONV_VALUES = {
    "kernel_size": [0, -1, 100, [3], [3, 3, 3], "3", [0, 3], None],
    "strides": [0, -2, 10**6, [1], [1, 1, 1], [2, 2], None],
    "padding": ["foo", "causal", "full", "SAME", None, 1],
    "pool_size": [0, -1, [100, 100], 1, None],
    "rate": [-1, 1.0, 2, None],
    "epsilon": [0, -1, 1e30, math.nan, None],
    "axis": [5, -10, [1, 2], None, 0],
    "use_bias": [None, 0, "yes"],
    "groups": [0, -1, 3, 1000],
    "dilation_rate": [0, [2, 2], 1000],
    "data_format": ["channels_first", "nope", None],
    "momentum": [2, -1],
    "max_value": [-1, 0, math.nan, 6],
    "negative_slope": [0.1, -1, math.nan],
    "threshold": [1, -1, math.nan],
    "center": [False],
    "scale": [False],
}
EXTRA_ENTRIES = ["assets/x.txt", "../evil.txt", "/abs.txt", "model.weights.npz", "config.json"]


# --- bytes -------------------------------------------------------------------------------------------------


def mutate_bytes(data: bytes, op: dict) -> bytes:
    """One byte-level op on ``data``: flip, truncate, splice, insert, zero, or duplicate a block."""
    size = len(data)
    if size == 0:
        return data
    buffer = bytearray(data)
    kind = op["op"]
    if kind == "flip":
        for position, bit in zip(op["positions"], op["bits"]):
            index = min(int(position * size), size - 1)
            buffer[index] ^= 1 << bit
        return bytes(buffer)
    if kind == "truncate":
        return bytes(buffer[: int(op["at"] * size)])
    if kind == "splice":  # copy a block over another place of the file
        length = min(op["length"], size)
        source = min(int(op["source"] * size), size - length)
        target = min(int(op["target"] * size), size - length)
        buffer[target : target + length] = data[source : source + length]
        return bytes(buffer)
    if kind == "insert":
        index = int(op["at"] * size)
        block = random.Random(op["seed"]).randbytes(op["length"])
        return bytes(buffer[:index] + block + buffer[index:])
    if kind == "zero":
        index = int(op["at"] * size)
        buffer[index : index + op["length"]] = bytes(len(buffer[index : index + op["length"]]))
        return bytes(buffer)
    if kind == "duplicate":  # a block repeated in place (the file grows)
        index = int(op["at"] * size)
        return bytes(buffer[: index + op["length"]] + buffer[index : index + op["length"]] + buffer[index:])
    raise ValueError(f"unknown byte op {kind}")


# --- the model config JSON -------------------------------------------------------------------------------


def _layers(config) -> list:
    try:
        layers = config["config"]["layers"]
        return layers if isinstance(layers, list) else []
    except (KeyError, TypeError):
        return []


def _nodes(value, path=()):
    """Every (container, key) of the JSON tree, depth first (for the generic replace/delete ops)."""
    found = []
    if isinstance(value, dict):
        for key in list(value):
            found.append((value, key))
            found.extend(_nodes(value[key]))
    elif isinstance(value, list):
        for index in range(len(value)):
            found.append((value, index))
            found.extend(_nodes(value[index]))
    return found


def mutate_config_text(text: str, op: dict) -> str:
    """One op on a model config (the ``model_config`` attribute of an ``.h5`` or ``config.json`` of ``.keras``)."""
    action = op["action"]
    if action == "invalid_json":
        cut = int(op["at"] * len(text))
        return text[:cut] + op.get("tail", "")
    try:
        config = json.loads(text)
    except ValueError:
        return text  # an earlier op broke the JSON already
    layers = _layers(config)
    layer = layers[op.get("layer", 0) % len(layers)] if layers else None
    inner = layer.get("config") if isinstance(layer, dict) else None
    inner = inner if isinstance(inner, dict) else None
    if action == "class" and isinstance(layer, dict):
        layer["class_name"] = op["value"]
        if op.get("drop_module"):
            layer.pop("module", None)
    elif action == "size" and inner is not None:
        for key in ("units", "filters", "depth_multiplier", "n", "target_shape"):
            if key in inner:
                inner[key] = op["value"]
                break
        else:
            inner[op.get("key", "units")] = op["value"]
    elif action == "activation" and inner is not None:
        inner["activation"] = op["value"]
    elif action == "dtype":
        target = inner if inner is not None else config.get("config", {})
        if isinstance(target, dict):
            target["dtype"] = op["value"]
    elif action == "shape":
        if layers and isinstance(layers[0], dict) and isinstance(layers[0].get("config"), dict):
            first = layers[0]["config"]
            first["batch_shape" if "batch_shape" in first else "batch_input_shape"] = op["value"]
        elif isinstance(config.get("config"), dict):
            config["config"]["build_input_shape"] = op["value"]
    elif action == "conv" and inner is not None:
        inner[op["key"]] = op["value"]
    elif action == "replace":
        nodes = _nodes(config)
        if nodes:
            container, key = nodes[op["index"] % len(nodes)]
            container[key] = op["value"]
    elif action == "delete":
        nodes = _nodes(config)
        if nodes:
            container, key = nodes[op["index"] % len(nodes)]
            del container[key]
    elif action == "duplicate_layer" and layer is not None:
        layers.insert(op.get("layer", 0) % len(layers), json.loads(json.dumps(layer)))
    elif action == "remove_layer" and layer is not None:
        layers.remove(layer)
    elif action == "rename" and isinstance(layer, dict):
        if inner is not None:
            inner["name"] = op["value"]
        layer["name"] = op["value"]
    elif action == "inbound" and isinstance(layer, dict):
        layer["inbound_nodes"] = op["value"]
    elif action == "top_class":
        config["class_name"] = op["value"]
    return json.dumps(config, allow_nan=True)


# --- HDF5 --------------------------------------------------------------------------------------------------


def _datasets(handle) -> list:
    import h5py

    names = []
    handle.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
    return sorted(names)


def mutate_hdf5(path, op: dict) -> str:
    """One h5py-level op on an HDF5 file: rewrite an attribute (or the model config) or corrupt a dataset.

    Returns a note ("skipped: ..." when the file can no longer be opened by h5py).
    """
    import h5py

    from spkeras.io.hdf5 import _global_heap_damage

    damage = _global_heap_damage(pathlib.Path(path))
    if damage:  # an earlier byte op broke the global heap: HDF5 would hang reading any attribute (spkeras refuses)
        return f"skipped: {damage}"
    try:
        handle = h5py.File(path, "r+")
    except Exception as error:  # an earlier byte op broke the file: nothing to do at the HDF5 level
        return f"skipped: {type(error).__name__}"
    try:
        with handle:
            return _mutate_open_hdf5(handle, op)
    except Exception as error:  # h5py cannot apply the op to a damaged file: the file stays as it is
        return f"skipped: {type(error).__name__}: {error}"


def _mutate_open_hdf5(handle, op: dict) -> str:
    import h5py

    kind = op["op"]
    if kind == "config":
        if "model_config" not in handle.attrs:
            return "skipped: no model_config"
        text = handle.attrs["model_config"]
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        handle.attrs["model_config"] = mutate_config_text(text, op)
    elif kind == "attr":
        name = op["name"]
        if op["value"] == "<delete>":
            if name in handle.attrs:
                del handle.attrs[name]
        elif op["value"] == "<bytes>":
            handle.attrs[name] = np.void(random.Random(op.get("seed", 0)).randbytes(32))
        elif op["value"] == "<array>":
            handle.attrs[name] = np.arange(5)
        else:
            handle.attrs[name] = op["value"] if isinstance(op["value"], str) else json.dumps(op["value"])
    elif kind == "group_attr":  # layer_names / weight_names lists
        groups = []
        handle.visititems(lambda name, obj: groups.append(name) if isinstance(obj, h5py.Group) else None)
        groups = [g for g in sorted(groups) if op["name"] in handle[g].attrs] or (["/"] if groups else [])
        if not groups:
            return "skipped: no group"
        group = handle[groups[op["index"] % len(groups)]]
        value = op["value"]
        if value == "<delete>":
            if op["name"] in group.attrs:
                del group.attrs[op["name"]]
        elif value == "<shuffle>":
            names = list(group.attrs.get(op["name"], []))
            random.Random(op["index"]).shuffle(names)
            group.attrs[op["name"]] = np.array(names, dtype=object) if names else np.array([])
        elif value == "<extra>":
            names = [str(n) for n in group.attrs.get(op["name"], [])] + ["ghost/kernel"]
            group.attrs[op["name"]] = np.array(names, dtype=h5py.string_dtype())
        else:
            group.attrs[op["name"]] = value
    elif kind == "dataset":
        names = _datasets(handle)
        if not names:
            return "skipped: no dataset"
        name = names[op["index"] % len(names)]
        original = handle[name]
        shape, dtype = original.shape, original.dtype
        if original.size * original.dtype.itemsize > 100_000_000:  # an earlier op declared it huge: never read it
            return "skipped: declared too large to read"
        data = original[()]
        action = op["action"]
        del handle[name]
        if action == "delete":
            return "ok"
        if action == "nan":
            values = np.array(data, dtype="float32")
            values.reshape(-1)[:: max(1, values.size // 3 or 1)] = np.nan
            handle.create_dataset(name, data=values)
        elif action == "inf":
            handle.create_dataset(name, data=np.full(shape, np.inf, dtype="float32"))
        elif action == "huge_values":
            handle.create_dataset(name, data=np.full(shape, 3e38, dtype="float32"))
        elif action == "negative_variance":
            handle.create_dataset(name, data=-np.abs(np.array(data, dtype="float32")) - 1)
        elif action == "zeros":
            handle.create_dataset(name, data=np.zeros(shape, dtype="float32"))
        elif action == "shape":
            bigger = tuple(s + 1 for s in shape) or (2,)
            handle.create_dataset(name, data=np.zeros(bigger, dtype="float32"))
        elif action == "transpose":
            handle.create_dataset(name, data=np.asarray(data).T.copy())
        elif action == "scalar":
            handle.create_dataset(name, data=np.float32(1.0))
        elif action == "empty":
            handle.create_dataset(name, data=np.zeros((0,), dtype="float32"))
        elif action == "dtype_int":
            handle.create_dataset(name, data=np.ones(shape, dtype="int64"))
        elif action == "dtype_float16":
            handle.create_dataset(name, data=np.asarray(data).astype("float16"))
        elif action == "dtype_str":
            handle.create_dataset(name, data=np.array(["a"] * max(1, int(np.prod(shape) or 1)), dtype="S1"))
        elif action == "dtype_bool":
            handle.create_dataset(name, data=np.ones(shape, dtype=bool))
        elif action == "huge_declared":  # a petabyte declared, nothing stored (chunked, fill value 0)
            handle.create_dataset(name, shape=(2**24, 2**24), dtype="float32", chunks=(64, 64))
        elif action == "large_declared":  # a few GiB declared: reading it allocates for real
            handle.create_dataset(name, shape=(40_000, 40_000), dtype="float32", chunks=(256, 256))
        elif action == "group":  # a group where a dataset was
            handle.create_group(name)
        else:
            handle.create_dataset(name, data=data, dtype=dtype)
    else:
        return f"skipped: op {kind}"
    return "ok"


# --- whole files -------------------------------------------------------------------------------------------

BYTE_OPS = ("flip", "truncate", "splice", "insert", "zero", "duplicate")


def mutate_h5_file(source, target, ops: list) -> list:
    """Copies the ``.h5`` ``source`` to ``target`` and applies ``ops`` in order; returns a note per op."""
    shutil.copyfile(source, target)
    notes = []
    for op in ops:
        if op["op"] in BYTE_OPS:
            data = pathlib.Path(target).read_bytes()
            pathlib.Path(target).write_bytes(mutate_bytes(data, op))
            notes.append("ok")
        else:
            notes.append(mutate_hdf5(target, op))
    return notes


def mutate_keras_file(source, target, ops: list) -> list:
    """Rewrites the ``.keras`` zip ``source`` into ``target`` with ``ops`` applied to its entries or its bytes."""
    with zipfile.ZipFile(source) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    notes, zip_ops = [], []
    for op in ops:
        kind = op["op"]
        if kind in BYTE_OPS:  # on the finished zip
            zip_ops.append(op)
            continue
        if kind == "config":
            entry = op.get("entry", "config.json")
            if entry in entries:
                text = entries[entry].decode("utf-8", "replace")
                entries[entry] = mutate_config_text(text, op).encode()
            notes.append("ok")
        elif kind == "entry":
            name, action = op["entry"], op["action"]
            if action == "delete":
                entries.pop(name, None)
            elif action == "garbage":
                entries[name] = random.Random(op.get("seed", 0)).randbytes(op.get("length", 64))
            elif action == "empty":
                entries[name] = b""
            elif action == "add":
                entries[name] = b"hello"
            elif action == "truncate" and name in entries:
                entries[name] = entries[name][: int(op.get("at", 0.5) * len(entries[name]))]
            notes.append("ok")
        elif kind == "weights_bytes":
            if "model.weights.h5" in entries:
                entries["model.weights.h5"] = mutate_bytes(entries["model.weights.h5"], op["inner"])
            notes.append("ok")
        elif kind in ("dataset", "attr", "group_attr"):
            if "model.weights.h5" not in entries:
                notes.append("skipped: no weights")
                continue
            with tempfile.TemporaryDirectory() as folder:
                inner = pathlib.Path(folder) / "w.h5"
                inner.write_bytes(entries["model.weights.h5"])
                notes.append(mutate_hdf5(inner, op))
                entries["model.weights.h5"] = inner.read_bytes()
        else:
            notes.append(f"skipped: op {kind}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    data = buffer.getvalue()
    for op in zip_ops:
        data = mutate_bytes(data, op)
        notes.append("ok")
    pathlib.Path(target).write_bytes(data)
    return notes


# --- arrays ------------------------------------------------------------------------------------------------


def make_array(spec: dict, input_shape: tuple, classes: int = 3):
    """Builds the (possibly bad) input described by ``spec`` for a model with ``input_shape``."""
    container = spec["container"]
    if container == "none":
        return None
    if container == "string":
        return "images.npy"
    if container == "scalar":
        return 0.5
    if container == "dict":
        return {"x": np.zeros((2,) + tuple(input_shape), "float32")}
    rng = np.random.default_rng(spec.get("seed", 0))
    n = spec["n"]
    mode = spec["shape_mode"]
    shape = (n,) + tuple(input_shape)
    if mode == "no_channel":
        shape = shape[:-1]
    elif mode == "extra_axis":
        shape = shape + (1,)
    elif mode == "wrong_dim":
        shape = shape[:-1] + (max(0, shape[-1] + spec.get("delta", 1)),)
    elif mode == "rank0":
        shape = ()
    elif mode == "rank1":
        shape = (n,)
    elif mode == "transposed":
        shape = (n,) + tuple(reversed(input_shape))
    elif mode == "random":
        shape = tuple(spec["random_shape"])
    elif mode == "empty":
        shape = (0,) + tuple(input_shape)
    fill = spec["fill"]
    values = rng.uniform(0, 1, shape)
    if fill == "zeros":
        values = np.zeros(shape)
    elif fill == "constant":
        values = np.full(shape, 0.7)
    elif fill == "negative":
        values = -values
    elif fill == "huge":
        values = values * 1e30
    elif fill == "tiny":
        values = values * 1e-30
    elif fill == "nan_some" and values.size:
        values.reshape(-1)[0] = np.nan
    elif fill == "inf_some" and values.size:
        values.reshape(-1)[-1] = np.inf
    elif fill == "nan_all":
        values = np.full(shape, np.nan)
    elif fill == "uint8":
        values = rng.integers(0, 256, shape)
    dtype = spec["dtype"]
    if dtype == "str":
        array = values.astype(str)
    elif dtype == "object":
        array = np.empty(shape, dtype=object)
        if array.size:
            array.reshape(-1)[:] = list(values.reshape(-1))
    else:
        with np.errstate(invalid="ignore", over="ignore"):
            array = values.astype(dtype)
    if container == "list":
        return array.tolist()
    if container == "tuple":
        return tuple(array.tolist()) if array.ndim else array.tolist()
    if container == "ragged":
        return [np.zeros(input_shape, "float32"), np.zeros((1,), "float32")]
    if container == "memmap" and array.size:
        return array  # (kept as a plain array: memmaps need a file; the harness writes one when asked)
    return array


def make_labels(spec: dict, count: int, classes: int):
    """Builds (possibly bad) labels for ``count`` inputs of a model with ``classes`` outputs."""
    rng = np.random.default_rng(spec.get("seed", 0))
    kind = spec["kind"]
    n = max(0, count + spec.get("n_delta", 0))
    ints = rng.integers(0, classes, n)
    if kind == "none":
        return None
    if kind == "int":
        return ints
    if kind == "int32_col":
        return ints.astype("int32")[:, None]
    if kind == "onehot":
        return np.eye(classes, dtype="float32")[ints]
    if kind == "onehot_int":
        return np.eye(classes, dtype="int64")[ints]
    if kind == "float_int":
        return ints.astype("float64")
    if kind == "float_frac":
        return ints + 0.5
    if kind == "soft":
        return rng.dirichlet(np.ones(classes), n).astype("float32")
    if kind == "multi_hot":
        return (rng.uniform(size=(n, classes)) > 0.5).astype("float32")
    if kind == "negative":
        return -ints - 1
    if kind == "out_of_range":
        return ints + classes
    if kind == "nan":
        values = ints.astype("float32")
        if n:
            values[0] = np.nan
        return values
    if kind == "3d":
        return ints.reshape(-1, 1, 1)
    if kind == "string":
        return ints.astype(str)
    if kind == "object":
        return ints.astype(object)
    if kind == "list":
        return ints.tolist()
    if kind == "bool":
        return ints.astype(bool)
    if kind == "huge_int":
        return np.full(n, 2**62, dtype="int64")
    if kind == "wrong_columns":
        return np.eye(classes + 1, dtype="float32")[ints]
    if kind == "scalar":
        return 1
    raise ValueError(f"unknown label kind {kind}")
