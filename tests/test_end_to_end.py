"""End to end on the bundled MNIST CNN and sample (works on a bare clone, no ../shared needed)."""

import json

import numpy as np
import pytest

import spkeras
from spkeras import cli


@pytest.fixture
def demo_model():
    return spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH)


def _ann_accuracy(model, sample):
    return float(np.mean(np.argmax(model.predict(sample["x_test"], verbose=0), -1) == sample["y_test"]))


@pytest.mark.parametrize("method", ["ecc", "robust"])
def test_snn_within_one_point_of_ann_at_64_steps(demo_model, demo_sample, method):
    ann = _ann_accuracy(demo_model, demo_sample)
    snn = spkeras.convert(demo_model, demo_sample["x_calibration"], method=method, timesteps=64)
    result = spkeras.evaluate(snn, demo_sample["x_test"], demo_sample["y_test"], timesteps=64)
    assert ann > 0.98
    assert result.accuracy_at(64) >= ann - 0.01
    assert result.spikes_per_image() > 0


def test_max_norm_converts_and_learns_with_time(demo_model, demo_sample):
    snn = spkeras.convert(demo_model, demo_sample["x_calibration"], method="max", timesteps=64)
    result = spkeras.evaluate(snn, demo_sample["x_test"][:300], demo_sample["y_test"][:300], timesteps=64)
    assert result.accuracy_at(64) > 0.9
    assert result.accuracy_at(64) > result.accuracy_at(2)


def test_closed_form_estimate_is_close_to_simulation(demo_model, demo_sample):
    snn = spkeras.convert(demo_model, demo_sample["x_calibration"], method="ecc")
    estimate = spkeras.estimate_closed_form(snn, demo_sample["x_test"], demo_sample["y_test"], timesteps=[64, 256])
    simulated = spkeras.evaluate(snn, demo_sample["x_test"], demo_sample["y_test"], timesteps=64)
    assert estimate.timesteps == [64, 256]
    assert abs(estimate.accuracy[0] - simulated.accuracy_at(64)) < 0.02
    assert estimate.accuracy[1] >= _ann_accuracy(demo_model, demo_sample) - 0.01


def test_demo_command_prints_the_table(capsys):
    assert cli.main(["demo", "-T", "16", "--quiet"]) == 0
    output = capsys.readouterr().out
    assert "ANN accuracy" in output and "SNN accuracy" in output
    lines = [line.split() for line in output.splitlines() if line.strip().split()[:1] in (["1"], ["16"])]
    assert [line[0] for line in lines] == ["1", "16"]


def test_cli_errors_are_one_line(capsys):
    assert cli.main(["demo", "-T", "0", "--quiet"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("spkeras: error:") and "Received" in error
    assert len(error.strip().splitlines()) == 1


def test_result_serialises_to_json(demo_model, demo_sample):
    snn = spkeras.convert(demo_model, demo_sample["x_calibration"][:200], method="ecc")
    result = spkeras.evaluate(snn, demo_sample["x_test"][:50], demo_sample["y_test"][:50], timesteps=8)
    data = json.loads(json.dumps(result.to_dict()))
    assert len(data["accuracy"]) == 8 and data["num_images"] == 50


@pytest.mark.parametrize("method", ["termapping", "augmapping", "max"])
def test_closed_form_estimate_for_every_neuron_family(demo_model, demo_sample, method):
    snn = spkeras.convert(demo_model, demo_sample["x_calibration"][:200], method=method)
    estimate = spkeras.estimate_closed_form(snn, demo_sample["x_test"][:200], demo_sample["y_test"][:200], 64)
    assert estimate.accuracy[0] > 0.9 and estimate.spikes_per_image[0] > 0
