"""Calibration: activation statistics of the folded ANN and measurements of (partial) spiking networks."""

from spkeras.calibration import modes
from spkeras.calibration.currents import max_input_current
from spkeras.calibration.statistics import HISTOGRAM_BINS, LOG10_RANGE, SiteStatistics, collect_statistics

__all__ = [
    "HISTOGRAM_BINS",
    "LOG10_RANGE",
    "SiteStatistics",
    "collect_statistics",
    "modes",
    "max_input_current",
]
