"""Structural checks of HDF5 model files, without Keras: the global heap, the attributes, the weight datasets.

- **Global heap.** HDF5 keeps variable-length strings (every attribute Keras writes: ``model_config``,
  ``keras_version``, ``backend``, ``layer_names``, ``weight_names``) in "global heap collections". HDF5's
  parser of a collection (``H5HG__cache_heap_deserialize``, HDF5 1.14) never ends when an object's size is 0
  (zeroed or overwritten bytes), and reads past the collection when a size is too large. Every collection in the
  file (signature ``GCOL``, version 1) is first walked in Python the way HDF5 walks it; one that would loop or
  overrun is refused, unless it lies inside a dataset's stored values (a chance match in the weights).
- **Attributes and weights.** The attributes that Keras's legacy ``.h5`` loader reads are read and parsed first
  (``model_config`` as JSON, ``keras_version``, ``backend``, ``layer_names``, each layer's ``weight_names``),
  and each listed weight must be a dataset whose shape and dtype can be read.
"""

from __future__ import annotations

import json
import math
import mmap
import os
import pathlib

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_HEAP_SIGNATURE = b"GCOL"  # an HDF5 global heap collection
_DAMAGED_FIX = "Re-download the file, or save the model again with model.save('model.keras')."


def _lengths_size(data) -> int:
    """The superblock's "size of lengths" (bytes of a length field; 8 in every file h5py writes)."""
    position = 0
    while position + 16 <= len(data):
        if data[position : position + 8] == _HDF5_SIGNATURE:
            size = data[position + 14] if data[position + 8] in (0, 1) else data[position + 10]
            return size if size in (2, 4, 8, 16) else 8
        position = 512 if position == 0 else 2 * position  # a user block moves the superblock to 512, 1024, ...
    return 8


