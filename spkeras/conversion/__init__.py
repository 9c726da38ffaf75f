"""ANN → SNN conversion: validate, fold batch norms, calibrate, balance thresholds, build.

See :mod:`spkeras.conversion.pipeline` for the steps and :mod:`spkeras.conversion.registry` for the layer converters.
"""

from spkeras.conversion.lower import layer_report
from spkeras.conversion.pipeline import MAX_POOLING_POLICIES, convert, fold_model
from spkeras.conversion.probe import Probe
from spkeras.conversion.registry import (
    register_converter,
    registered_converter,
    supported_layer_names,
    unregister_converter,
)

__all__ = [
    "MAX_POOLING_POLICIES",
    "Probe",
    "convert",
    "fold_model",
    "layer_report",
    "register_converter",
    "registered_converter",
    "supported_layer_names",
    "unregister_converter",
]
