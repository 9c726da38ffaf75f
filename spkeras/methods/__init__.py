"""Conversion methods: each module registers a threshold policy under its name."""

from spkeras.methods import augmapping, channelwise, ecc, max_norm, opi, presimulation, qcfs, robust, termapping  # noqa: F401
from spkeras.methods.base import (
    CalibrationContext,
    ThresholdPolicy,
    WeightTransform,
    available_methods,
    get_method,
    register_method,
    unregister_method,
)

__all__ = [
    "CalibrationContext",
    "ThresholdPolicy",
    "WeightTransform",
    "available_methods",
    "get_method",
    "register_method",
    "unregister_method",
]
