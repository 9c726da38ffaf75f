"""The file check: does a path look like a complete Keras model file? Answered without importing Keras.

A wrong file gets a message that says what is wrong with it: it does not exist, it is not a zip archive
(``.keras``) or not an HDF5 file (``.h5``), it is truncated, damaged (see :mod:`spkeras.io.hdf5`), declares
more weights than it stores (see :mod:`spkeras.io.declared`), or holds weights only.
"""

from __future__ import annotations

import json
import pathlib
import zipfile
import zlib

from spkeras.errors import ModelFileNotFoundError
from spkeras.io.declared import _check_declared_sizes
from spkeras.io.hdf5 import _DAMAGED_FIX, _HDF5_SIGNATURE, _check_hdf5_model

MODEL_SUFFIXES = (".h5", ".hdf5", ".keras")
_ZIP_SIGNATURE = b"PK\x03\x04"
_VERIFIED: dict[tuple, None] = {}  # (path, size, mtime) of files that passed the checks (the CLI checks twice)


def _describe(path: pathlib.Path, argument: str) -> str:
    return f"Received: {argument}='{path}'."


def check_model_file(path, argument: str = "path") -> pathlib.Path:
    """Checks that ``path`` looks like a complete Keras model file, without importing Keras.

    Args:
        path: A ``.h5``/``.hdf5`` or ``.keras`` file.
        argument: How the caller names the file in messages (e.g. ``"MODEL"`` or ``"--ann"``).

    Returns:
        The path.

    Raises:
        ModelFileNotFoundError: If the file does not exist (a ``FileNotFoundError`` and a ``ValueError``).
        ValueError: If the file is a folder, is empty, has an unknown extension, is not a zip
            archive (``.keras``) or an HDF5 file (``.h5``), is truncated, or holds no model architecture.

    Examples:
        >>> import spkeras
        >>> check_model_file(spkeras.demo.DEMO_MODEL_PATH).name
        'demo_mnist_cnn.h5'
        >>> try:
        ...     check_model_file("nope.keras", argument="MODEL")
        ... except FileNotFoundError as error:
        ...     print(error)
        Model file not found. Received: MODEL='nope.keras'. Check the path (and the working directory).
    """
    path = pathlib.Path(path)
    received = _describe(path, argument)
    if not path.exists():
        raise ModelFileNotFoundError(f"Model file not found. {received} Check the path (and the working directory).")
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
