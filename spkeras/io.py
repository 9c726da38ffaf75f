"""Loading source models safely and saving converted ones atomically.

Files are checked before Keras reads them, so a wrong file gets a message that says what is wrong with it: it
does not exist, it is not a zip archive (``.keras``) or not an HDF5 file (``.h5``), it is truncated, or it
holds weights only. Outputs are written to a temporary file in the destination folder and renamed into place,
so an interrupted save never leaves a half-written file, and they get the mode any new file of the user gets
(``0o666`` minus the umask).

Damaged files are refused before Keras, h5py or TensorFlow can hang or allocate on them:

- **Global heap.** HDF5 keeps variable-length strings (every attribute Keras writes: ``model_config``,
  ``keras_version``, ``backend``, ``layer_names``, ``weight_names``) in "global heap collections". HDF5's
  parser of a collection (``H5HG__cache_heap_deserialize``, HDF5 1.14) never ends when an object's size is 0
  (zeroed or overwritten bytes), and reads past the collection when a size is too large. Every collection in the
  file (signature ``GCOL``, version 1) is first walked in Python the way HDF5 walks it; one that would loop or
  overrun is refused, unless it lies inside a dataset's stored values (a chance match in the weights).
- **Attributes and weights.** The attributes that Keras's legacy ``.h5`` loader reads are read and parsed first
  (``model_config`` as JSON, ``keras_version``, ``backend``, ``layer_names``, each layer's ``weight_names``),
  and each listed weight must be a dataset whose shape and dtype can be read.
- **Declared sizes.** Before Keras builds the model, every layer of the model config (``model_config`` of an
  ``.h5``, ``config.json`` of a ``.keras``; nested models too) gets a lower bound of its weight values from its
  own config: ``Dense`` ``units`` x (1 + bias), convolutions ``filters`` x the kernel's area (+ bias),
  depthwise and separable convolutions, ``Embedding`` ``input_dim`` x ``output_dim``, recurrent layers
  ``units`` squared x gates; input-dependent dimensions count as 1. A layer whose bound exceeds what the file
  stores for it is refused by name: for an ``.h5``, the values of its weight datasets (or of all weights when
  it has no group of its name); for a ``.keras``, two values per byte of the archive's weight entries (int4 is
  the densest format Keras stores). A layer cannot hold more values than the file has, so this never refuses a
  file Keras could load, and a config edited to ``Dense(units=10**9)`` is refused instead of allocating 4 GB.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import mmap
import os
import pathlib
import tempfile
import zipfile
import zlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras

logger = logging.getLogger(__name__)

MODEL_SUFFIXES = (".h5", ".hdf5", ".keras")
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_ZIP_SIGNATURE = b"PK\x03\x04"
_HEAP_SIGNATURE = b"GCOL"  # an HDF5 global heap collection
_DAMAGED_FIX = "Re-download the file, or save the model again with model.save('model.keras')."
_VERIFIED: dict[tuple, None] = {}  # (path, size, mtime) of files that passed the checks (the CLI checks twice)


def current_umask() -> int:
    """The process's file-mode creation mask (umask), read without changing it where the OS allows.

    Examples:
        >>> 0 <= current_umask() <= 0o777
        True
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:  # Linux: read it, no global change
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: the only portable way to read it is to set it and put it back
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_output(path, mode: int | None = None, overwrite: bool = True):
    """Yields a temporary path next to ``path``; on success it is renamed to ``path``, on failure deleted.

    The temporary file keeps ``path``'s suffix (writers such as ``savefig`` choose the format by it), and the
    final file gets ``mode`` (default: ``0o666`` minus the user's umask, like any newly created file). An
    existing ``path`` is replaced only when the new file is complete, so a failure leaves it intact.

    Args:
        path: The destination file; its folder must exist.
        mode: Permission bits of the final file.
        overwrite: Whether an existing ``path`` may be replaced (the default, like Keras's ``model.save``);
            ``False`` refuses it before anything is written.

    Yields:
        A ``pathlib.Path`` to write to.

    Raises:
        ValueError: If the destination folder does not exist, or ``path`` exists and ``overwrite=False``.

    Examples:
        >>> import pathlib, tempfile
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> with atomic_output(folder / "report.json") as temporary:
        ...     _ = temporary.write_text('{"ok": true}')
        >>> (folder / "report.json").read_text()
        '{"ok": true}'
        >>> sorted(p.name for p in folder.iterdir())  # no temporary file left behind
        ['report.json']
    """
    path = pathlib.Path(path)
    if not path.parent.is_dir():
        raise ValueError(f"The folder of the output file does not exist. Received: path='{path}'.")
    refuse_existing(path, overwrite)
    handle, temporary = tempfile.mkstemp(suffix=path.suffix, prefix=f".{path.stem}.", dir=path.parent)
    os.close(handle)
    temporary = pathlib.Path(temporary)
    try:
        yield temporary
        os.chmod(temporary, (0o666 & ~current_umask()) if mode is None else mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise


def refuse_existing(path, overwrite: bool) -> None:
    """Raises a ``ValueError`` if ``path`` exists and ``overwrite`` is false.

    Examples:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "snn.keras"
        >>> _ = path.write_bytes(b"")
        >>> try:
        ...     refuse_existing(path, overwrite=False)
        ... except ValueError as error:
        ...     print(str(error).split(". ")[0])
        The output file already exists
    """
    if not isinstance(overwrite, bool):
        raise TypeError(f"`overwrite` must be True or False. Received: overwrite={overwrite!r}.")
    path = pathlib.Path(path)
    if not overwrite and (path.exists() or path.is_symlink()):
        raise ValueError(
            f"The output file already exists. Received: path='{path}', overwrite=False. Pass overwrite=True to "
            "replace it (it is replaced only once the new file is complete), or choose another path."
        )


def write_text(path, text: str, overwrite: bool = True) -> pathlib.Path:
    """Writes ``text`` (UTF-8) to ``path`` atomically: readers see the old file or the complete new one.

    ``overwrite=False`` refuses an existing ``path`` (see :func:`refuse_existing`).

    Examples:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "result.json"
        >>> write_text(path, "{}").read_text()
        '{}'
    """
    path = pathlib.Path(path)
    with atomic_output(path, overwrite=overwrite) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return path


def _describe(path: pathlib.Path, argument: str) -> str:
    return f"Received: {argument}='{path}'."


# --- structural checks of HDF5 files (no Keras) --------------------------------------------------------------


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


# --- declared sizes of the model config ----------------------------------------------------------------------

_CONVOLUTIONS = {"Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"}
_CONVOLUTIONS |= {"Convolution1D", "Convolution2D", "Convolution3D", "Convolution2DTranspose", "Deconvolution2D"}
_RECURRENT_GATES = {"SimpleRNN": 1, "GRU": 3, "LSTM": 4}
_MODELS = {"Sequential", "Functional", "Model"}


def _positive(config: dict, key: str, default: int = 1) -> int:
    value = config.get(key, default)
    return value if isinstance(value, int) and value > 0 else 1  # anything else Keras refuses by itself


def _kernel_area(config: dict) -> int:
    size = config.get("kernel_size", 1)
    sizes = size if isinstance(size, (list, tuple)) else [size]
    return math.prod(value if isinstance(value, int) and value > 0 else 1 for value in sizes)


def _declared_at_least(class_name: str, config: dict) -> tuple[int, str]:
    """A lower bound of the weight values a layer declares (from its own config) and the settings behind it."""
    bias = 1 if config.get("use_bias", True) is not False else 0
    if class_name == "Dense":
        units = _positive(config, "units")
        return units * (1 + bias), f"units={config.get('units')}"
    if class_name in _CONVOLUTIONS:
        filters = _positive(config, "filters")
        return filters * (_kernel_area(config) + bias), f"filters={config.get('filters')}, " + (
            f"kernel_size={config.get('kernel_size')}"
        )
    if class_name in ("DepthwiseConv1D", "DepthwiseConv2D"):
        multiplier = _positive(config, "depth_multiplier")
        return multiplier * (_kernel_area(config) + bias), f"depth_multiplier={config.get('depth_multiplier')}"
    if class_name in ("SeparableConv1D", "SeparableConv2D", "SeparableConvolution2D"):
        multiplier, filters = _positive(config, "depth_multiplier"), _positive(config, "filters")
        declared = multiplier * _kernel_area(config) + multiplier * filters + bias * filters
        return declared, f"filters={config.get('filters')}, depth_multiplier={config.get('depth_multiplier')}"
    if class_name == "Embedding":
        declared = _positive(config, "input_dim") * _positive(config, "output_dim")
        return declared, f"input_dim={config.get('input_dim')}, output_dim={config.get('output_dim')}"
    if class_name in _RECURRENT_GATES:
        units = _positive(config, "units")
        return _RECURRENT_GATES[class_name] * units * (units + 1), f"units={config.get('units')}"
    return 0, ""


def _config_layers(config) -> list:
    """The layer entries of a Sequential/Functional config (Keras 3, Keras 2, or a bare Keras 2.0 list)."""
    inner = config.get("config") if isinstance(config, dict) else None
    layers = inner.get("layers") if isinstance(inner, dict) else inner
    return [layer for layer in layers if isinstance(layer, dict)] if isinstance(layers, list) else []


def _declared_layers(config) -> list[tuple[str, str, int, str]]:
    """(name, class, lower bound of its weight values, settings) for every top-level layer of a model config."""
    found = []
    for layer in _config_layers(config):
        class_name, inner = layer.get("class_name"), layer.get("config")
        if not isinstance(class_name, str) or not isinstance(inner, dict):
            continue
        name = inner.get("name", layer.get("name"))
        if class_name in _MODELS:
            declared = sum(entry[2] for entry in _declared_layers(layer))
            settings = "its layers"
        else:
            declared, settings = _declared_at_least(class_name, inner)
        found.append((name if isinstance(name, str) else str(name), class_name, declared, settings))
    return found


def _check_declared_sizes(config, stored: dict[str, int] | None, capacity: int, prefix: str, received: str):
    """Refuses the first layer that declares more weight values than the file can hold for it.

    ``stored`` maps layer names to the values stored for them (``.h5``), ``capacity`` is the most values the
    file holds in all (a layer without a group of its name is compared with it).
    """
    for name, class_name, declared, settings in _declared_layers(config):
        available = stored.get(name, capacity) if stored is not None else capacity
        if declared > available:
            where = "for it" if stored is not None and name in stored else "in all"
            raise ValueError(
                f"{prefix} layer '{name}' ({class_name}) declares at least {declared:,} weight values, but the file "
                f"stores {available:,} {where}: its config and its weights disagree (the file is damaged or was "
                f"edited). Received: {settings} for layer '{name}' in {received[len('Received: ') :]} {_DAMAGED_FIX}"
            )


def check_model_file(path, argument: str = "path") -> pathlib.Path:
    """Checks that ``path`` looks like a complete Keras model file, without importing Keras.

    Args:
        path: A ``.h5``/``.hdf5`` or ``.keras`` file.
        argument: How the caller names the file in messages (e.g. ``"MODEL"`` or ``"--ann"``).

    Returns:
        The path.

    Raises:
        ValueError: If the file does not exist, is a folder, is empty, has an unknown extension, is not a zip
            archive (``.keras``) or an HDF5 file (``.h5``), is truncated, or holds no model architecture.

    Examples:
        >>> import spkeras
        >>> check_model_file(spkeras.demo.DEMO_MODEL_PATH).name
        'demo_mnist_cnn.h5'
        >>> check_model_file("nope.keras", argument="MODEL")
        Traceback (most recent call last):
        ...
        ValueError: Model file not found. Received: MODEL='nope.keras'. Check the path (and the working directory).
    """
    path = pathlib.Path(path)
    received = _describe(path, argument)
    if not path.exists():
        raise ValueError(f"Model file not found. {received} Check the path (and the working directory).")
    if path.is_dir():
        raise ValueError(f"The model path is a folder, not a file. {received}")
    suffix = path.suffix.lower()
    if suffix not in MODEL_SUFFIXES:
        raise ValueError(
            f"Unknown model file type '{path.suffix}'. {received} "
            f"Expected one of {MODEL_SUFFIXES} (save with model.save('model.keras'))."
        )
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except OSError as error:
        raise ValueError(f"Cannot read the model file: {error.strerror}. {received}") from error
    prefix = f"Could not load a Keras model from '{path}':"
    if not head:
        raise ValueError(f"{prefix} the file is empty (0 bytes). {received}")
    if suffix == ".keras":
        if head.startswith(_HDF5_SIGNATURE):
            raise ValueError(f"{prefix} it is an HDF5 (.h5) file with a .keras name; rename it to .h5. {received}")
        if not head.startswith(_ZIP_SIGNATURE):
            raise ValueError(
                f"{prefix} it is not a .keras file (a .keras model is a zip archive; this file is not one). {received}"
            )
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError) as error:
            raise ValueError(
                f"{prefix} the zip archive is truncated or damaged ({error}); was the download or copy "
                f"interrupted? {received}"
            ) from error
        if "config.json" not in names:
            raise ValueError(f"{prefix} the zip archive holds no Keras model (no config.json). {received}")
        key = _verified_key(path)
        if key not in _VERIFIED:
            _check_keras_config(path, prefix, received)
            _remember(key)
        return path
    if head.startswith(_ZIP_SIGNATURE):
        raise ValueError(f"{prefix} it is a .keras zip archive with an {suffix} name; rename it to .keras. {received}")
    import h5py

    if not h5py.is_hdf5(path):
        raise ValueError(f"{prefix} it is not an HDF5 file (a {suffix} model is one). {received}")
    key = _verified_key(path)
    if key not in _VERIFIED:
        config, stored = _check_hdf5_model(path, prefix, received)
        _check_declared_sizes(config, stored, sum(stored.values()), prefix, received)
        _remember(key)
    return path


