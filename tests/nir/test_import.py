"""import_nir: export → import gives identical simulations; graphs written by hand with NIR's IF import too."""

import keras
import numpy as np
import pytest

from tests.keras_session import _clean_keras_session  # noqa: F401
from tests.nir import networks, reference

nir = pytest.importorskip("nir", reason='needs the optional package nir: pip install "spkeras[nir]"')

import spkeras  # noqa: E402
from spkeras.layers import IntegrateAndFire  # noqa: E402
from spkeras.nir import export_nir, import_nir  # noqa: E402

T = 12


def _assert_identical(snn, back, x):
    trains, again = (
        spkeras.simulate.spike_trains(snn, x, timesteps=T),
        spkeras.simulate.spike_trains(back, x, timesteps=T),
    )
    assert list(trains) == list(again)
    for name in trains:
        np.testing.assert_array_equal(trains[name], again[name], err_msg=name)
    labels = np.arange(len(x)) % 3
    first, second = spkeras.evaluate(snn, x, labels, timesteps=T), spkeras.evaluate(back, x, labels, timesteps=T)
    np.testing.assert_array_equal(first.accuracy, second.accuracy)
    np.testing.assert_array_equal(first.spikes_per_step, second.spikes_per_step)
    np.testing.assert_array_equal(networks.spkeras_outputs(snn, x, T), networks.spkeras_outputs(back, x, T))


@pytest.mark.parametrize("spike_value", ["unit", "threshold"])
def test_round_trip_through_a_file_is_identical(rng, tmp_path, spike_value):
    snn = networks.residual_cnn(rng, spike_value=spike_value)
    export_nir(snn, tmp_path / "model.nir")
    back = import_nir(tmp_path / "model.nir")
    neurons = {layer.name: layer for layer in spkeras.network.spiking_network(back).neuron_layers}
    assert neurons["if1"].v_init == 0.5 and neurons["if1"].threshold_init == [1.0, 0.5, 2.0, 1.0]
    assert all(layer.spike_value == spike_value and layer.reset == "soft" for layer in neurons.values())
    x = networks.dyadic_images(rng, 4, (7, 5, 2))
    np.testing.assert_array_equal(snn.predict(x, verbose=0), back.predict(x, verbose=0))  # closed form, same T
    _assert_identical(snn, back, networks.dyadic_images(rng, 4, (7, 5, 2)))


def test_round_trip_of_padding_affine_hard_reset_and_calibration(rng):
    snn = networks.pooling_cnn(rng)
    back = import_nir(export_nir(snn))
    kinds = [type(layer).__name__ for layer in back.layers]
    assert {"ZeroPadding2D", "ChannelAffine", "GlobalAveragePooling2D"} <= set(kinds)
    assert back.get_layer("hard").reset == "hard"
    x = networks.dyadic_images(rng, 4, (6, 4, 3))
    trains, again = (
        spkeras.simulate.spike_trains(snn, x, timesteps=T),
        spkeras.simulate.spike_trains(back, x, timesteps=T),
    )
    for name in trains:  # the bias current is now part of Dense's bias: the same sums, dyadic, so the same spikes
        np.testing.assert_array_equal(trains[name], again[name], err_msg=name)


def test_a_hand_written_graph_with_nir_if_imports(rng):
    weight = networks.dyadic(rng, (3, 4))
    graph = nir.NIRGraph.from_list(
        nir.Input(input_type=np.array([4])),
        nir.Affine(weight=weight, bias=np.zeros(3, "float32")),
        nir.IF(r=np.ones(3), v_threshold=np.full(3, 0.5), v_reset=np.zeros(3)),
        nir.Linear(weight=np.eye(2, 3, dtype="float32")),
        nir.Output(output_type=np.array([2])),
    )
    snn = import_nir(graph)
    neuron = spkeras.network.spiking_network(snn).neuron_layers[0]
    assert isinstance(neuron, IntegrateAndFire) and neuron.reset == "hard"
    assert neuron.threshold_init == float(np.nextafter(np.float32(0.5), np.float32(1)))  # v > 0.5 as V >= above(0.5)
    x = (rng.integers(0, 5, size=(5, 4)) / 4).astype("float32")
    outputs, spikes = reference.run(graph, x, T)
    trains = spkeras.simulate.spike_trains(snn, x, timesteps=T)
    np.testing.assert_array_equal(trains[neuron.name], spikes["if"])
    np.testing.assert_array_equal(networks.spkeras_outputs(snn, x, T), outputs["output"])


def test_imported_model_is_a_keras_model_that_saves(rng, tmp_path):
    back = import_nir(export_nir(networks.residual_cnn(rng)))
    spkeras.save_model(back, tmp_path / "back.keras")
    loaded = spkeras.load_model(tmp_path / "back.keras")
    assert isinstance(loaded, keras.Model) and len(loaded.layers) == len(back.layers)


def test_a_hand_written_graph_with_sum_pooling_and_flatten_imports(rng):
    conv = nir.Conv2d(
        input_shape=(4, 6),
        weight=networks.dyadic(rng, (2, 1, 3, 3)),
        stride=1,
        padding=1,
        dilation=1,
        groups=1,
        bias=networks.dyadic(rng, (2,)),
    )
    graph = nir.NIRGraph.from_list(
        nir.Input(input_type=np.array([1, 4, 6])),
        conv,
        nir.IF(r=np.ones((2, 4, 6)), v_threshold=np.full((2, 4, 6), 0.5), v_reset=np.zeros((2, 4, 6))),
        nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
        nir.Flatten(input_type={"input": np.array([2, 2, 3])}, start_dim=0, end_dim=-1),
        nir.Affine(weight=networks.dyadic(rng, (3, 12)), bias=np.zeros(3, "float32")),
        nir.Output(output_type=np.array([3])),
    )
    snn = import_nir(graph)
    x = networks.dyadic_images(rng, 3, (4, 6, 1))
    outputs, _ = reference.run(graph, networks.to_channels_first(x), T)
    np.testing.assert_array_equal(networks.spkeras_outputs(snn, x, T), outputs["output"])
