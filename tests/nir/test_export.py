"""export_nir: the graph simulates (in an independent NumPy interpreter of the NIR spec) exactly like spkeras."""

import keras
import numpy as np
import pytest

from tests.keras_session import _clean_keras_session  # noqa: F401
from tests.nir import networks, reference

nir = pytest.importorskip("nir", reason='needs the optional package nir: pip install "spkeras[nir]"')

import spkeras  # noqa: E402
from spkeras.nir import export_nir, import_nir  # noqa: E402

T = 12


def _assert_same(snn, graph, x, timesteps=T):
    trains, spikes, outputs, nir_output = networks.compare(snn, graph, x, timesteps)
    assert set(spikes) == set(trains)
    for name, train in trains.items():
        assert np.array_equal(train != 0, spikes[name] != 0), name
        # the same spike count per step and per layer
        assert np.array_equal(
            (train != 0).sum(axis=tuple(range(1, train.ndim))), spikes[name].sum(axis=tuple(range(1, train.ndim)))
        )
    running = np.cumsum(outputs, axis=0)
    np.testing.assert_array_equal(running, nir_output)
    np.testing.assert_array_equal(running.argmax(-1), nir_output.argmax(-1))  # the same prediction at every step
    return running


@pytest.mark.parametrize("spike_value", ["unit", "threshold"])
def test_residual_cnn_simulates_like_spkeras(rng, spike_value):
    snn = networks.residual_cnn(rng, spike_value=spike_value)
    x = networks.dyadic_images(rng, 4, (7, 5, 2))
    graph = export_nir(snn)
    running = _assert_same(snn, graph, x)
    labels = running[-1].argmax(-1)
    result = spkeras.evaluate(snn, x, labels, timesteps=T)
    assert result.accuracy_at(T) == 1.0
    assert result.spikes_per_step.sum() > 0


def test_soft_reset_is_the_integrator_threshold_loop(rng):
    graph = export_nir(networks.residual_cnn(rng))
    kinds = {name: type(node).__name__ for name, node in graph.nodes.items()}
    assert kinds["if1.integrator"] == "I" and kinds["if1.threshold"] == "Threshold" and kinds["if1.reset"] == "Scale"
    assert ("if1.reset", "if1.integrator") in graph.edges
    reset = graph.nodes["if1.reset"].scale
    assert reset.shape == (4, 5, 4)  # (C, H, W) per neuron
    np.testing.assert_array_equal(reset[:, 0, 0], [-1.0, -0.5, -2.0, -1.0])
    # v_init = 0.5 folded into the threshold: fire when the charge reaches theta/2, written as v > below(theta/2)
    threshold = graph.nodes["if1.threshold"].threshold[:, 0, 0]
    np.testing.assert_array_equal(np.nextafter(threshold, np.float32(np.inf)), [0.5, 0.25, 1.0, 0.5])
    assert kinds["readout"] == "I" and ("readout", "output") in graph.edges
    assert {("if1.threshold", "pool"), ("if2.threshold", "pool")} <= set(graph.edges)  # the residual Add


def test_layouts_rectangular_kernel_and_flatten_order(rng):
    snn = networks.residual_cnn(rng)
    graph = export_nir(snn)
    kernel = snn.get_layer("conv1").get_weights()[0]  # (3, 2, 2, 4)
    weight = graph.nodes["conv1"].weight
    assert weight.shape == (4, 2, 3, 2)
    np.testing.assert_array_equal(weight[1, 0], kernel[:, :, 0, 1])
    x = rng.normal(size=(2, 7, 5, 2)).astype("float32")
    expected = snn.get_layer("conv1")(x).numpy()
    got = reference.conv2d(graph.nodes["conv1"], networks.to_channels_first(x).astype("float64"))
    np.testing.assert_allclose(np.transpose(got, (0, 2, 3, 1)), expected, rtol=1e-5, atol=1e-5)
    assert tuple(graph.nodes["conv1"].output_type["output"]) == (4, 5, 4)
    dense = snn.get_layer("dense1").get_weights()[0]  # rows in Keras (H, W, C) order of the 2x2x4 pooled map
    np.testing.assert_array_equal(graph.nodes["dense1"].weight[:, 1], dense[4])  # NIR (C, H, W): c=0, h=0, w=1


def test_pooling_padding_affine_hard_reset_and_calibrated_neuron(rng, tmp_path):
    snn = networks.pooling_cnn(rng)
    x = networks.dyadic_images(rng, 4, (6, 4, 3))
    graph = export_nir(snn, tmp_path / "model.nir")
    assert type(graph.nodes["hard"]).__name__ == "IF"
    assert tuple(graph.nodes["conv"].padding) == (1, 1)
    bias = snn.get_layer("dense").get_weights()[1] + snn.get_layer("cal").bias_current.numpy()
    np.testing.assert_array_equal(graph.nodes["dense"].bias, bias)  # the bias current folded into Dense's bias
    _assert_same(snn, graph, x)
    _assert_same(snn, nir.read(tmp_path / "model.nir"), x)  # square kernels: nir.read's own type check passes