def _verified_key(path: pathlib.Path) -> tuple:
    status = path.stat()
    return (str(path.resolve()), status.st_size, status.st_mtime_ns, status.st_ino)


def _remember(key: tuple) -> None:
    if len(_VERIFIED) >= 64:
        _VERIFIED.pop(next(iter(_VERIFIED)))
    _VERIFIED[key] = None


def _check_keras_config(path: pathlib.Path, prefix: str, received: str) -> None:
    """Checks a ``.keras`` archive's config.json and its declared sizes against the archive's weight entries."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            config_entry = archive.getinfo("config.json")
            if config_entry.file_size > 64 * 2**20:
                return  # not parsed here; Keras's own loader applies its limits to such an entry
            text = archive.read(config_entry).decode("utf-8")
    except (
        zipfile.BadZipFile,
        OSError,
        UnicodeDecodeError,
        NotImplementedError,
        RuntimeError,
        EOFError,
        zlib.error,
    ) as error:
        raise ValueError(
            f"{prefix} the zip archive is truncated or damaged ({error}); was the download or copy "
            f"interrupted? {received}"
        ) from error
    try:
        config = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise ValueError(f"{prefix} its config.json is not valid JSON ({error}). {received} {_DAMAGED_FIX}") from error
    weight_bytes = sum(e.file_size for e in entries if e.filename not in ("config.json", "metadata.json"))
    _check_declared_sizes(config, None, 2 * weight_bytes, prefix, received)


def _load_model(path, *, argument: str, safe_mode: bool, custom_objects: dict | None, command_line: bool):
    """load_model's body; ``command_line`` words the custom-object hint for the ``spkeras`` command."""
    import keras

    import spkeras.layers  # noqa: F401  (registers spkeras's layer classes, QCFS too: converted models load)

    if isinstance(path, keras.Model):
        return path
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"`{argument}` must be a file path or a keras.Model. Received: {type(path).__name__}.")
    path = check_model_file(path, argument)
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=safe_mode, custom_objects=custom_objects)
    except Exception as error:  # Keras raises many types for unreadable files; report them in one way.
        text = " ".join(str(error).split())
        if "Could not locate" in text or "Unknown layer" in text or "Unknown object" in text:
            hint = (
                "The model uses a custom layer or function, which the command line cannot load; load it in "
                "Python with spkeras.load_model(path, custom_objects={...}) and convert it there."
                if command_line
                else "The model uses a custom layer or function: pass it in `custom_objects`, or register it with "
                "keras.saving.register_keras_serializable before loading."
            )
        else:
            hint = "Check that the file is a complete Keras .h5/.keras model (not weights only)."
        raise ValueError(
            f"Could not load a Keras model from '{path}': {type(error).__name__}: {text}. {hint} "
            f"{_describe(path, argument)}"
        ) from error
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"'{path}' does not contain a Keras model. Received: {type(model).__name__} from {argument}='{path}'."
        )
    logger.info("Loaded model '%s' (%d layers) from %s.", model.name, len(model.layers), path)
    return model


