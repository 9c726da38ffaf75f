"""Loading source models safely (Keras-2-era ``.h5`` configs translated) and saving converted ones atomically.

Files are checked before Keras reads them (:func:`check_model_file`), so a wrong file gets a message that says
what is wrong with it, and a damaged file is refused before Keras, h5py or TensorFlow can hang or allocate on it.
Outputs are written to a temporary file in the destination folder and renamed into place (:func:`atomic_output`),
so an interrupted save never leaves a half-written file.

The package, by job: ``atomic`` (atomic writes), ``hdf5`` (HDF5 structure and global-heap checks), ``declared``
(declared-size bounds), ``check`` (the file check), ``config`` (a model's layer list read without deserialising
code), ``legacy`` and ``legacy_weights`` (Keras-2-era ``.h5`` translation), ``models`` (load and save). Importing
it does not import Keras or TensorFlow.

Examples:
    >>> import spkeras.io
    >>> spkeras.io.check_model_file(spkeras.demo.DEMO_MODEL_PATH).suffix
    '.h5'
"""

import importlib

from spkeras.io.atomic import atomic_output, current_umask, refuse_existing, write_text
from spkeras.io.check import MODEL_SUFFIXES, check_model_file
from spkeras.io.config import LayerEntry, config_layers, list_layers, read_model_config
from spkeras.io.models import load_model, save_model

__all__ = [
    "MODEL_SUFFIXES",
    "LayerEntry",
    "atomic_output",
    "check_model_file",
    "config_layers",
    "current_umask",
    "list_layers",
    "load_model",
    "read_model_config",
    "refuse_existing",
    "save_model",
    "write_text",
]


def __getattr__(name: str):
    """Imports the Keras-2-era translation modules (which import Keras) on first use: ``spkeras.io.legacy``."""
    if name in ("legacy", "legacy_weights"):
        return importlib.import_module(f"spkeras.io.{name}")
    raise AttributeError(f"module 'spkeras.io' has no attribute '{name}'")