def _heap_collection_damage(data, start: int, lengths: int) -> str | None:
    """How HDF5 would fail on the global heap collection at ``start`` (loop or overrun), or None if it would not.

    Mirrors HDF5's parser: a collection header (signature, version 1, 3 reserved bytes, its size), then objects
    (index, reference count, 4 reserved bytes, size, data padded to 8 bytes); object 0 is the free space, whose
    size includes its header. Bytes past the end of the file read as zeros, as HDF5's file driver reads them.
    """
    header, object_header = 8 + lengths, 8 + lengths
    if start + header > len(data) or data[start + 4] != 1:
        return None  # HDF5 refuses such a collection with an error, it does not hang on it
    size = int.from_bytes(data[start + 8 : start + header], "little")
    end, position = start + size, start + header
    while position < end:
        if position + object_header > end:
            return None  # the last bit is too small for an object: free space, as HDF5 assumes
        if position + object_header > len(data):
            return f"the global heap at byte {start} runs past the end of the file"
        index = int.from_bytes(data[position : position + 2], "little")
        length = int.from_bytes(data[position + 8 : position + object_header], "little")
        need = object_header + -(-length // 8) * 8 if index else length
        if need == 0:
            return f"the global heap at byte {start} holds an empty free-space record at byte {position}"
        if position + need > end:
            return f"object {index} of the global heap at byte {start} runs past the end of the heap"
        position += need
    return None


def _dataset_extents(handle) -> list[tuple[int, int]]:
    """(offset, size) of every dataset's stored values (contiguous data and chunks)."""
    import h5py

    extents = []

    def visit(_name, item):
        if isinstance(item, h5py.Dataset):
            offset = item.id.get_offset()
            if offset is not None:
                extents.append((offset, item.id.get_storage_size()))
            elif item.chunks is not None:
                for index in range(item.id.get_num_chunks()):
                    chunk = item.id.get_chunk_info(index)
                    extents.append((chunk.byte_offset, chunk.size))

    handle.visititems(visit)
    return extents


def _global_heap_damage(path: pathlib.Path) -> str | None:
    """Why reading a variable-length string from ``path`` would hang or overrun in HDF5, or None."""
    with open(path, "rb") as file:
        if os.fstat(file.fileno()).st_size < len(_HDF5_SIGNATURE):
            return None
        with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
            lengths = _lengths_size(data)
            damage, position = [], data.find(_HEAP_SIGNATURE)
            while position != -1:
                problem = _heap_collection_damage(data, position, lengths)
                if problem:
                    damage.append((position, problem))
                position = data.find(_HEAP_SIGNATURE, position + 1)
    if not damage:
        return None
    import h5py

    try:  # a damaged "collection" inside a dataset's values is a chance match in the weights, not a heap
        with h5py.File(path, "r") as handle:
            extents = _dataset_extents(handle)
    except (OSError, KeyError, RuntimeError, ValueError):
        return damage[0][1]
    for position, problem in damage:
        if not any(offset <= position < offset + size for offset, size in extents):
            return problem
    return None


def _text(value, what: str) -> str:
    """An attribute value read by h5py as text (Keras stores bytes or str)."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, str):
        return value
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        return _text(value.item(), what)
    raise TypeError(f"{what} is a {type(value).__name__}, not text")


def _names(group, name: str) -> list[str]:
    """The string list attribute ``name`` of ``group``, read the way Keras reads it (also split in chunks)."""
    if name in group.attrs:
        chunks = [group.attrs[name]]
    else:
        chunks, index = [], 0
        while f"{name}{index}" in group.attrs:
            chunks.append(group.attrs[f"{name}{index}"])
            index += 1
    names = []
    for chunk in chunks:
        if not hasattr(chunk, "__iter__") or isinstance(chunk, (bytes, str)):
            raise TypeError(f"attribute '{name}' is a {type(chunk).__name__}, not a list of names")
        names.extend(_text(value, f"an entry of '{name}'") for value in chunk)
    return names


def _stored_weights(handle) -> dict[str, int]:
    """Values stored per layer group in ``model_weights`` (Keras's legacy layout); raises on a damaged layout."""
    import h5py

    group = handle.get("model_weights")
    if not isinstance(group, h5py.Group):
        raise LookupError("it has no 'model_weights' group (a model saved with model.save has one)")
    for name in ("keras_version", "backend"):
        if name in group.attrs:
            _text(group.attrs[name], f"attribute '{name}'")
    stored = {}
    for layer in _names(group, "layer_names"):
        layer_group = group.get(layer) if layer else None
        if not isinstance(layer_group, h5py.Group):
            raise LookupError(f"layer '{layer}' listed in 'layer_names' has no group")
        count = 0
        for weight in _names(layer_group, "weight_names"):
            dataset = layer_group.get(weight) if weight else None
            if not isinstance(dataset, h5py.Dataset):
                raise LookupError(f"weight '{weight}' listed for layer '{layer}' is not a dataset")
            count += math.prod(dataset.shape) if dataset.shape is not None else 0
            _ = dataset.dtype
        stored[layer] = count
    return stored


def _check_hdf5_model(path: pathlib.Path, prefix: str, received: str) -> tuple[dict, dict[str, int]]:
    """Checks the HDF5 structure Keras's legacy loader reads; returns the parsed config and the stored sizes."""
    import h5py

    damage = _global_heap_damage(path)
    if damage:
        raise ValueError(
            f"{prefix} the HDF5 file is damaged ({damage}; HDF5 would hang reading it). {received} {_DAMAGED_FIX}"
        )
    try:
        with h5py.File(path, "r") as handle:
            if "model_config" not in handle.attrs:
                raise ValueError(
                    f"{prefix} the HDF5 file holds no model architecture (weights only?). Save the whole model with "
                    f"model.save('model.h5') or model.save('model.keras'). {received}"
                )
            text = _text(handle.attrs["model_config"], "attribute 'model_config'")
            try:
                config = json.loads(text)
            except ValueError as error:
                raise ValueError(
                    f"{prefix} its model_config attribute is not valid JSON ({error}). {received} {_DAMAGED_FIX}"
                ) from error
            if not isinstance(config, dict):
                raise ValueError(
                    f"{prefix} its model_config attribute is not a model config (a JSON object). Received: "
                    f"{type(config).__name__} in {received[len('Received: ') :]} {_DAMAGED_FIX}"
                )
            stored = _stored_weights(handle)
    except (OSError, KeyError, RuntimeError, TypeError, ValueError, LookupError) as error:
        if isinstance(error, ValueError) and str(error).startswith(prefix):
            raise  # one of the messages above
        raise ValueError(
            f"{prefix} the HDF5 file is truncated or damaged ({error}); was the download or copy interrupted? "
            f"{received} {_DAMAGED_FIX}"
        ) from error
    return config, stored
