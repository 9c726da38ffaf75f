"""Asymmetric zero padding (Keras "same" with stride 2 on even inputs, even kernels) is exported exactly."""

import keras
import numpy as np
import pytest

from tests.keras_session import _clean_keras_session  # noqa: F401
from tests.nir import networks, reference

nir = pytest.importorskip("nir", reason='needs the optional package nir: pip install "spkeras[nir]"')

from spkeras.errors import NIRConversionError  # noqa: E402
from spkeras.layers import IntegrateAndFire  # noqa: E402
from spkeras.nir import export_nir, import_nir  # noqa: E402
from spkeras.nir.layout import same_padding  # noqa: E402

T = 10


def _strided_snn(rng):
    """8×6 input: stride-2 "same" Conv2D (pads (0, 1) and (0, 1)), stride-2 "same" DepthwiseConv2D on 4×3 (pads
    (0, 1) and (1, 1)), a 2×2 "same" Conv2D (even kernel, stride 1: pads (0, 1))."""
    inputs = keras.Input((8, 6, 2))
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same", name="down")(inputs)
    x = IntegrateAndFire(threshold=0.5, v_init=0.5, name="n1")(x)
    x = keras.layers.DepthwiseConv2D(3, strides=2, padding="same", name="dw")(x)
    x = IntegrateAndFire(threshold=0.25, name="n2")(x)
    x = keras.layers.Conv2D(3, 2, padding="same", name="even")(x)
    x = IntegrateAndFire(threshold=0.5, name="n3")(x)
    outputs = keras.layers.Dense(3, name="out")(keras.layers.Flatten()(x))
    snn = keras.Model(inputs, outputs, name="strided")
    for layer in snn.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense)):
            layer.set_weights([networks.dyadic(rng, w.shape) for w in layer.get_weights()])
    return snn


def test_keras_same_padding_is_asymmetric_here():
    assert (
        same_padding(8, 3, 2, 1) == (0, 1) and same_padding(3, 3, 2, 1) == (1, 1) and same_padding(2, 2, 1, 1) == (0, 1)
    )


def test_asymmetric_padding_becomes_a_larger_kernel_with_leading_zeros(rng):
    snn = _strided_snn(rng)
    graph = export_nir(snn)
    down, kernel = graph.nodes["down"], snn.get_layer("down").get_weights()[0]  # (3, 3, 2, 4)
    assert down.weight.shape == (4, 2, 4, 4) and tuple(down.padding) == (1, 1)
    np.testing.assert_array_equal(down.weight[:, :, 0, :], 0)  # the zero first row and column
    np.testing.assert_array_equal(down.weight[:, :, :, 0], 0)
    np.testing.assert_array_equal(down.weight[:, :, 1:, 1:], np.transpose(kernel, (3, 2, 0, 1)))  # channels-first
    dw = graph.nodes["dw"]  # 4×3 input: rows pad (0, 1), columns (1, 1)
    assert dw.weight.shape == (4, 1, 4, 3) and tuple(dw.padding) == (1, 1)
    np.testing.assert_array_equal(dw.weight[:, :, 0, :], 0)
    assert graph.nodes["even"].weight.shape == (3, 4, 3, 3) and tuple(graph.nodes["even"].padding) == (1, 1)
    for name in ("down", "dw", "even"):  # the output sizes are Keras's
        keras_shape = snn.get_layer(name).output.shape[1:]
        assert tuple(graph.nodes[name].output_type["output"]) == (keras_shape[2], keras_shape[0], keras_shape[1])
    x = rng.normal(size=(3, 8, 6, 2)).astype("float32")  # the reference convolution against Keras on real numbers
    got = reference.conv2d(down, networks.to_channels_first(x).astype("float64"))
    np.testing.assert_allclose(np.transpose(got, (0, 2, 3, 1)), snn.get_layer("down")(x), rtol=1e-5, atol=1e-5)


def test_strided_same_network_simulates_like_spkeras_and_round_trips(rng, tmp_path):
    snn = _strided_snn(rng)
    x = networks.dyadic_images(rng, 4, (8, 6, 2))
    export_nir(snn, tmp_path / "strided.nir")
    graph = nir.read(tmp_path / "strided.nir", type_check=False)  # a 4×3 kernel: nir 1.0.8 mis-infers its shape
    trains, spikes, outputs, nir_output = networks.compare(snn, graph, x, T)
    assert set(trains) == set(spikes) == {"n1", "n2", "n3"}
    for name, train in trains.items():
        np.testing.assert_array_equal(train != 0, spikes[name] != 0, err_msg=name)
    assert sum(train.sum() for train in trains.values()) > 0
    np.testing.assert_array_equal(np.cumsum(outputs, axis=0), nir_output)
    back = import_nir(tmp_path / "strided.nir")
    assert back.get_layer("down").get_weights()[0].shape == (3, 3, 2, 4)  # the zero taps are dropped again
    assert back.get_layer("down_pad").padding == ((0, 1), (0, 1))
    np.testing.assert_array_equal(networks.spkeras_outputs(snn, x, T), networks.spkeras_outputs(back, x, T))


def test_padding_the_dilation_cannot_absorb_is_refused():
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(2, 3, strides=2, dilation_rate=1, padding="same")(inputs)
    x = keras.layers.Conv2D(2, 2, dilation_rate=3, padding="same", name="dilated")(IntegrateAndFire()(x))  # (1, 2)
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(IntegrateAndFire()(x))), name="m")
    with pytest.raises(NIRConversionError, match=r"'dilated' \(Conv2D\): its zero padding \(\(1, 2\), \(1, 2\)\)"):
        export_nir(model)


def test_padding_metadata_the_weight_does_not_confirm_is_ignored(rng):
    snn = _strided_snn(rng)
    graph = export_nir(snn)
    graph.nodes["down"].metadata["spkeras_padding"] = np.array([[1, 0], [1, 0]])  # zero taps would be at the end
    back = import_nir(graph)
    assert back.get_layer("down").get_weights()[0].shape == (4, 4, 2, 4)  # the 4×4 kernel as written, padding 1
    assert back.get_layer("down_pad").padding == ((1, 1), (1, 1))
    x = networks.dyadic_images(rng, 3, (8, 6, 2))
    np.testing.assert_array_equal(networks.spkeras_outputs(snn, x, T), networks.spkeras_outputs(back, x, T))
