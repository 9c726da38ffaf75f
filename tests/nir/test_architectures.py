"""The default conversions of a ResNet (stride-2 "same" convolutions), a MobileNet-style net and a max-pool VGG
export, read back with nir.read, keep channels-first weights and import to bit-identical simulations."""

import keras
import numpy as np
import pytest

from tests.keras_session import _clean_keras_session  # noqa: F401
from tests.nir import architectures, networks

nir = pytest.importorskip("nir", reason='needs the optional package nir: pip install "spkeras[nir]"')

import spkeras  # noqa: E402
from spkeras.nir import export_nir, import_nir  # noqa: E402

T = 16
#: nir 1.0.8's type check infers grouped (depthwise) convolutions wrongly; the others read with it on.
TYPE_CHECK = {"resnet": True, "mobilenet": False, "vgg": True}
EXPECTED = {"resnet": "Conv2D", "mobilenet": "DepthwiseConv2D", "vgg": "SpikingMaxPooling2D"}


@pytest.mark.parametrize("name", sorted(architectures.ARCHITECTURES))
def test_default_conversion_exports_reads_back_and_imports_identically(rng, tmp_path, name):
    model = architectures.build(name)
    snn = spkeras.convert(model, architectures.images(rng, name, 64), timesteps=T)  # the defaults
    assert EXPECTED[name] in {type(layer).__name__ for layer in snn.layers}
    path = tmp_path / f"{name}.nir"
    export_nir(snn, path)
    graph = nir.read(path, type_check=TYPE_CHECK[name])
    convolutions = [layer for layer in snn.layers if type(layer) is keras.layers.Conv2D]
    first = convolutions[0]  # the first 3×3 "same" stride-1 convolution: padding 1, weights channels-first
    np.testing.assert_array_equal(graph.nodes[first.name].weight, np.transpose(first.get_weights()[0], (3, 2, 0, 1)))
    strided = [
        layer
        for layer in snn.layers
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D))
        and layer.strides == (2, 2)
        and layer.kernel_size == (3, 3)
    ]
    for layer in strided if name != "vgg" else ():  # stride-2 "same" on an even input: a 4×4 kernel, padding 1
        node = graph.nodes[layer.name]
        assert node.weight.shape[2:] == (4, 4) and tuple(node.padding) == (1, 1), layer.name
        np.testing.assert_array_equal(node.weight[:, :, 0, :], 0)
    assert name == "vgg" or strided
    x = architectures.images(rng, name, 6)
    back = import_nir(path)
    trains, again = (
        spkeras.simulate.spike_trains(snn, x, timesteps=T),
        spkeras.simulate.spike_trains(back, x, timesteps=T),
    )
    assert list(trains) == list(again) and sum(train.sum() for train in trains.values()) > 0
    for layer_name in trains:
        np.testing.assert_array_equal(trains[layer_name], again[layer_name], err_msg=layer_name)
    np.testing.assert_array_equal(networks.spkeras_outputs(snn, x, T), networks.spkeras_outputs(back, x, T))
    # the graph itself, in the independent reference interpreter (float32): the same spike counts and predictions
    trains, spikes, outputs, nir_output = networks.compare(snn, graph, x, T, dtype="float32")
    for layer_name, train in trains.items():
        counts = (train != 0).sum(axis=tuple(range(2, train.ndim)))
        np.testing.assert_array_equal(counts, spikes[layer_name].sum(axis=tuple(range(2, train.ndim))), layer_name)
    running = np.cumsum(outputs, axis=0)
    np.testing.assert_allclose(running, nir_output, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(running.argmax(-1), nir_output.argmax(-1))
