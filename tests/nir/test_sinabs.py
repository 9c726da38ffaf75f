"""Exported graphs run in sinabs (SynSense's PyTorch SNN simulator, a second NIR consumer) with spkeras's spikes.

sinabs's ``from_nir`` reads ``Conv2d``, ``Affine``, ``Flatten``, ``SumPool2d`` and ``IF``, but maps ``IF`` to a
multi-spike soft-reset neuron (not NIR's hard reset) and reads no ``Threshold``/``I`` loop, so this test reads the
graph node by node: the synaptic nodes through sinabs's own NIR importer (``sinabs.nir._import_sinabs_module``;
its ``Flatten`` already adds the batch axis; grouped ``Conv2d`` as ``torch.nn.Conv2d``, because sinabs 2.0.3 sets
``in_channels`` to the weight's second axis), ``AvgPool2d`` as ``torch.nn.AvgPool2d``, and each soft-reset loop
``I → Threshold → Scale(−θ) → I`` as ``sinabs.layers.IAF(spike_threshold=θ, spike_fn=SingleSpike,
reset_fn=MembraneSubtract())`` (sinabs's default reset subtracts θ, and ``SingleSpike`` fires at ``v ≥ θ``, the
test spkeras uses) starting at the potential folded into the Threshold node. A hard-reset ``IF`` becomes an IAF with
``MembraneReset``. The max-pooling motif has no sinabs counterpart with spkeras's tie rule (sinabs's
``SpikingMaxPooling2dLayer`` passes every spike of a tied leader), so max-pool nets are checked only in the
reference interpreter (tests/nir/test_max_pooling.py).
"""

import numpy as np
import pytest

from tests.keras_session import _clean_keras_session  # noqa: F401
from tests.nir import architectures, networks

nir = pytest.importorskip("nir", reason='needs the optional package nir: pip install "spkeras[nir]"')
torch = pytest.importorskip("torch", reason="optional: needs CPU PyTorch (pip install torch==2.13.0)")
sinabs_layers = pytest.importorskip("sinabs.layers", reason='optional: needs sinabs (pip install "spkeras[sinabs]")')
sinabs_nir = pytest.importorskip("sinabs.nir", reason="optional: sinabs's NIR import needs nirtorch")

from sinabs.activation import MembraneReset, MembraneSubtract, SingleSpike  # noqa: E402

import spkeras  # noqa: E402
from spkeras.nir import export_nir  # noqa: E402

T = 12


def _loops(graph):
    incoming = {name: [s for s, t in graph.edges if t == name] for name in graph.nodes}
    loops = {}
    for name, node in graph.nodes.items():
        if type(node).__name__ == "Threshold":
            (integrator,) = incoming[name]
            reset = next(s for s in incoming[integrator] if incoming[s] == [name])  # the Scale(−θ) it feeds back
            loops[name] = (integrator, reset, [s for s in incoming[integrator] if s != reset])
    return incoming, loops


def _above(values):
    return torch.as_tensor(np.nextafter(np.asarray(values, "float32"), np.float32(np.inf)))


def _modules(graph, loops, batch):
    modules, start = {}, {}
    for name, node in graph.nodes.items():
        kind = type(node).__name__
        if kind == "Conv2d" and int(node.groups) > 1:  # sinabs 2.0.3 passes in_channels = weight.shape[1]
            weight = torch.as_tensor(node.weight)
            modules[name] = torch.nn.Conv2d(
                weight.shape[1] * int(node.groups),
                weight.shape[0],
                tuple(weight.shape[2:]),
                stride=tuple(node.stride),
                padding=tuple(node.padding),
                dilation=tuple(node.dilation),
                groups=int(node.groups),
            )
            modules[name].weight.data, modules[name].bias.data = weight, torch.as_tensor(node.bias)
        elif kind in ("Conv2d", "Affine", "Flatten"):
            modules[name] = sinabs_nir._import_sinabs_module(node, batch_size=batch, num_timesteps=T)
        elif kind == "AvgPool2d":
            kernel, stride = tuple(int(k) for k in node.kernel_size), tuple(int(s) for s in node.stride)
            modules[name] = torch.nn.AvgPool2d(kernel, stride)
        elif name in loops:
            theta = -torch.as_tensor(graph.nodes[loops[name][1]].scale)
            modules[name] = sinabs_layers.IAF(spike_threshold=theta, spike_fn=SingleSpike, reset_fn=MembraneSubtract())
            start[name] = theta - _above(node.threshold)  # the initial potential folded into the Threshold node
        elif kind == "IF":  # NIR's hard reset to 0, firing at v > v_threshold
            threshold = _above(node.v_threshold)
            modules[name] = sinabs_layers.IAF(spike_threshold=threshold, spike_fn=SingleSpike, reset_fn=MembraneReset())
            start[name] = torch.zeros_like(threshold)
    return modules, start