def load_model(path, safe_mode: bool = True, custom_objects: dict | None = None) -> keras.Model:
    """Loads a Keras model from a Keras-2 era ``.h5`` (legacy HDF5) or a Keras 3 ``.keras`` file.

    The file is only read; it is never modified. The model is loaded without its training configuration
    (``compile=False``): conversion only needs the architecture and the weights. Converted spiking models load
    too (their layer classes are registered first).

    Args:
        path: Path of a ``.h5``/``.hdf5`` or ``.keras`` file (or a ``keras.Model``, returned as is).
        safe_mode: Refuse to deserialise arbitrary code (e.g. ``Lambda`` layers) in ``.keras`` files.
            Keep ``True`` for files you did not write yourself.
        custom_objects: Custom layers or functions the file refers to.

    Returns:
        The ``keras.Model``.

    Raises:
        ValueError: If the file does not exist, has an unknown extension, is not a zip archive (``.keras``) or
            an HDF5 file (``.h5``), is truncated, holds weights only, or is not a readable Keras model. The
            message names the file.

    Examples:
        >>> import spkeras
        >>> model = spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH)
        >>> model.outputs[0].shape
        (None, 10)
    """
    return _load_model(path, argument="path", safe_mode=safe_mode, custom_objects=custom_objects, command_line=False)


