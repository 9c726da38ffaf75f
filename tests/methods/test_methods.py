import numpy as np
import pytest

from spkeras.calibration import collect_statistics
from spkeras.methods import ThresholdPolicy, available_methods, get_method, register_method


def _statistics(values):
    import keras

    inputs = keras.Input((values.shape[1],))
    relu = keras.layers.ReLU()
    model = keras.Model(inputs, relu(inputs))
    return collect_statistics(model, [relu], values.astype("float32"), batch_size=7)[0]


def test_registered_methods():
    assert {"ecc", "max", "robust"} <= set(available_methods())
    with pytest.raises(ValueError, match="Available"):
        get_method("magic")


def test_max_norm_takes_the_maximum():
    values = np.array([[0.1, 2.0, -1.0], [0.5, 0.2, 3.5]])
    stats = _statistics(values)
    assert get_method("max")().site_scale(stats) == pytest.approx(3.5)
    assert get_method("ecc")().site_scale(stats) == pytest.approx(3.5)
    np.testing.assert_allclose(stats.channel_maximum, [0.5, 2.0, 3.5])


def test_robust_percentile_matches_numpy_on_positive_values():
    rng = np.random.default_rng(0)
    values = rng.lognormal(0.0, 1.0, size=(2000, 50)) * (rng.uniform(size=(2000, 50)) > 0.3)
    stats = _statistics(values)
    positive = values[values > 0]
    for percentile in (50.0, 99.0, 99.9):
        exact = np.percentile(positive, percentile)
        estimate = get_method("robust")(percentile=percentile).site_scale(stats)
        assert estimate == pytest.approx(exact, rel=5e-3)
    assert get_method("robust")(percentile=100).site_scale(stats) == pytest.approx(values.max(), rel=1e-6)


def test_ecc_amplification_is_the_gain():
    assert get_method("ecc")(amp_factor=7).weight_transform().gain == 7.0
    assert get_method("ecc")().v_init == 0.5


def test_ecc_percentile_clips_a_heavy_tail():
    rng = np.random.default_rng(0)
    values = rng.lognormal(0.0, 1.0, size=(2000, 50)).astype("float32")
    stats = _statistics(values)
    assert get_method("ecc")().site_scale(stats) == values.max()  # default: the exact maximum, unchanged
    clipped = get_method("ecc")(percentile=99.9).site_scale(stats)
    assert clipped == pytest.approx(np.percentile(values, 99.9), rel=5e-3)
    assert clipped < values.max() / 2
    with pytest.raises(ValueError, match="Received"):
        get_method("ecc")(percentile=0)


def test_a_new_method_is_one_registered_class():
    @register_method("half_max_test")
    class HalfMax(ThresholdPolicy):
        def site_scale(self, statistics):
            return 0.5 * statistics.maximum

    try:
        stats = _statistics(np.array([[4.0]]))
        assert get_method("half_max_test")().site_scale(stats) == 2.0
    finally:
        from spkeras.methods import unregister_method

        unregister_method("half_max_test")
    assert "half_max_test" not in available_methods()
