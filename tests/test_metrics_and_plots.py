import keras
import numpy as np
import pytest

import spkeras
from spkeras import metrics
from spkeras.simulate import spike_trains
from tests.model_zoo import labels_from, tiny_cnn, tiny_inputs


@pytest.fixture
def converted():
    model = tiny_cnn()
    x = tiny_inputs(20)
    return model, spkeras.convert(model, x, method="ecc"), x, labels_from(model, x)


def test_macs_by_hand():
    inputs = keras.Input((5, 5, 2))
    conv = keras.layers.Conv2D(3, 3)(inputs)  # 3x3x3 outputs, fan-in 3*3*2 = 18
    model = keras.Model(inputs, keras.layers.Dense(4)(keras.layers.Flatten()(conv)))  # 27 inputs x 4
    assert metrics.layer_macs(model) == {"conv2d": 27 * 18, "dense": 27 * 4}


def test_fan_out_through_pooling_by_hand(converted):
    _, snn, _, _ = converted
    fan_out = metrics.mean_fan_out(snn)
    # tiny_cnn: IF(8x8x6) -> AvgPool(2) -> Conv2D(8, 3, same) on 4x4x6: connections 4*4*8*54 / 96 inputs = 72
    assert fan_out["re_lu"] == pytest.approx(4 * 4 * 8 * 54 / (4 * 4 * 6))
    # conv2d_1 spikes (4x4x8 = 128) -> Flatten -> Dense(12): fan-out 12
    assert fan_out["conv2d_1_spiking"] == pytest.approx(12.0)


def test_summary_energy_formula(converted):
    _, snn, x, y = converted
    result = spkeras.evaluate(snn, x, y, timesteps=16)
    summary = metrics.summarize(snn, result, energy_per_ac=1.0, energy_per_mac=10.0)
    expected_sops = sum(result.spikes_per_layer()[k] * v for k, v in metrics.mean_fan_out(snn).items())
    assert summary["synaptic_operations"] == pytest.approx(expected_sops)
    first_macs = next(iter(metrics.layer_macs(snn).values()))
    assert summary["input_macs"] == first_macs * 16
    assert summary["energy_snn_joules"] == pytest.approx(expected_sops + 10.0 * first_macs * 16)
    assert summary["energy_ann_joules"] == pytest.approx(10.0 * summary["ann_macs"])


def test_firing_rates_are_rates(converted):
    _, snn, x, _ = converted
    rates = metrics.firing_rates(snn, x[:5], timesteps=32)
    assert len(rates) == 3
    for values in rates.values():
        assert values.min() >= 0 and values.max() <= 1


def test_spike_trains_match_counts(converted):
    _, snn, x, y = converted
    trains = spike_trains(snn, x[:3], timesteps=16)
    result = spkeras.evaluate(snn, x[:3], y[:3], timesteps=16)
    for name, train in trains.items():
        assert train.shape[:2] == (16, 3)
        assert np.abs(train).sum() / 3 == pytest.approx(result.spikes_per_layer()[name], rel=1e-5)


def _png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_plots_return_figures(converted, tmp_path):
    plots = pytest.importorskip("spkeras.plots")
    plt = pytest.importorskip("matplotlib.pyplot")
    _, snn, x, y = converted
    result = spkeras.evaluate(snn, x, y, timesteps=8)
    accuracy = plots.plot_accuracy({"ecc": result, "list": [0.1] * 8}, ann_accuracy=0.9)
    lines = accuracy.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["ecc", "list", "ANN"]
    np.testing.assert_array_equal(lines[0].get_xdata(), np.arange(1, 9))
    np.testing.assert_allclose(lines[0].get_ydata(), result.accuracy)
    np.testing.assert_allclose(lines[1].get_ydata(), [0.1] * 8)
    assert list(lines[2].get_ydata()) == [0.9, 0.9]
    accuracy.savefig(tmp_path / "a.png", dpi=50)
    assert _png_size(tmp_path / "a.png") == (320, 200)  # figsize 6.4 x 4.0 inches

    rates = metrics.firing_rates(snn, x[:4], 8)
    histograms = plots.plot_firing_rates(rates)
    assert len(histograms.axes) == len(rates) == 3
    for axis, (name, values) in zip(histograms.axes, rates.items(), strict=True):
        assert axis.get_title() == f"{name}\nmean {np.asarray(values).mean():.3f}"
        assert sum(patch.get_height() for patch in axis.patches) == np.asarray(values).size  # every neuron counted

    trains = spike_trains(snn, x[:1], 8)
    first = next(iter(trains))
    raster = plots.plot_raster(trains)
    (points,) = raster.axes[0].collections
    assert len(points.get_offsets()) == np.count_nonzero(trains[first][:, 0]) > 0  # one mark per spike
    assert raster.axes[0].get_title() == f"spike raster: {first}, image 0"
    steps = np.asarray(points.get_offsets())[:, 0]
    assert steps.min() >= 1 and steps.max() <= 8
    for figure in (accuracy, histograms, raster):
        plt.close(figure)
    with pytest.raises(ValueError, match="Received"):
        plots.plot_raster({"a": np.zeros((2, 1, 3))}, layer="b")