def run_in_sinabs(graph, x, timesteps):
    """Runs the graph step by step; returns the output ``(T, B, K)`` and the spikes of every neuron node."""
    incoming, loops = _loops(graph)
    skip = {part for integrator, reset, _ in loops.values() for part in (integrator, reset)}
    order, done = [], set()
    while len(order) < len(graph.nodes) - len(skip):
        for name in graph.nodes:
            feeding = loops[name][2] if name in loops else incoming[name]
            if name not in done and name not in skip and all(s in done for s in feeding):
                order.append(name)
                done.add(name)
    x = torch.as_tensor(networks.to_channels_first(x))
    modules, start = _modules(graph, loops, len(x))
    for name, value in start.items():
        modules[name].init_state_with_shape((len(x),) + tuple(value.shape))
        modules[name].v_mem = value.expand((len(x),) + tuple(value.shape)).clone()
    spikes, outputs, readout = {name: [] for name in start}, [], 0
    with torch.no_grad():
        for _ in range(timesteps):
            values = {}
            for name in order:
                node, kind = graph.nodes[name], type(graph.nodes[name]).__name__
                feeding = loops[name][2] if name in loops else incoming[name]
                value = x if kind == "Input" else sum(values[s] for s in feeding)
                if name in start:  # sinabs layers take (batch, time, ...): one step at a time
                    value = modules[name](value.unsqueeze(1))[:, 0]
                    spikes[name].append(value.numpy())
                elif kind == "Scale":
                    value = value * torch.as_tensor(node.scale)
                elif kind == "I":  # the integrating readout
                    readout = readout + value
                    value = readout
                elif name in modules:
                    value = modules[name](value)
                values[name] = value
            outputs.append(values["output"].numpy())
    return np.stack(outputs), {name: np.stack(v) for name, v in spikes.items()}


def _assert_matches(model, x):
    graph = export_nir(model)
    outputs, spikes = run_in_sinabs(graph, x, T)
    trains = spkeras.simulate.spike_trains(model, x, timesteps=T)
    assert sum(train.sum() for train in trains.values()) > 0
    for name, train in trains.items():
        theirs = spikes[f"{name}.threshold"] if f"{name}.threshold" in spikes else spikes[name]
        theirs = np.transpose(theirs, (0, 1, 3, 4, 2)) if theirs.ndim == 5 else theirs
        counts = (train != 0).sum(axis=tuple(range(2, train.ndim)))
        np.testing.assert_array_equal(counts, theirs.sum(axis=tuple(range(2, train.ndim))), err_msg=name)
    running = np.cumsum(networks.spkeras_outputs(model, x, T), axis=0)
    np.testing.assert_allclose(running, outputs, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(running.argmax(-1), outputs.argmax(-1))


def test_residual_and_hard_reset_networks_run_in_sinabs(rng):
    for model, shape in (
        (networks.residual_cnn(rng, spike_value="threshold"), (7, 5, 2)),
        (networks.pooling_cnn(rng), (6, 4, 3)),
    ):
        _assert_matches(model, networks.dyadic_images(rng, 3, shape))


def test_converted_mnist_demo_cnn_runs_in_sinabs(demo_sample):
    cnn = spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH)
    model = spkeras.convert(cnn, demo_sample["x_calibration"][:100], timesteps=T)
    _assert_matches(model, demo_sample["x_test"][:3])


@pytest.mark.parametrize("name", ["resnet", "mobilenet"])
def test_default_conversions_of_resnet_and_mobilenet_run_in_sinabs(rng, name):
    model = architectures.build(name)
    snn = spkeras.convert(model, architectures.images(rng, name, 64), timesteps=T)
    _assert_matches(snn, architectures.images(rng, name, 4))
