"""What a simulation will cost, checked before it starts: absurd lengths are refused, long or large runs warned.

A simulation keeps a few values per step (accuracy and the spikes of every spiking layer, as ``TensorArray``
elements of about 100 bytes each plus the NumPy results), and one batch keeps every layer's values for one step.
So:

- ``timesteps > MAX_TIMESTEPS`` (10⁶) is refused at once: no rate-coded network needs it (accuracy saturates
  within a few hundred to a few thousand steps), and the per-step records alone would take gigabytes.
- ``timesteps > LONG_TIMESTEPS`` (10⁵) runs, with a warning that gives the estimated work
  (multiply-accumulates of the dense synaptic layers, an upper bound of the event-driven work) and memory.
- A batch whose estimated working memory exceeds half the machine's physical memory is refused, with the batch
  size that fits.
"""

from __future__ import annotations

import logging
import os
import warnings

from spkeras.network import elements, fan_in

logger = logging.getLogger(__name__)

MAX_TIMESTEPS = 1_000_000
LONG_TIMESTEPS = 100_000
_BYTES_PER_RECORDED_STEP = 100  # one TensorArray element (measured order of magnitude) per recorded value
_WORKING_COPIES = 4  # input, output, state and a temporary per layer value, float32
_MAC_PER_SECOND = 1e9  # a rough single-core CPU rate, used for the time estimate only


def physical_memory() -> int | None:
    """The machine's physical memory in bytes, or ``None`` where the OS does not say.

    Examples:
        >>> memory = physical_memory()
        >>> memory is None or memory > 0
        True
    """
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def _gigabytes(count: float) -> str:
    return f"{count / 2**30:.2g} GiB"


def check_timesteps_budget(timesteps: int) -> int:
    """Refuses a simulation longer than :data:`MAX_TIMESTEPS` steps.

    Examples:
        >>> check_timesteps_budget(256)
        256
        >>> try:
        ...     check_timesteps_budget(10**7)
        ... except ValueError as error:
        ...     print(str(error).split(". ")[-2])
        Received: timesteps=10000000
    """
    if timesteps > MAX_TIMESTEPS:
        records = timesteps * 4 * _BYTES_PER_RECORDED_STEP
        raise ValueError(
            "`timesteps` is far beyond what a rate-coded network needs (accuracy saturates within a few hundred to "
            f"a few thousand steps), and the per-step records alone would take about {_gigabytes(records)}. "
            f"Received: timesteps={timesteps}. Pass timesteps <= {MAX_TIMESTEPS} "
            "(spkeras.simulate.budget.MAX_TIMESTEPS)."
        )
    return timesteps


def per_sample_cost(network) -> tuple[int, int]:
    """``(values, multiply_accumulates)`` per sample and step of a :class:`~spkeras.network.SpikingNetwork`."""
    values = macs = 0
    for node in network.nodes:
        shape = node.layer.output.shape if hasattr(node.layer, "output") else None
        if shape is None:
            continue
        values += elements(shape)
        if node.role == "synaptic":
            macs += elements(shape) * fan_in(node.layer)
    return values, int(macs)


def check_simulation(simulator, images: int, batch_size: int) -> None:
    """Refuses a batch that cannot fit in memory; warns about a very long run, with its estimated cost.

    Args:
        simulator: The :class:`~spkeras.simulate.simulator.Simulator` about to run.
        images: Number of samples to simulate.
        batch_size: The requested batch size.
    """
    values, macs = per_sample_cost(simulator.network)
    batch = min(batch_size, images)
    batch_bytes = batch * values * 4 * _WORKING_COPIES * simulator.chunk_size
    memory = physical_memory()
    if memory is not None and batch_bytes > memory / 2:
        fits = max(1, int(memory / 2 / (values * 4 * _WORKING_COPIES * simulator.chunk_size)))
        raise ValueError(
            f"A batch of {batch} samples needs about {_gigabytes(batch_bytes)} of working memory, more than half of "
            f"this machine's {_gigabytes(memory)}. Received: batch_size={batch_size}, chunk_size="
            f"{simulator.chunk_size}. Pass batch_size <= {fits} (or a smaller chunk_size)."
        )
    if simulator.timesteps > LONG_TIMESTEPS:
        work = float(images) * simulator.timesteps * macs
        records = simulator.timesteps * (1 + 2 * len(simulator.layer_names)) * _BYTES_PER_RECORDED_STEP
        hours = work / _MAC_PER_SECOND / 3600
        warnings.warn(
            f"timesteps={simulator.timesteps} is a very long simulation (rate-coded accuracy saturates within a few "
            f"thousand steps): about {work:.2g} multiply-accumulates for {images} sample(s) (roughly {hours:.2g} h "
            f"at 10⁹ per second) and {_gigabytes(records)} of per-step records. Pass fewer timesteps unless the "
            "run is meant to be this long.",
            UserWarning,
            stacklevel=3,
        )


__all__ = ["LONG_TIMESTEPS", "MAX_TIMESTEPS", "check_simulation", "check_timesteps_budget", "physical_memory"]
