"""evaluate(..., ann=model): the ANN baseline and the conversion loss in the result, table, JSON and plot."""

import json

import numpy as np
import pytest

import spkeras
from spkeras.simulate import SimulationResult, ann_accuracy
from tests.model_zoo import tiny_cnn, tiny_inputs


@pytest.fixture(scope="module")
def pair():
    model = tiny_cnn()
    return model, spkeras.convert(model, tiny_inputs(32, seed=2), method="robust", timesteps=8)


def test_evaluate_with_the_ann_reports_its_accuracy_and_the_loss(pair):
    model, snn = pair
    x = tiny_inputs(20)
    y = np.random.default_rng(3).integers(0, 4, 20)  # random labels: the ANN is right on some, not all
    predictions = np.argmax(model.predict(x, verbose=0), axis=-1)
    expected = float(np.mean(predictions == y))
    assert 0 < expected < 1
    result = spkeras.evaluate(snn, x, y, ann=model)
    assert result.ann_accuracy == expected == ann_accuracy(model, x, y, batch_size=7)
    np.testing.assert_allclose(result.conversion_loss(), expected - result.accuracy)
    table = result.table()
    assert table.splitlines()[0] == f"ANN accuracy: {expected:.4f}" and "ANN - SNN" in table
    report = json.loads(json.dumps(result.to_dict()))
    assert report["ann_accuracy"] == expected
    assert report["conversion_loss"] == [expected - a for a in result.accuracy.tolist()]
    figure = result.plot(chance_accuracy=0.25)
    labels = [line.get_label() for line in figure.axes[0].get_lines()]
    assert labels == ["SNN", "ANN", "chance"]
    import matplotlib.pyplot as plt

    plt.close(figure)


def test_without_the_ann_nothing_is_invented(pair):
    _, snn = pair
    x = tiny_inputs(4)
    result = spkeras.evaluate(snn, x, np.zeros(4, int))
    assert result.ann_accuracy is None and result.conversion_loss() is None
    assert "ANN" not in result.table()
    assert result.to_dict()["ann_accuracy"] is None and result.to_dict()["conversion_loss"] is None


def test_the_ann_argument_is_checked(pair):
    model, snn = pair
    x = tiny_inputs(4)
    with pytest.raises(ValueError, match="not a converted model"):
        spkeras.evaluate(snn, x, np.zeros(4, int), ann=snn)
    with pytest.raises(TypeError, match="Received"):
        spkeras.evaluate(snn, x, np.zeros(4, int), ann="model.h5")


def test_table_reference_accuracy_overrides_the_stored_baseline():
    result = SimulationResult(2, np.array([0.5, 0.75]), ["relu"], np.ones((2, 1)), 4, 1.0, ann_accuracy=1.0)
    assert result.table(reference_accuracy=0.9).splitlines()[0] == "ANN accuracy: 0.9000"
