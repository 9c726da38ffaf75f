import numpy as np

from spkeras.layers import ChannelAffine
from tests.layers.layer_checks import check_layer


def test_channel_affine_layer_contract(tmp_path):
    model = check_layer(ChannelAffine, (4, 4, 3), tmp_path)
    (layer,) = [layer for layer in model.layers if isinstance(layer, ChannelAffine)]
    # Inside a model, the map is applied along the last (channel) axis of every position.
    scale, offset = np.array([2.0, -1.0, 0.5]), np.array([0.25, 0.0, -1.0])
    layer.set_weights([scale, offset])
    x = np.random.default_rng(0).uniform(-1, 1, (2, 4, 4, 3)).astype("float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), x * scale + offset, rtol=1e-6)


def test_channel_affine_by_hand():
    layer = ChannelAffine()
    layer.build((None, 2))
    layer.set_weights([np.array([2.0, -1.0]), np.array([0.5, 0.0])])
    np.testing.assert_allclose(layer(np.array([[1.0, 3.0]], "float32")), [[2.5, -3.0]])
    assert not layer.trainable_weights
