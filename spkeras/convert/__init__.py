"""ANN → SNN conversion: validate, fold batch norms, calibrate, balance thresholds, build.

See :mod:`spkeras.convert.pipeline` for the steps and :mod:`spkeras.convert.registry` for the layer converters.
"""

from spkeras.convert.lower import layer_report
from spkeras.convert.pipeline import MAX_POOLING_POLICIES, convert, fold_model
from spkeras.convert.probe import Probe
from spkeras.convert.registry import (
    UnsupportedLayerError,
    register_converter,
    registered_converter,
    supported_layer_names,
    unregister_converter,
)

__all__ = [
    "MAX_POOLING_POLICIES",
    "Probe",
    "UnsupportedLayerError",
    "convert",
    "fold_model",
    "layer_report",
    "register_converter",
    "registered_converter",
    "supported_layer_names",
    "unregister_converter",
]
