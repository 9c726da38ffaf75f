"""Matplotlib figures: accuracy against time steps, firing-rate histograms, a spike raster.

matplotlib is an optional dependency (``pip install spkeras[plots]``). Every function returns a
``matplotlib.figure.Figure``; save it with ``figure.savefig("file.png")``.
"""

from __future__ import annotations

import numpy as np


def _pyplot():
    try:
        import matplotlib

        if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError("Plots need matplotlib: pip install 'spkeras[plots]' (or pip install matplotlib).") from error
    return plt


def plot_accuracy(
    results: dict,
    ann_accuracy: float | None = None,
    title: str | None = None,
    chance_accuracy: float | None = None,
):
    """Accuracy against time steps (log-2 x axis), one line per result, the ANN as a dashed line.

    Args:
        results: Maps a label (e.g. a method name) to a :class:`~spkeras.simulate.SimulationResult` or to a
            sequence of accuracies at t = 1..T.
        ann_accuracy: The ANN's accuracy on the same data, drawn as a horizontal dashed line.
        title: Figure title.
        chance_accuracy: Accuracy of guessing (1 / number of classes), drawn as a dotted line.

    Returns:
        The ``matplotlib.figure.Figure``.

    Examples:
        >>> figure = plot_accuracy({"ecc": [0.2, 0.7, 0.9, 0.95]}, ann_accuracy=0.97, chance_accuracy=0.1)
        >>> [line.get_label() for line in figure.axes[0].get_lines()]
        ['ecc', 'ANN', 'chance']
        >>> import matplotlib.pyplot as plt
        >>> plt.close(figure)
    """
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6.4, 4.0))
    for label, result in results.items():
        accuracy = np.asarray(getattr(result, "accuracy", result), dtype="float64")
        axes.plot(np.arange(1, len(accuracy) + 1), accuracy, label=str(label))
    if ann_accuracy is not None:
        axes.axhline(ann_accuracy, color="black", linestyle="--", linewidth=1, label="ANN")
    if chance_accuracy is not None:
        axes.axhline(chance_accuracy, color="grey", linestyle=":", linewidth=1, label="chance")
    axes.set_xscale("log", base=2)
    axes.set_xlabel("time steps t")
    axes.set_ylabel("accuracy")
    axes.set_ylim(0, 1.02)
    axes.grid(True, alpha=0.3)
    axes.legend()
    axes.set_title(title or "SNN accuracy against time steps")
    figure.tight_layout()
    return figure


def plot_firing_rates(rates: dict, bins: int = 20):
    """Histograms of per-neuron firing rates, one panel per spiking layer.

    Args:
        rates: From :func:`spkeras.metrics.firing_rates`: layer name → rates (spikes per step).
        bins: Number of histogram bins.

    Examples:
        >>> import numpy as np
        >>> figure = plot_firing_rates({"conv": np.array([0.0, 0.25, 0.5]), "dense": np.array([0.125])})
        >>> len(figure.axes)
        2
    """
    plt = _pyplot()
    figure, axes = plt.subplots(1, max(len(rates), 1), figsize=(3.2 * max(len(rates), 1), 3.0), squeeze=False)
    for axis, (name, values) in zip(axes[0], rates.items()):
        values = np.asarray(values).reshape(-1)
        axis.hist(values, bins=bins, color="tab:blue", alpha=0.8)
        axis.set_yscale("log")
        axis.set_title(f"{name}\nmean {values.mean():.3f}")
        axis.set_xlabel("spikes per step")
    axes[0][0].set_ylabel("neurons")
    figure.tight_layout()
    return figure


def plot_raster(trains: dict, layer: str | None = None, image: int = 0, max_neurons: int = 400):
    """Spike raster of one image: which neurons of one layer fired at which step.

    Args:
        trains: From :func:`spkeras.simulate.spike_trains`: layer name → array ``(T, N, ...)``.
        layer: The layer to show (default: the first).
        image: Index of the image in the batch.
        max_neurons: Show at most this many neurons (the most active ones).

    Examples:
        >>> import numpy as np
        >>> trains = {"conv": np.eye(4, dtype="float32")[:, None, :]}  # T=4 steps, 1 image, 4 neurons
        >>> figure = plot_raster(trains)
        >>> len(figure.axes)
        1
    """
    plt = _pyplot()
    if not trains:
        raise ValueError("No spike trains given. Received: an empty dict.")
    layer = layer or next(iter(trains))
    if layer not in trains:
        raise ValueError(f"Unknown layer {layer!r}. Received: layer={layer!r}; available: {list(trains)}.")
    train = np.asarray(trains[layer])[:, image].reshape(trains[layer].shape[0], -1) != 0
    order = np.argsort(-train.sum(axis=0))[:max_neurons]
    steps, neurons = np.nonzero(train[:, order])
    figure, axis = plt.subplots(figsize=(6.4, 4.0))
    axis.scatter(steps + 1, neurons, s=4, marker="|", color="black")
    axis.set_xlabel("time step")
    axis.set_ylabel("neuron (most active first)")
    axis.set_title(f"spike raster: {layer}, image {image}")
    figure.tight_layout()
    return figure