def save_model(model: keras.Model, path, overwrite: bool = True) -> pathlib.Path:
    """Saves ``model`` to a ``.keras`` file atomically: a failure never leaves a half-written file.

    The file gets the mode of any new file of the user (``0o666`` minus the umask, e.g. ``0o644``). As with
    Keras's ``model.save``, an existing file is replaced by default; it is replaced only once the new file is
    complete, so a failure (a full disk, Ctrl-C) leaves the previous file intact.

    Args:
        model: The model to save (e.g. a converted spiking model).
        path: Destination ending in ``.keras``; its folder must exist.
        overwrite: ``False`` refuses to replace an existing file (a ``ValueError`` before anything is written).

    Returns:
        The destination path.

    Raises:
        ValueError: If ``path`` does not end in ``.keras``, its folder does not exist, or it exists and
            ``overwrite=False``.

    Examples:
        >>> import pathlib, tempfile
        >>> import spkeras
        >>> cnn = spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH)
        >>> path = spkeras.save_model(cnn, pathlib.Path(tempfile.mkdtemp()) / "cnn.keras")
        >>> spkeras.load_model(path).name == cnn.name
        True
    """
    path = pathlib.Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"Converted models are saved as .keras files. Received: path='{path}'.")
    if not path.parent.is_dir():
        raise ValueError(f"The folder of the output file does not exist. Received: path='{path}'.")
    with atomic_output(path, overwrite=overwrite) as temporary:
        model.save(temporary)
    logger.info("Saved '%s' to %s.", model.name, path)
    return path
