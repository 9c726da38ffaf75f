"""SpKeras compatibility: the original tool's closed-form network, bit for bit, and the two cnn_to_snn engines."""

from spkeras.compat.backends import LegacyBackend, SimulatedBackend
from spkeras.compat.layers import SpikeActivation
from spkeras.compat.plan import CALIBRATION_BATCH, POOLING_LAYERS, LegacyPlan, LegacyStep, convert_legacy
from spkeras.compat.run import build_legacy_model, encode_input, layer_counts, output_counts, spike_layers

__all__ = [
    "CALIBRATION_BATCH",
    "POOLING_LAYERS",
    "LegacyBackend",
    "LegacyPlan",
    "LegacyStep",
    "SimulatedBackend",
    "SpikeActivation",
    "build_legacy_model",
    "convert_legacy",
    "encode_input",
    "layer_counts",
    "output_counts",
    "spike_layers",
]
