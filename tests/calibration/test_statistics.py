"""spkeras.calibration.statistics: streamed site statistics equal those computed with NumPy on all activations."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from spkeras.calibration import HISTOGRAM_BINS, LOG10_RANGE, SiteStatistics, collect_statistics
from tests.keras_session import _clean_keras_session  # noqa: F401  (no gc.collect per test)


@pytest.fixture
def sites_model():
    """Conv → ReLU (site 1) → Flatten → Dense → ReLU (site 2) → Dense, random weights (fixed seed)."""
    keras.utils.set_random_seed(5)
    inputs = keras.Input((6, 6, 2))
    conv_relu = keras.layers.ReLU(name="conv_relu")
    dense_relu = keras.layers.ReLU(name="dense_relu")
    tensor = conv_relu(keras.layers.Conv2D(4, 3, bias_initializer=keras.initializers.Constant(0.05))(inputs))
    tensor = dense_relu(keras.layers.Dense(6)(keras.layers.Flatten()(tensor)))
    model = keras.Model(inputs, keras.layers.Dense(3)(tensor))
    return model, [conv_relu, dense_relu]


@pytest.fixture
def data():
    return np.random.default_rng(2).normal(0.5, 1.0, (45, 6, 6, 2)).astype("float32")


def _activations(model, sites, x):
    probe = keras.Model(model.inputs[0], [layer.output for layer in sites])
    return [np.asarray(a, dtype="float64") for a in probe(x, training=False)]


def test_maxima_and_counts_equal_numpy(sites_model, data):
    model, sites = sites_model
    statistics = collect_statistics(model, sites, data, batch_size=7)  # 7 does not divide 45
    assert [s.name for s in statistics] == ["conv_relu", "dense_relu"]
    for stats, activation in zip(statistics, _activations(model, sites, data), strict=True):
        channels = activation.reshape(-1, activation.shape[-1])
        assert stats.count == activation.size
        assert stats.positive_count == int(np.sum(activation > 0))
        assert 0 < stats.positive_count < stats.count  # the data exercises both sides of the ReLU
        assert int(stats.histogram.sum()) == stats.positive_count
        assert stats.histogram.shape == (HISTOGRAM_BINS,)
        np.testing.assert_allclose(stats.maximum, activation.max(), rtol=1e-6)
        assert stats.channel_maximum.dtype == np.float64
        np.testing.assert_allclose(stats.channel_maximum, channels.max(axis=0), rtol=1e-6)
        assert stats.maximum == stats.channel_maximum.max()


@pytest.mark.parametrize("percentile", [10.0, 50.0, 90.0, 99.0, 99.9])
def test_percentile_is_the_order_statistic_within_one_bin(sites_model, data, percentile):
    model, sites = sites_model
    statistics = collect_statistics(model, sites, data, batch_size=16)
    for stats, activation in zip(statistics, _activations(model, sites, data), strict=True):
        positive = np.sort(activation[activation > 0])
        # The value of rank ceil(p·n/100) among the positive activations; one bin is 16/32768 decade (0.11 %).
        expected = positive[int(np.ceil(percentile / 100 * positive.size)) - 1]
        assert stats.percentile(percentile) == pytest.approx(expected, rel=1.2e-3)


@pytest.mark.parametrize("percentile", [1.0, 50.0, 99.0, 99.9, 99.99])
def test_percentile_matches_np_percentile_within_0_2_percent(percentile):
    inputs = keras.Input((100,))
    relu = keras.layers.ReLU()
    model = keras.Model(inputs, relu(inputs))
    # Log-uniform over three decades: neighbouring order statistics are 0.007 % apart at every percentile.
    x = (10.0 ** np.random.default_rng(4).uniform(-2, 1, (2000, 100))).astype("float32")
    x[:, ::2] *= -1  # half of the activations are silenced by the ReLU
    (stats,) = collect_statistics(model, [relu], x, batch_size=500)
    positive = x[x > 0].astype("float64")
    assert stats.positive_count == positive.size == 100_000
    assert stats.percentile(percentile) == pytest.approx(np.percentile(positive, percentile), rel=2e-3)


def test_percentile_edges(sites_model, data):
    model, sites = sites_model
    (stats,) = collect_statistics(model, sites[:1], data)
    assert stats.percentile(100) == stats.maximum
    assert stats.percentile(1e-6) > 0
    assert stats.percentile(50) <= stats.percentile(90) <= stats.percentile(99.9) <= stats.maximum
    for bad in (0, -1, 100.5):
        with pytest.raises(ValueError, match=rf"`percentile` must be in \(0, 100\]\. Received: {bad!r}"):
            stats.percentile(bad)


def test_a_site_that_never_fires(data):
    inputs = keras.Input((6, 6, 2))
    relu = keras.layers.ReLU(name="silent")
    dense = keras.layers.Dense(3, kernel_initializer="zeros", bias_initializer=keras.initializers.Constant(-1.0))
    model = keras.Model(inputs, relu(dense(inputs)))
    (stats,) = collect_statistics(model, [relu], data)
    assert stats.positive_count == 0 and stats.count == data.shape[0] * 6 * 6 * 3
    assert stats.maximum == 0.0 and stats.channel_maximum.tolist() == [0.0, 0.0, 0.0]
    assert stats.percentile(99.9) == 0.0 and stats.percentile(100) == 0.0


def test_percentile_reads_the_histogram_bin():
    low, high = LOG10_RANGE
    width = (high - low) / HISTOGRAM_BINS
    histogram = np.zeros(HISTOGRAM_BINS, dtype="int64")
    histogram[100] = 3  # three values in bin 100, one in bin 20000
    histogram[20000] = 1
    stats = SiteStatistics("s", 1e9, np.array([1e9]), histogram, positive_count=4, count=10)
    # rank 2 of 4 falls 2/3 into bin 100; rank 4 of 4 at the top of bin 20000.
    assert stats.percentile(50) == pytest.approx(10 ** (low + (100 + 2 / 3) * width))
    assert stats.percentile(99.99) == pytest.approx(10 ** (low + (20000 + 0.9996) * width), rel=1e-6)
    # Never above the observed maximum.
    capped = SiteStatistics("s", 1e-7, np.array([1e-7]), histogram, positive_count=4, count=10)
    assert capped.percentile(99.99) == 1e-7


def test_a_dataset_gives_the_same_statistics_as_the_arrays(sites_model, data):
    model, sites = sites_model
    from_arrays = collect_statistics(model, sites, data, batch_size=10)
    labels = np.zeros(len(data), "int64")
    for dataset in (
        tf.data.Dataset.from_tensor_slices(data).batch(10),
        tf.data.Dataset.from_tensor_slices((data, labels)).batch(13),
    ):
        from_dataset = collect_statistics(model, sites, dataset, batch_size=999)
        for a, b in zip(from_arrays, from_dataset, strict=True):
            assert (a.name, a.count, a.positive_count) == (b.name, b.count, b.positive_count)
            np.testing.assert_array_equal(a.histogram, b.histogram)
            np.testing.assert_allclose(a.channel_maximum, b.channel_maximum, rtol=1e-6)
            assert a.percentile(99.0) == pytest.approx(b.percentile(99.0), rel=1e-6)


def test_batch_size_does_not_change_the_statistics(sites_model, data):
    model, sites = sites_model
    one_batch = collect_statistics(model, sites, data, batch_size=len(data))
    small = collect_statistics(model, sites, data, batch_size=4)
    for a, b in zip(one_batch, small, strict=True):
        assert (a.count, a.positive_count) == (b.count, b.positive_count)
        np.testing.assert_allclose(a.channel_maximum, b.channel_maximum, rtol=1e-6)
        # Bins are 1/2048 decade wide: a value may move to a neighbour bin by float rounding, no further.
        assert np.abs(np.cumsum(a.histogram) - np.cumsum(b.histogram)).max() <= 2


@pytest.mark.parametrize(
    "empty",
    [
        np.zeros((0, 6, 6, 2), "float32"),
        tf.data.Dataset.from_tensor_slices(np.zeros((0, 6, 6, 2), "float32")).batch(4),
    ],
    ids=["array", "dataset"],
)
def test_empty_data_is_refused(sites_model, empty):
    model, sites = sites_model
    with pytest.raises(ValueError, match=r"calibration data is empty\. Received: 0 samples"):
        collect_statistics(model, sites, empty)


def test_no_sites_means_no_statistics(sites_model, data):
    model, _ = sites_model
    assert collect_statistics(model, [], data) == []


def test_a_model_with_unknown_spatial_dimensions(data):
    inputs = keras.Input((None, None, 2))
    relu = keras.layers.ReLU(name="relu")
    model = keras.Model(inputs, relu(keras.layers.Conv2D(3, 3)(inputs)))
    (stats,) = collect_statistics(model, [relu], data, batch_size=10)
    activation = np.asarray(model(data), dtype="float64")
    assert stats.count == activation.size
    np.testing.assert_allclose(stats.channel_maximum, activation.reshape(-1, 3).max(axis=0), rtol=1e-6)


def test_input_range_of_arrays_and_datasets():
    from spkeras.calibration.statistics import input_range

    x = np.random.default_rng(0).uniform(-0.5, 2.0, (23, 3, 2)).astype("float32")
    expected = (float(x.min()), float(x.max()))
    assert input_range(x, batch_size=5) == expected
    assert input_range(tf.data.Dataset.from_tensor_slices((x, np.zeros(23))).batch(4)) == expected
    with pytest.raises(ValueError, match="Received: 0 samples"):
        input_range(x[:0])