def test_written_file_is_read_back_and_replaced_atomically(rng, tmp_path):
    snn = networks.residual_cnn(rng)
    path = tmp_path / "model.nir"
    path.write_text("old")
    graph = export_nir(snn, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.nir"]
    # nir 1.0.8 infers Conv2d shapes from the kernel height only, so a 3x2 kernel needs type_check=False to read
    read = nir.read(path, type_check=False)
    assert set(read.nodes) == set(graph.nodes) and sorted(read.edges) == sorted(graph.edges)
    _assert_same(snn, read, networks.dyadic_images(rng, 2, (7, 5, 2)))


def test_overwrite_false_refuses_an_existing_file_untouched(rng, tmp_path):
    snn = networks.residual_cnn(rng)
    path = tmp_path / "model.nir"
    path.write_text("old")
    with pytest.raises(ValueError, match=r"already exists\. Received: path='.*model\.nir', overwrite=False"):
        export_nir(snn, path, overwrite=False)
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.nir"]


def test_current_readout_leaves_the_sum_to_the_consumer(rng):
    snn = networks.residual_cnn(rng)
    x = networks.dyadic_images(rng, 3, (7, 5, 2))
    graph = export_nir(snn, readout="current")
    assert "readout" not in graph.nodes and ("readout_dense", "output") in graph.edges
    outputs, _ = reference.run(graph, networks.to_channels_first(x), T)
    np.testing.assert_array_equal(outputs["output"], networks.spkeras_outputs(snn, x, T))
    with pytest.raises(ValueError, match="readout"):
        export_nir(snn, readout="spikes")


def test_converted_model_matches_in_float32(rng, demo_sample):
    cnn = spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH)
    snn = spkeras.convert(cnn, demo_sample["x_calibration"][:100], method="robust", timesteps=T)
    x = demo_sample["x_test"][:3]
    graph = export_nir(snn)
    trains, spikes, outputs, nir_output = networks.compare(snn, graph, x, T, dtype="float32")
    for name, train in trains.items():
        counts = (train != 0).sum(axis=tuple(range(2, train.ndim)))
        assert np.array_equal(counts, spikes[name].sum(axis=tuple(range(2, train.ndim)))), name
    running = np.cumsum(outputs, axis=0)
    np.testing.assert_allclose(running, nir_output, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(running.argmax(-1), nir_output.argmax(-1))


def test_concatenate_becomes_one_node_per_part(rng):
    from spkeras.layers import IntegrateAndFire

    inputs = keras.Input((5, 4, 2))
    a = IntegrateAndFire(threshold=0.5, v_init=0.5, name="a")(keras.layers.Conv2D(3, 3, padding="same")(inputs))
    b = IntegrateAndFire(threshold=1.0, name="b")(keras.layers.Conv2D(2, 3, padding="same")(inputs))
    merged = keras.layers.Concatenate(name="cat")([a, b])
    c = IntegrateAndFire(threshold=0.5, name="c")(keras.layers.Conv2D(2, 3, name="mix")(merged))
    flat_a, flat_c = keras.layers.Flatten()(a), keras.layers.Flatten()(c)
    vectors = keras.layers.Concatenate(name="vectors")([flat_c, flat_a])
    snn = keras.Model(inputs, keras.layers.Dense(3, name="out")(vectors), name="concat")
    networks.set_dyadic_weights(snn, rng)
    graph = export_nir(snn)
    assert {"mix", "mix.part1", "out", "out.part1"} <= set(graph.nodes)
    assert graph.nodes["mix.part1"].weight.shape == (2, 2, 3, 3)
    _assert_same(snn, graph, networks.dyadic_images(rng, 3, (5, 4, 2)))
    back = import_nir(graph)
    x = networks.dyadic_images(rng, 3, (5, 4, 2))
    np.testing.assert_array_equal(networks.spkeras_outputs(snn, x, T), networks.spkeras_outputs(back, x, T))


def test_depthwise_convolution_is_a_grouped_conv2d(rng):
    from spkeras.layers import IntegrateAndFire

    inputs = keras.Input((6, 5, 3))
    x = keras.layers.DepthwiseConv2D((3, 3), depth_multiplier=2, padding="same", name="depthwise")(inputs)
    x = IntegrateAndFire(threshold=0.5, v_init=0.5, name="n")(x)
    x = keras.layers.Dense(2, name="out")(keras.layers.Flatten()(x))
    snn = keras.Model(inputs, x, name="dw")
    depthwise = snn.get_layer("depthwise")
    depthwise.set_weights([networks.dyadic(rng, w.shape) for w in depthwise.get_weights()])
    networks.set_dyadic_weights(snn, rng)
    graph = export_nir(snn)
    node = graph.nodes["depthwise"]
    assert node.groups == 3 and node.weight.shape == (6, 1, 3, 3)
    np.testing.assert_array_equal(node.weight[3, 0], depthwise.get_weights()[0][:, :, 1, 1])  # c=1, m=1 -> 1·2+1
    x = networks.dyadic_images(rng, 3, (6, 5, 3))
    _assert_same(snn, graph, x)
    back = import_nir(graph)
    assert type(back.get_layer("depthwise")).__name__ == "DepthwiseConv2D"
    np.testing.assert_array_equal(networks.spkeras_outputs(snn, x, T), networks.spkeras_outputs(back, x, T))
