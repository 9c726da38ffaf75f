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

from spkeras.network import elements, fan_in, spiking_network

ENERGY_PER_AC = 0.9e-12
ENERGY_PER_MAC = 4.6e-12


def layer_macs(model: keras.Model) -> dict[str, int]:
    """Multiply-accumulates per image of every Conv2D/Dense layer of ``model`` (ANN or SNN).

    Examples:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="dense")])
        >>> layer_macs(model)
        {'dense': 12}
    """
    return {
        node.layer.name: elements(node.layer.output.shape) * fan_in(node.layer)
        for node in spiking_network(model).nodes
        if node.role == "synaptic"
    }


def mean_fan_out(snn: keras.Model) -> dict[str, float]:
    """Mean number of synapses driven by one spike, for each spiking layer of ``snn``.

    Examples:
        >>> import keras
        >>> from spkeras.layers import IntegrateAndFire
        >>> inputs = keras.Input((4,))
        >>> spikes = IntegrateAndFire(name="neurons")(keras.layers.Dense(6)(inputs))
        >>> mean_fan_out(keras.Model(inputs, keras.layers.Dense(3)(spikes)))
        {'neurons': 3.0}
    """
    network = spiking_network(snn)
    result = {}
    for position in network.neuron_positions:
        total = 0.0
        for layer in network.downstream_synapses(position):
            total += elements(layer.output.shape) * fan_in(layer) / elements(layer.input.shape)
        result[network.nodes[position].layer.name] = total
    return result


class CostSummary(dict):
    """What :func:`summarize` returns: a plain ``dict`` (JSON-serialisable as is) with a readable :meth:`table`.

    Examples:
        >>> summary = CostSummary(timesteps=64, synaptic_operations=2.5e6, ann_macs=1.2e6, input_macs=3.2e5,
        ...                       energy_snn_joules=3.7e-6, energy_ann_joules=5.5e-6, energy_ratio=0.67)
        >>> print(summary.table())
        cost per image over 64 steps:
          synaptic operations (SOPs)      2.50e+06
          input MACs (analog input)       3.20e+05
          ANN multiply-accumulates        1.20e+06
          energy SNN / ANN                3.70 µJ / 5.50 µJ = 0.67
    """

    def table(self) -> str:
        """The totals per image as a small plain-text table (SOPs, MACs, energy of the SNN and the ANN)."""
        rows = [
            ("synaptic operations (SOPs)", f"{float(self['synaptic_operations']):.2e}"),
            ("input MACs (analog input)", f"{float(self['input_macs']):.2e}"),
            ("ANN multiply-accumulates", f"{float(self['ann_macs']):.2e}"),
            (
                "energy SNN / ANN",
                f"{self['energy_snn_joules'] * 1e6:.2f} µJ / {self['energy_ann_joules'] * 1e6:.2f} µJ"
                f" = {self['energy_ratio']:.2f}",
            ),
        ]
        lines = [f"cost per image over {self['timesteps']} steps:"]
        lines += [f"  {name:<30}  {value}" for name, value in rows]
        return "\n".join(lines)


def summarize(
    snn: keras.Model,
    result,
    energy_per_ac: float = ENERGY_PER_AC,
    energy_per_mac: float = ENERGY_PER_MAC,
) -> CostSummary:
    """Synaptic operations, MACs and energy of one simulation result, per image.

    Args:
        snn: The simulated spiking model.
        result: Its :class:`~spkeras.simulate.SimulationResult`.
        energy_per_ac: Joules per accumulate (a synaptic operation).
        energy_per_mac: Joules per multiply-accumulate.

    Returns:
        A :class:`CostSummary`: a dict with ``ann_macs``, ``input_macs`` (real-valued first-layer work over T
        steps, analog input only), ``synaptic_operations`` (total and per layer), ``spikes_per_image`` (per
        layer), ``energy_snn_joules``, ``energy_ann_joules`` and their ratio; ``.table()`` formats it.

    Examples:
        >>> import spkeras
        >>> sample = spkeras.demo.load_sample()
        >>> snn = spkeras.convert(spkeras.demo.DEMO_MODEL_PATH, sample["x_calibration"][:50])
        >>> result = spkeras.evaluate(snn, sample["x_test"][:20], sample["y_test"][:20], timesteps=16)
        >>> summary = summarize(snn, result)
        >>> 0 < summary["energy_ratio"]
        True
        >>> print(summary.table().splitlines()[0])
        cost per image over 16 steps:
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
    return CostSummary(
        {
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
    )


def firing_rates(snn: keras.Model, x, timesteps: int = 64, batch_size: int = 100) -> dict[str, np.ndarray]:
    """Per-neuron firing rates (spikes per step) of every spiking layer, flattened over images and neurons.

    Examples:
        >>> import spkeras
        >>> sample = spkeras.demo.load_sample()
        >>> snn = spkeras.convert(spkeras.demo.DEMO_MODEL_PATH, sample["x_calibration"][:50])
        >>> rates = firing_rates(snn, sample["x_test"][:10], timesteps=16)
        >>> all(0 <= rate.min() and rate.max() <= 1 for rate in rates.values())
        True
    """
    from spkeras.simulate import record

    values = record(snn, x, timesteps=timesteps, batch_size=batch_size)
    rates = {}
    for layer in spiking_network(snn).neuron_layers:
        value = values[layer.name]
        if layer.spike_value == "threshold":
            value = value / layer.threshold.numpy()
        rates[layer.name] = np.asarray(value).reshape(-1)
    return rates


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean categorical cross-entropy of ``softmax(logits)`` against integer labels (float64, stable).

    Examples:
        >>> round(cross_entropy(np.array([[0.0, 0.0]]), np.array([1])), 4)  # log 2
        0.6931
    """
    logits = np.asarray(logits, dtype="float64")
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-np.mean(log_probs[np.arange(len(labels)), labels]))


def clipped_cross_entropy(counts: np.ndarray, labels: np.ndarray, epsilon: float = 1e-7) -> float:
    """Keras's categorical cross-entropy on the probabilities ``softmax(counts)`` (clipped to [ε, 1 − ε]).

    Examples:
        >>> round(clipped_cross_entropy(np.array([[100.0, 0.0]]), np.array([0])), 6)  # p clipped to 1 - 1e-7
        0.0
    """
    counts = np.asarray(counts, dtype="float64")
    probabilities = np.exp(counts - counts.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    picked = np.clip(probabilities[np.arange(len(labels)), labels], epsilon, 1.0 - epsilon)
    return float(-np.mean(np.log(picked)))


def count_histogram(counts: np.ndarray, histogram: np.ndarray | None = None) -> np.ndarray:
    """Adds ``counts`` (spike counts per neuron) to ``histogram[k]`` = number of neurons with k spikes.

    Examples:
        >>> count_histogram(np.array([0, 2, 2]), np.array([1, 1])).tolist()
        [2, 1, 2]
    """
    new = np.bincount(np.floor(counts).astype("int64").ravel())
    if histogram is None:
        return new
    size = max(len(new), len(histogram))
    return np.pad(histogram, (0, size - len(histogram))) + np.pad(new, (0, size - len(new)))
