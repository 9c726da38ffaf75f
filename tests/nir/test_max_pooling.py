"""Spiking max pooling is exported exactly (the accumulate-and-gate motif of spkeras.nir.max_pooling) and read back."""

import keras
import numpy as np
import pytest

from tests.keras_session import _clean_keras_session  # noqa: F401
from tests.nir import networks, reference

nir = pytest.importorskip("nir", reason='needs the optional package nir: pip install "spkeras[nir]"')

from spkeras.errors import NIRConversionError  # noqa: E402
from spkeras.layers import IntegrateAndFire, SpikingMaxPooling1D, SpikingMaxPooling2D  # noqa: E402
from spkeras.nir import export_nir, import_nir  # noqa: E402

T = 16


def _pooled_snn(rng, pool, spike_value="unit", input_shape=(8, 6, 2)):
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(3, 3, padding="same", name="conv")(inputs)
    x = IntegrateAndFire(threshold=[0.5, 0.25, 0.75], v_init=0.5, spike_value=spike_value, name="n1")(x)
    x = pool(x)
    x = keras.layers.Conv2D(2, 2, name="conv2")(x)
    x = IntegrateAndFire(threshold=0.5, name="n2")(x)
    snn = keras.Model(inputs, keras.layers.Dense(3, name="out")(keras.layers.Flatten()(x)), name="pooled")
    networks.set_dyadic_weights(snn, rng)
    return snn


POOLS = {
    "2x2": lambda: SpikingMaxPooling2D(2, name="pool"),
    "3x3 stride 2 same": lambda: SpikingMaxPooling2D(3, strides=2, padding="same", name="pool"),  # pads (0, 1)
    "2x3 stride 1": lambda: SpikingMaxPooling2D((2, 3), strides=1, name="pool"),  # overlapping windows
}


@pytest.mark.parametrize("pool", sorted(POOLS))
def test_max_pooling_simulates_like_spkeras_and_round_trips(rng, pool, tmp_path):
    snn = _pooled_snn(rng, POOLS[pool]())
    x = networks.dyadic_images(rng, 6, (8, 6, 2)) * 2
    export_nir(snn, tmp_path / "pool.nir")
    window = snn.get_layer("pool").pool_size  # nir's own type check passes for square windows (nir 1.0.8)
    graph = nir.read(tmp_path / "pool.nir", type_check=window[0] == window[1])
    size = graph.nodes["pool.window00"].weight.shape
    assert sum(name.startswith("pool.window") for name in graph.nodes) == window[0] * window[1]
    assert size[:2] == (3, 3)  # channels-first (C_out, C_in, kh, kw): the identity over channels at one offset
    trains, spikes, outputs, nir_output = networks.compare(snn, graph, x, T)
    for name, train in trains.items():
        np.testing.assert_array_equal(train != 0, spikes[name] != 0, err_msg=name)
    np.testing.assert_array_equal(np.cumsum(outputs, axis=0), nir_output)
    _, raw = reference.run(graph, networks.to_channels_first(x), T)
    gate = np.transpose(raw["pool.gate"], (0, 1, 3, 4, 2))  # the pool's own output, step by step
    layer, state, expected = snn.get_layer("pool"), snn.get_layer("pool").initial_state(len(x)), []
    for step in trains["n1"]:  # spkeras's rule on the same input spikes
        output, state = layer.step(step, state)
        expected.append(np.asarray(output))
    np.testing.assert_array_equal(gate, np.stack(expected))
    assert 0 < gate.sum() < trains["n1"].sum()
    back = import_nir(tmp_path / "pool.nir")
    layer = back.get_layer("pool")
    assert isinstance(layer, SpikingMaxPooling2D) and layer.pool_size == snn.get_layer("pool").pool_size
    assert layer.strides == snn.get_layer("pool").strides and layer.padding == snn.get_layer("pool").padding
    np.testing.assert_array_equal(networks.spkeras_outputs(snn, x, T), networks.spkeras_outputs(back, x, T))


def test_threshold_spikes_and_other_inputs_are_refused_with_the_command_line_fix(rng):
    snn = _pooled_snn(rng, SpikingMaxPooling2D(2, name="pool"), spike_value="threshold")
    with pytest.raises(NIRConversionError) as error:
        export_nir(snn)
    message = str(error.value)
    assert "'pool' (SpikingMaxPooling2D)" in message and "unit spikes" in message
    assert "spkeras convert ... --max-pooling average" in message and "max_pooling='average'" in message
    inputs = keras.Input((8, 1))
    pooled = SpikingMaxPooling1D(2, name="pool1d")(IntegrateAndFire()(keras.layers.Conv1D(2, 3)(inputs)))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(pooled)), name="m")
    with pytest.raises(NIRConversionError, match=r"'pool1d' \(SpikingMaxPooling1D\): 1-D .*--max-pooling average"):
        export_nir(model)


def test_a_motif_that_the_graph_does_not_confirm_is_not_read_as_max_pooling(rng):
    graph = export_nir(_pooled_snn(rng, SpikingMaxPooling2D(2, name="pool")))
    graph.nodes["pool.window01"].weight = graph.nodes["pool.window01"].weight * 2  # no longer picks one input
    with pytest.raises(NIRConversionError, match="cycle"):
        import_nir(graph)
