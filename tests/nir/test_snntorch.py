"""An exported graph runs in snnTorch (an independent simulator on PyTorch) with spkeras's spikes and predictions.

snnTorch's own ``import_from_nir`` does not read the soft-reset loop (it maps ``nir.IF`` to a leaky
``snn.Leaky(beta=0.9)``), so this test reads the graph node by node: Conv2d / Affine / AvgPool2d through snnTorch's
importer (``_nir_to_snntorch_module``: PyTorch's channels-first layers reading the exported weights as they are),
Flatten with the batch axis added, and each loop ``I → Threshold → Scale(−θ) → I`` as
``snn.Leaky(beta=1, threshold=θ, reset_mechanism="subtract")`` (snnTorch's default delayed reset is that loop
with the feedback one step late) starting at the potential folded into the Threshold node. Random (non-dyadic)
weights, because snnTorch fires at ``V > θ`` with the same θ it subtracts, where spkeras fires at ``V ≥ θ``.
"""

import numpy as np
import pytest

from tests.keras_session import _clean_keras_session  # noqa: F401
from tests.nir import networks

nir = pytest.importorskip("nir", reason='needs the optional package nir: pip install "spkeras[nir]"')
torch = pytest.importorskip("torch", reason="optional: needs CPU PyTorch (pip install torch==2.13.0)")
snn = pytest.importorskip("snntorch", reason="optional: needs snntorch (pip install snntorch)")
snntorch_import = pytest.importorskip("snntorch.import_nir", reason="optional: snntorch's NIR import needs nirtorch")

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


def run_in_snntorch(graph, x, timesteps):
    incoming, loops = _loops(graph)
    skip = {part for integrator, reset, _ in loops.values() for part in (integrator, reset)}
    modules, start = {}, {}
    for name, node in graph.nodes.items():
        kind = type(node).__name__
        if kind in ("Conv2d", "Affine", "Linear", "AvgPool2d"):
            modules[name] = snntorch_import._nir_to_snntorch_module(node)
        elif kind == "Flatten":  # NIR counts dimensions without the batch axis, torch.nn.Flatten with it
            modules[name] = torch.nn.Flatten(int(node.start_dim) + 1, -1)
        elif name in loops:
            theta = -torch.as_tensor(graph.nodes[loops[name][1]].scale)
            modules[name] = snn.Leaky(beta=1.0, threshold=theta, reset_mechanism="subtract")
            fire_at = np.nextafter(np.asarray(node.threshold, "float32"), np.float32(np.inf))
            start[name] = theta - torch.as_tensor(fire_at)
    order, done = [], set()
    while len(order) < len(graph.nodes) - len(skip):
        for name in graph.nodes:
            feeding = loops[name][2] if name in loops else incoming[name]
            if name not in done and name not in skip and all(s in done for s in feeding):
                order.append(name)
                done.add(name)
    x = torch.as_tensor(networks.to_channels_first(x))
    membranes = {name: start[name].expand(x.shape[:1] + start[name].shape).clone() for name in loops}
    spikes, outputs, readout = {name: [] for name in loops}, [], 0
    with torch.no_grad():
        for _ in range(timesteps):
            values = {}
            for name in order:
                node, kind = graph.nodes[name], type(graph.nodes[name]).__name__
                feeding = loops[name][2] if name in loops else incoming[name]
                value = x if kind == "Input" else sum(values[s] for s in feeding)
                if name in loops:
                    value, membranes[name] = modules[name](value, membranes[name])
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
    outputs, spikes = run_in_snntorch(graph, x, T)
    trains = spkeras.simulate.spike_trains(model, x, timesteps=T)
    for name, train in trains.items():
        theirs = spikes[f"{name}.threshold"]
        theirs = np.transpose(theirs, (0, 1, 3, 4, 2)) if theirs.ndim == 5 else theirs
        counts = (train != 0).sum(axis=tuple(range(2, train.ndim)))
        np.testing.assert_array_equal(counts, theirs.sum(axis=tuple(range(2, train.ndim))), err_msg=name)
    running = np.cumsum(networks.spkeras_outputs(model, x, T), axis=0)
    np.testing.assert_allclose(running, outputs, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(running.argmax(-1), outputs.argmax(-1))


def test_residual_cnn_runs_in_snntorch(rng):
    model = networks.residual_cnn(rng, spike_value="threshold")
    for layer in model.layers:
        if layer.get_weights() and not isinstance(layer, spkeras.layers.IntegrateAndFire):
            layer.set_weights([rng.normal(0.3, 0.5, w.shape).astype("float32") for w in layer.get_weights()])
    _assert_matches(model, rng.uniform(0, 1, (3, 7, 5, 2)).astype("float32"))


def test_converted_demo_cnn_runs_in_snntorch(demo_sample):
    cnn = spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH)
    model = spkeras.convert(cnn, demo_sample["x_calibration"][:100], method="robust", timesteps=T)
    _assert_matches(model, demo_sample["x_test"][:3])
