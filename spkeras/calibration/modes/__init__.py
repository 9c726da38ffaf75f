"""Post-conversion calibration modes: registered objects, and pipelines (named tuples of modes).

Built-in modes, each one module that registers itself: ``"threshold"`` (:mod:`.threshold`), ``"bias"``
(:mod:`.bias`), ``"potential"`` (:mod:`.potential`), ``"per_step"`` (:mod:`.per_step`). Built-in pipelines:
``"light"`` = threshold + bias, ``"advanced"`` = threshold + potential. A new mode is one module: subclass
:class:`CalibrationMode` (or :class:`RateMode`) and pass an instance to :func:`register_mode` (docs/extending.md).

Examples:
    >>> from spkeras.calibration import modes
    >>> modes.available_modes()
    ['threshold', 'bias', 'potential', 'per_step']
    >>> modes.available_pipelines()
    {'light': ('threshold', 'bias'), 'advanced': ('threshold', 'potential')}
"""

from spkeras.calibration.modes import bias, per_step, potential, threshold
from spkeras.calibration.modes.rates import RateMode
from spkeras.calibration.modes.registry import (
    CalibrationMode,
    CalibrationRun,
    available_modes,
    available_pipelines,
    get_mode,
    neuron_weights,
    register_mode,
    register_pipeline,
    resolve_modes,
    tune_network,
    tune_scales,
    unregister_mode,
    unregister_pipeline,
)

BUILT_IN_MODULES = (threshold, bias, potential, per_step)
register_pipeline("light", ("threshold", "bias"))
register_pipeline("advanced", ("threshold", "potential"))

__all__ = [
    "CalibrationMode",
    "CalibrationRun",
    "RateMode",
    "available_modes",
    "available_pipelines",
    "get_mode",
    "neuron_weights",
    "register_mode",
    "register_pipeline",
    "resolve_modes",
    "tune_network",
    "tune_scales",
    "unregister_mode",
    "unregister_pipeline",
]
