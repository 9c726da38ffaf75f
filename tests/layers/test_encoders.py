import numpy as np
import pytest
import tensorflow as tf

import spkeras
from spkeras.layers.encoders import encode_chunk
from tests.model_zoo import labels_from, tiny_cnn, tiny_inputs


def test_count_encoding_gives_floor_x_t_spikes_evenly():
    x = tf.constant([[0.0, 0.25, 0.5, 0.3, 1.0]])
    spikes = encode_chunk(x, "count", tf.constant(0), 20, tf.constant([0, 0])).numpy()[:, 0, :]
    np.testing.assert_array_equal(spikes.sum(axis=0), np.floor(np.array([0.0, 0.25, 0.5, 0.3, 1.0]) * 20))
    np.testing.assert_array_equal(np.nonzero(spikes[:, 1])[0] + 1, [4, 8, 12, 16, 20])


def test_count_encoding_continues_across_chunks():
    x = tf.constant([[0.3]])
    whole = encode_chunk(x, "count", tf.constant(0), 20, tf.constant([0, 0])).numpy().ravel()
    parts = [encode_chunk(x, "count", tf.constant(s), 5, tf.constant([0, 0])).numpy().ravel() for s in (0, 5, 10, 15)]
    np.testing.assert_array_equal(whole, np.concatenate(parts))


def test_poisson_rate_and_reproducibility():
    x = tf.fill([1, 1000], 0.3)
    a = encode_chunk(x, "poisson", tf.constant(0), 50, tf.constant([7, 0], tf.int64)).numpy()
    b = encode_chunk(x, "poisson", tf.constant(0), 50, tf.constant([7, 0], tf.int64)).numpy()
    c = encode_chunk(x, "poisson", tf.constant(50), 50, tf.constant([7, 0], tf.int64)).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert abs(a.mean() - 0.3) < 0.01
    assert set(np.unique(a)) <= {0.0, 1.0}


@pytest.mark.parametrize("encoding", ["poisson", "count"])
def test_rate_encodings_converge(encoding):
    model = tiny_cnn()
    x = tiny_inputs(40)
    y = labels_from(model, x)
    snn = spkeras.convert(model, x, method="robust")
    first = spkeras.evaluate(snn, x, y, timesteps=128, encoding=encoding, seed=3)
    again = spkeras.evaluate(snn, x, y, timesteps=128, encoding=encoding, seed=3)
    np.testing.assert_array_equal(first.accuracy, again.accuracy)
    assert first.accuracy_at(128) >= 0.8
    assert first.encoding == encoding
