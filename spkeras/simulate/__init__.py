"""Time-stepped simulation of converted spiking networks (see :mod:`spkeras.simulate.simulator`)."""

from spkeras.simulate.baseline import ann_accuracy
from spkeras.simulate.decode import score
from spkeras.simulate.entry_points import evaluate, record, spike_trains
from spkeras.simulate.result import SimulationResult
from spkeras.simulate.simulator import Simulator, get_simulator

__all__ = [
    "SimulationResult",
    "Simulator",
    "ann_accuracy",
    "evaluate",
    "get_simulator",
    "record",
    "score",
    "spike_trains",
]
