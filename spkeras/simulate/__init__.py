"""Time-stepped simulation of converted spiking networks (see :mod:`spkeras.simulate.simulator`)."""

from spkeras.simulate.entry_points import array_batches, evaluate, record, spike_trains
from spkeras.simulate.result import SimulationResult
from spkeras.simulate.simulator import DEFAULT_CHUNK_SIZE, ChunkResult, Simulator, get_simulator

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "ChunkResult",
    "SimulationResult",
    "Simulator",
    "array_batches",
    "evaluate",
    "get_simulator",
    "record",
    "spike_trains",
]
