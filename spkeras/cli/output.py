"""What the commands print and write: the ANN baseline, the result tables, the JSON report and the plot."""

from __future__ import annotations

import json


def measure_ann_accuracy(model, x, y, batch_size: int, verbose: bool = False) -> float:
    """Top-1 accuracy of the (non-spiking) ANN ``model`` on ``x``, ``y``, with an "ANN accuracy" progress bar.

    Examples:
        >>> import keras, numpy as np
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, use_bias=False)])
        >>> model.set_weights([np.eye(2)])
        >>> measure_ann_accuracy(model, np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]), [0, 1, 1], batch_size=2)
        0.6666666666666666
    """
    import numpy as np

    from spkeras.progress import progress_bar

    labels = np.asarray(y)
    labels = np.argmax(labels, axis=-1) if labels.ndim > 1 else labels.reshape(-1)
    if len(labels) != len(x):
        raise ValueError(f"The data has {len(x)} inputs but {len(labels)} labels.")
    bar = progress_bar(len(x), verbose, unit_name="image", label="ANN accuracy")
    predictions = []
    for start in range(0, len(x), batch_size):
        predictions.append(np.argmax(model.predict_on_batch(x[start : start + batch_size]), axis=-1))
        bar.update(min(start + batch_size, len(x)))
    return float(np.mean(np.concatenate(predictions) == labels))


def json_report(result, snn, ann: float | None) -> dict:
    """The JSON report: the result, the ANN baseline, chance level, conversion loss per step and metrics.

    Examples:
        >>> import spkeras
        >>> sample = spkeras.demo.load_sample()
        >>> cnn = spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH)
        >>> snn = spkeras.convert(cnn, sample["x_calibration"][:50], timesteps=4)
        >>> result = spkeras.evaluate(snn, sample["x_test"][:20], sample["y_test"][:20], timesteps=4)
        >>> content = json_report(result, snn, ann=1.0)
        >>> content["chance_accuracy"], len(content["conversion_loss"]), content["metrics"]["synaptic_operations"] > 0
        (0.1, 4, True)
    """
    from spkeras.metrics import summarize

    classes = int(snn.outputs[0].shape[-1])
    content = {**result.to_dict(), "ann_accuracy": ann, "chance_accuracy": 1.0 / classes}
    content["conversion_loss"] = None if ann is None else [ann - a for a in content["accuracy"]]
    content["metrics"] = summarize(snn, result)
    return content


def print_tables(content: dict, result, ann: float | None) -> None:
    """The tables of ``evaluate`` (and of ``convert --data``): accuracy per step (with the ANN), then the cost.

    Examples:
        >>> class Stub:  # a result and metrics: anything with table()
        ...     def table(self, reference_accuracy=None):
        ...         return f"table (ANN {reference_accuracy})"
        >>> print_tables({"metrics": Stub()}, Stub(), ann=0.99)
        table (ANN 0.99)
        table (ANN None)
    """
    print(result.table(reference_accuracy=ann))
    print(content["metrics"].table())


def write_json(path, content: dict, overwrite: bool = True) -> None:
    """Writes ``content`` as indented JSON, atomically, and says so on stdout.

    Examples:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "r.json"
        >>> write_json(path, {"accuracy": [0.5]})  # doctest: +ELLIPSIS
        wrote .../r.json
    """
    from spkeras.io import write_text

    write_text(path, json.dumps(content, indent=2) + "\n", overwrite=overwrite)
    print(f"wrote {path}")


def write_plot(path, result, ann: float | None, chance: float, title: str, overwrite: bool = True) -> None:
    """Saves the accuracy-vs-time-steps plot (format by extension), atomically, and says so on stdout.

    Examples:
        >>> import pathlib, tempfile, numpy as np
        >>> from spkeras.simulate import SimulationResult
        >>> result = SimulationResult(2, np.array([0.5, 0.9]), ["relu"], np.ones((2, 1)), 10, 1.0)
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "accuracy.svg"
        >>> write_plot(path, result, ann=0.95, chance=0.1, title="demo")  # doctest: +ELLIPSIS
        wrote .../accuracy.svg
    """
    from spkeras.io import atomic_output
    from spkeras.plots import plot_accuracy

    figure = plot_accuracy({"SNN": result}, ann_accuracy=ann, chance_accuracy=chance, title=title)
    try:
        with atomic_output(path, overwrite=overwrite) as temporary:
            figure.savefig(temporary, dpi=120, bbox_inches="tight")
    finally:
        import matplotlib.pyplot as plt

        plt.close(figure)
    print(f"wrote {path}")


def dip_note(result, tolerance: float = 0.01, hint: str = "") -> str | None:
    """One line explaining a dip of the accuracy between two reported steps, or ``None`` when it only rises.

    Args:
        result: A :class:`~spkeras.simulate.SimulationResult`.
        tolerance: Drops smaller than this (e.g. one image in a hundred) are not called a dip.
        hint: Added in parentheses at the end, e.g. what removes the dip.

    Examples:
        >>> import numpy as np
        >>> from spkeras.simulate import SimulationResult
        >>> result = SimulationResult(4, np.array([0.2, 0.9, 0.8, 0.8]), ["relu"], np.ones((4, 1)), 10, 1.0)
        >>> print(dip_note(result))
        note: the dip from t = 2 to t = 4 is low-T quantisation of max-normalised ReLU rates; it fades as t grows.
    """
    steps = result.report_steps()
    best_step = steps[0]
    for step in steps[1:]:
        if result.accuracy_at(step) < result.accuracy_at(best_step) - tolerance:
            return (
                f"note: the dip from t = {best_step} to t = {step} is low-T quantisation of max-normalised ReLU "
                f"rates; it fades as t grows{f' ({hint})' if hint else ''}."
            )
        if result.accuracy_at(step) > result.accuracy_at(best_step):
            best_step = step
    return None
