"""Conversion methods: each module registers a threshold policy under its name."""

from spkeras.methods import ecc, max_norm, robust  # noqa: F401  (registration)
from spkeras.methods.base import ThresholdPolicy, available_methods, get_method, register_method

__all__ = ["ThresholdPolicy", "available_methods", "get_method", "register_method"]
