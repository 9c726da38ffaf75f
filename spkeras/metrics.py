"""Spikes, firing rates, synaptic operations and an energy estimate of a converted network.

Formulas (documented in docs/concepts.md):

- ANN cost: ``MACs = Σ_linear output elements × fan-in`` (fan-in = kh·kw·C_in for Conv2D, inputs for Dense).
- SNN cost per image over T steps: ``SOPs = Σ_l spikes_l × fan-out_l`` where ``spikes_l`` is the mean number of
  spikes of spiking layer l per image and ``fan-out_l`` is the mean number of synapses a spike of layer l drives:
  the connections of the linear layer(s) it feeds divided by their number of input elements (pooling, padding
  and flatten between them pass a spike on to exactly one cell). Analog input is a real-valued current, so the
  first linear layer costs its MACs once per step: ``input MACs = T × MACs(first layer)``. (With spike-encoded
  input the first layer accumulates input spikes; those are not counted.)
- Energy: ``E_SNN = SOPs·E_AC + input MACs·E_MAC`` and ``E_ANN = MACs·E_MAC``, with per-operation energies as
  parameters (defaults: 0.9 pJ per accumulate and 4.6 pJ per multiply-accumulate, the 45 nm CMOS figures of
  Horowitz, ISSCC 2014, as commonly cited).
"""

from __future__ import annotations

import keras
import numpy as np

from spkeras import graph
from spkeras.layers import IntegrateAndFire

ENERGY_PER_AC = 0.9e-12
ENERGY_PER_MAC = 4.6e-12
_LINEAR = (keras.layers.Conv2D, keras.layers.Dense)


def _elements(shape) -> int:
    return int(np.prod([d for d in shape[1:]]))


def _fan_in(layer) -> int:
    kernel_shape = tuple(layer.kernel.shape)
    return int(np.prod(kernel_shape[:-1]))


def layer_macs(model: keras.Model) -> dict[str, int]:
    """Multiply-accumulates per image of every Conv2D/Dense layer of ``model`` (ANN or SNN).

    Examples:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        >>> layer_macs(model)
        {'dense': 12}
    """
    return {
        layer.name: _elements(layer.output.shape) * _fan_in(layer)
        for layer in (node.layer for node in graph.model_graph(model))
        if isinstance(layer, _LINEAR)
    }


def mean_fan_out(snn: keras.Model) -> dict[str, float]:
    """Mean number of synapses driven by one spike, for each spiking layer of ``snn``.

    Examples:
        >>> # mean_fan_out(snn) -> {'activation': 288.0, 're_lu': 10.0}
    """
    nodes = graph.model_graph(snn)
    readers: list[list[int]] = [[] for _ in nodes]
    for index, node in enumerate(nodes):
        for source in node.inputs:
            readers[source].append(index)
    result = {}
    for index, node in enumerate(nodes):
        if not isinstance(node.layer, IntegrateAndFire):
            continue
        total, stack = 0.0, list(readers[index])
        while stack:
            position = stack.pop()
            layer = nodes[position].layer
            if isinstance(layer, _LINEAR):
                connections = _elements(layer.output.shape) * _fan_in(layer)
                total += connections / _elements(layer.input.shape)
            elif not isinstance(layer, IntegrateAndFire):
                stack.extend(readers[position])
        result[node.layer.name] = total
    return result


def summarize(
    snn: keras.Model,
    result,
    energy_per_ac: float = ENERGY_PER_AC,
    energy_per_mac: float = ENERGY_PER_MAC,
) -> dict:
    """Synaptic operations, MACs and energy of one simulation result, per image.

    Args:
        snn: The simulated spiking model.
        result: Its :class:`~spkeras.simulate.SimulationResult`.
        energy_per_ac: Joules per accumulate (a synaptic operation).
        energy_per_mac: Joules per multiply-accumulate.

    Returns:
        A dict with ``ann_macs``, ``input_macs`` (real-valued first-layer work over T steps, analog input only),
        ``synaptic_operations`` (total and per layer), ``spikes_per_image`` (per layer), ``energy_snn_joules``,
        ``energy_ann_joules`` and their ratio.

    Examples:
        >>> # summarize(snn, spkeras.evaluate(snn, x, y, timesteps=64))["energy_ratio"]
    """
    macs = layer_macs(snn)
    fan_out = mean_fan_out(snn)
    spikes = result.spikes_per_layer()
    per_layer = {name: spikes[name] * fan_out.get(name, 0.0) for name in spikes}
    first = next(iter(macs.values())) if macs else 0
    # Analog input drives the first layer with real values (MACs every step); spike-encoded input
    # (poisson/count) makes it accumulate instead — those input spikes are not counted here.
    input_macs = first * result.timesteps if result.encoding == "analog" else 0
    total_sops = float(sum(per_layer.values()))
    ann_macs = int(sum(macs.values()))
    energy_snn = total_sops * energy_per_ac + input_macs * energy_per_mac
    energy_ann = ann_macs * energy_per_mac
    return {
        "timesteps": result.timesteps,
        "ann_macs": ann_macs,
        "input_macs": int(input_macs),
        "synaptic_operations": total_sops,
        "synaptic_operations_per_layer": per_layer,
        "mean_fan_out": fan_out,
        "spikes_per_image": spikes,
        "energy_per_ac_joules": energy_per_ac,
        "energy_per_mac_joules": energy_per_mac,
        "energy_snn_joules": energy_snn,
        "energy_ann_joules": energy_ann,
        "energy_ratio": energy_snn / energy_ann if energy_ann else float("nan"),
    }


def firing_rates(snn: keras.Model, x, timesteps: int = 64, batch_size: int = 100) -> dict[str, np.ndarray]:
    """Per-neuron firing rates (spikes per step) of every spiking layer, flattened over images and neurons.

    Examples:
        >>> # rates = firing_rates(snn, x_test[:100], timesteps=64); rates["re_lu"].max() <= 1
    """
    from spkeras.simulate import record

    values = record(snn, x, timesteps=timesteps, batch_size=batch_size)
    rates = {}
    for node in graph.model_graph(snn):
        layer = node.layer
        if isinstance(layer, IntegrateAndFire):
            value = values[layer.name]
            if layer.spike_value == "threshold":
                value = value / keras.ops.convert_to_numpy(layer.threshold)
            rates[layer.name] = np.asarray(value).reshape(-1)
    return rates
