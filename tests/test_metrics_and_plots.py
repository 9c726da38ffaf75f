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


def test_plots_return_figures(converted, tmp_path):
    plots = pytest.importorskip("spkeras.plots")
    pytest.importorskip("matplotlib")
    _, snn, x, y = converted
    result = spkeras.evaluate(snn, x, y, timesteps=8)
    plots.plot_accuracy({"ecc": result, "list": [0.1] * 8}, ann_accuracy=0.9).savefig(tmp_path / "a.png")
    plots.plot_firing_rates(metrics.firing_rates(snn, x[:4], 8)).savefig(tmp_path / "r.png")
    plots.plot_raster(spike_trains(snn, x[:1], 8)).savefig(tmp_path / "s.png")
    assert all((tmp_path / name).stat().st_size > 1000 for name in ("a.png", "r.png", "s.png"))
    with pytest.raises(ValueError, match="Received"):
        plots.plot_raster({"a": np.zeros((2, 1, 3))}, layer="b")
