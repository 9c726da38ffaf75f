"""spkeras: convert trained Keras CNNs into spiking neural networks and simulate them over time.

Importing ``spkeras`` is cheap: TensorFlow, Keras and matplotlib are imported when a name that needs them is
first used (``spkeras.convert``, ``spkeras.metrics``, ``spkeras.plots``, ...), so ``spkeras --help`` answers
at once. Every submodule is reachable as an attribute after ``import spkeras``. When Keras is already imported,
``import spkeras`` registers the spiking layer classes with Keras right away (so ``keras.saving.load_model``
can read converted ``.keras`` files); :func:`spkeras.load_model` always does.

Examples:
    >>> import spkeras
    >>> sample = spkeras.demo.load_sample()
    >>> cnn = spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH)
    >>> snn = spkeras.convert(cnn, sample["x_calibration"][:200], method="ecc", timesteps=16)
    >>> result = spkeras.evaluate(snn, sample["x_test"][:50], sample["y_test"][:50], timesteps=16)
    >>> result.timesteps
    16
    >>> spkeras.metrics.summarize(snn, result)["ann_macs"] > 0
    True
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what the lazy names below resolve to (also read by static tools: mkdocstrings, IDEs)
    from spkeras import demo, layers, methods
    from spkeras.analytic import estimate_closed_form
    from spkeras.conversion import convert
    from spkeras.io import load_model, save_model
    from spkeras.nir import export_nir, import_nir
    from spkeras.qcfs import finetune, prepare_for_conversion
    from spkeras.simulate import SimulationResult, evaluate
    from spkeras.simulate.decode import predict

from spkeras.version import __version__

# Public name -> (module, attribute); imported on first access.
_LAZY_ATTRIBUTES = {
    "SimulationResult": ("spkeras.simulate", "SimulationResult"),
    "convert": ("spkeras.conversion", "convert"),
    "estimate_closed_form": ("spkeras.analytic", "estimate_closed_form"),
    "evaluate": ("spkeras.simulate", "evaluate"),
    "export_nir": ("spkeras.nir", "export_nir"),
    "finetune": ("spkeras.qcfs", "finetune"),
    "import_nir": ("spkeras.nir", "import_nir"),
    "load_model": ("spkeras.io", "load_model"),
    "predict": ("spkeras.simulate.decode", "predict"),
    "prepare_for_conversion": ("spkeras.qcfs", "prepare_for_conversion"),
    "save_model": ("spkeras.io", "save_model"),
}

__all__ = [
    "SimulationResult",
    "__version__",
    "convert",
    "demo",
    "estimate_closed_form",
    "evaluate",
    "export_nir",
    "finetune",
    "import_nir",
    "layers",
    "load_model",
    "methods",
    "predict",
    "prepare_for_conversion",
    "save_model",
]


def __getattr__(name: str):
    """Imports a public function or a submodule (``spkeras.metrics``, ``spkeras.plots``, ...) on first use."""
    if name in _LAZY_ATTRIBUTES:
        module_name, attribute = _LAZY_ATTRIBUTES[name]
        value = getattr(importlib.import_module(module_name), attribute)
        globals()[name] = value
        return value
    if name.startswith("_"):
        raise AttributeError(f"module 'spkeras' has no attribute '{name}'")
    try:
        return importlib.import_module(f"spkeras.{name}")
    except ModuleNotFoundError as error:
        if error.name != f"spkeras.{name}":
            raise  # the submodule exists but one of its imports is missing
        raise AttributeError(f"module 'spkeras' has no attribute '{name}'") from None


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | {"metrics", "plots", "simulate", "models", "io", "conversion"})


if "keras" in sys.modules:  # Keras is loaded anyway: register the spiking layers now, at little cost.
    importlib.import_module("spkeras.layers")
