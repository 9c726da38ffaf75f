"""Lower bounds of the strict ratio for benchmarks/simulation_speed.py --profile (issue 29 part 2); not a script.

The strict ratio is simulation time over T compiled ANN passes. Two stand-in simulators bound what any change
to the neuron update could reach with TensorFlow's kernels on this machine, measured interleaved with the real
simulation and the ANN in one process with default threading:

- *one-pass neuron*: every spiking layer's step is a single elementwise op (``V ← V + I``, and ``V`` goes on to
  the next layer). This is what a fused custom kernel (charge, fire, reset and emit in one pass over the map,
  without counting) would at best cost. It is not a spiking network; its outputs are meaningless.
- *synaptic only*: the spiking layers pass their input current through unchanged: the cost of the convolutions,
  dense layers and pooling alone, i.e. the ratio if the neuron update cost nothing.

If the one-pass bound is above 1.0, no neuron kernel reaches the bar with these synaptic kernels.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from simulation_speed_measure import median_time
from simulation_speed_models import timing_setup

from spkeras.simulate import Simulator

#: Stand-in simulators: name → number of elementwise passes per neuron step.
BOUNDS = {"one_pass_neuron": 1, "synaptic_only": 0}


class BoundSimulator(Simulator):
    """A :class:`Simulator` whose spiking layers are replaced by ``passes`` (0 or 1) elementwise ops per step."""

    def __init__(self, snn, timesteps, passes: int):
        self.passes = passes
        super().__init__(snn, timesteps)

    def _counting_step(self, layer):
        zero = tf.constant(0.0)

        def step(current, state, time_index):
            if self.passes == 0:
                return current, state, zero, zero
            potential = state[0] + current
            return potential, (potential,) + tuple(state[1:]), zero, zero

        return step


def measure_bounds(model_name, batch_size, timesteps, repeats) -> dict:
    """Runs in a subprocess with default threading: the strict ratio of the simulation and of both stand-ins."""
    snn, ann, x_tensor, y_tensor, seed = timing_setup(model_name, batch_size, timesteps)
    simulators = {"snn": Simulator(snn, timesteps)}
    simulators.update({name: BoundSimulator(snn, timesteps, passes) for name, passes in BOUNDS.items()})
    runs = {
        name: (lambda simulator=simulator: [value.numpy() for value in simulator.run_batch(x_tensor, y_tensor, seed)])
        for name, simulator in simulators.items()
    }
    ann(x_tensor).numpy()
    for run in runs.values():
        run()
    times = {name: [] for name in ["ann", *runs]}
    for _ in range(repeats):  # interleaved, so that load changes on the machine hit all alike
        times["ann"].append(median_time(lambda: ann(x_tensor).numpy(), 3))
        for name, run in runs.items():
            times[name].append(median_time(run, 1))
    ann_time = float(np.median(times["ann"]))
    snn_time = float(np.median(times["snn"]))
    record = {"ann_time_s": ann_time, "snn_time_s": snn_time, "ratio_snn_over_T_ann": snn_time / (timesteps * ann_time)}
    for name in BOUNDS:
        seconds = float(np.median(times[name]))
        record[f"{name}_time_s"], record[f"{name}_ratio"] = seconds, seconds / (timesteps * ann_time)
    return record
