"""The bundled demo: a small pre-trained MNIST CNN and a 2,000-image MNIST sample ship with the package."""

from __future__ import annotations

import pathlib
import time

import numpy as np

DATA_DIR = pathlib.Path(__file__).resolve().parent / "data"
DEMO_MODEL_PATH = DATA_DIR / "demo_mnist_cnn.h5"
SAMPLE_PATH = DATA_DIR / "mnist_sample.npz"


def load_sample() -> dict[str, np.ndarray]:
    """Loads the bundled MNIST sample as float32 images in [0, 1] with a channel axis.

    Returns:
        A dict with ``x_calibration`` (1,000 training images), ``y_calibration``, ``x_test`` (the first
        1,000 MNIST test images) and ``y_test``; images have shape ``(N, 28, 28, 1)``.

    Examples:
        >>> sample = load_sample()
        >>> sample["x_test"].shape
        (1000, 28, 28, 1)
    """
    with np.load(SAMPLE_PATH) as data:
        return {
            "x_calibration": (data["x_calibration"].astype("float32") / 255.0)[..., None],
            "y_calibration": data["y_calibration"].astype("int64"),
            "x_test": (data["x_test"].astype("float32") / 255.0)[..., None],
            "y_test": data["y_test"].astype("int64"),
        }


def run_demo(method: str = "ecc", timesteps: int = 64, verbose: bool = False) -> dict:
    """Converts the bundled CNN and simulates it on the bundled test images.

    Args:
        method: Conversion method name.
        timesteps: Number of simulated steps.
        verbose: Show progress bars.

    Returns:
        A dict with ``ann_accuracy``, the :class:`~spkeras.simulate.SimulationResult` under ``result``,
        and the conversion and simulation times in seconds.

    Examples:
        >>> # report = run_demo(); print(report["result"].table(reference_accuracy=report["ann_accuracy"]))
    """
    from spkeras.convert import convert
    from spkeras.io import load_model
    from spkeras.simulate import evaluate

    sample = load_sample()
    cnn = load_model(DEMO_MODEL_PATH)
    ann_predictions = np.argmax(cnn.predict(sample["x_test"], batch_size=500, verbose=0), axis=-1)
    ann_accuracy = float(np.mean(ann_predictions == sample["y_test"]))
    started = time.perf_counter()
    snn = convert(cnn, sample["x_calibration"], method=method, timesteps=timesteps, verbose=verbose)
    conversion_time = time.perf_counter() - started
    result = evaluate(snn, sample["x_test"], sample["y_test"], timesteps=timesteps, verbose=verbose)
    return {
        "method": method,
        "ann_accuracy": ann_accuracy,
        "result": result,
        "conversion_time_s": conversion_time,
        "simulation_time_s": result.wall_time,
    }
