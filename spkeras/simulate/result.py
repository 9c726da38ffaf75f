"""The result of one simulation run: accuracy at every time step and spike counts per layer."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from spkeras.plots import plot_accuracy


@dataclasses.dataclass
class SimulationResult:
    """What one simulation run measured.

    Attributes:
        timesteps: Number of simulated steps T.
        accuracy: Accuracy after each step, shape ``(T,)``; ``accuracy[t-1]`` is the accuracy at step t.
        layer_names: Names of the spiking layers, in network order.
        spikes_per_step: Mean spikes per image emitted by each spiking layer at each step, shape ``(T, L)``.
            For augmented spikes this is the sum of the coefficients ``|k|``.
        events_per_step: Mean spike *events* per image (steps with a non-zero output), shape ``(T, L)``;
            equal to ``spikes_per_step`` except for augmented spikes.
        num_images: Number of evaluated images.
        wall_time: Seconds spent simulating (including compilation).
        encoding: Input encoding used.
        ann_accuracy: The source ANN's accuracy on the same data (``evaluate(..., ann=model)``), or None.
    """

    timesteps: int
    accuracy: np.ndarray
    layer_names: list[str]
    spikes_per_step: np.ndarray
    num_images: int
    wall_time: float
    encoding: str = "analog"
    events_per_step: np.ndarray | None = None
    ann_accuracy: float | None = None

    def accuracy_at(self, step: int) -> float:
        """Accuracy after ``step`` time steps (1 ≤ step ≤ T)."""
        if not 1 <= step <= self.timesteps:
            raise ValueError(f"`step` must be in [1, {self.timesteps}]. Received: step={step!r}.")
        return float(self.accuracy[step - 1])

    def spikes_per_image(self, step: int | None = None) -> float:
        """Mean number of spikes per image over all layers during steps 1..step (default: all T)."""
        step = self.timesteps if step is None else step
        return float(self.spikes_per_step[:step].sum())

    def spikes_per_layer(self, step: int | None = None) -> dict[str, float]:
        """Mean spikes per image of each spiking layer during steps 1..step (default: all T)."""
        step = self.timesteps if step is None else step
        totals = self.spikes_per_step[:step].sum(axis=0)
        return {name: float(total) for name, total in zip(self.layer_names, totals)}

    def conversion_loss(self) -> np.ndarray | None:
        """ANN accuracy minus SNN accuracy at every step ``(T,)``, or None without an ANN baseline.

        Examples:
            >>> result = SimulationResult(2, np.array([0.5, 0.75]), ["relu"], np.ones((2, 1)), 4, 1.0, ann_accuracy=1.0)
            >>> result.conversion_loss().tolist()
            [0.5, 0.25]
        """
        return None if self.ann_accuracy is None else self.ann_accuracy - np.asarray(self.accuracy, dtype="float64")

    def report_steps(self) -> list[int]:
        """Powers of two up to T, and T itself."""
        steps = [2**k for k in range(int(math.log2(self.timesteps)) + 1)]
        return steps if steps[-1] == self.timesteps else steps + [self.timesteps]

    def table(self, steps: list[int] | None = None, reference_accuracy: float | None = None) -> str:
        """A plain-text table of accuracy and spikes per image at the given steps.

        Args:
            steps: The steps to show (default: :meth:`report_steps`, i.e. 1, 2, 4, ..., T).
            reference_accuracy: The source ANN's accuracy on the same data: printed above the table, with a
                column ``ANN - SNN`` (the conversion loss) at each step. Default: :attr:`ann_accuracy`.

        Returns:
            The table as text.

        Examples:
            >>> result = SimulationResult(4, np.array([0.5, 0.8, 0.9, 0.95]), ["relu"], np.ones((4, 1)), 100, 1.0)
            >>> print(result.table(reference_accuracy=0.97))
            ANN accuracy: 0.9700
                 t  SNN accuracy  ANN - SNN   spikes/image
                 1        0.5000     0.4700            1.0
                 2        0.8000     0.1700            2.0
                 4        0.9500     0.0200            4.0
        """
        steps = self.report_steps() if steps is None else steps
        reference_accuracy = self.ann_accuracy if reference_accuracy is None else reference_accuracy
        lines = []
        loss_header = ""
        if reference_accuracy is not None:
            lines.append(f"ANN accuracy: {reference_accuracy:.4f}")
            loss_header = f"  {'ANN - SNN':>9}"
        lines.append(f"{'t':>6}  {'SNN accuracy':>12}{loss_header}  {'spikes/image':>13}")
        for step in steps:
            accuracy = self.accuracy_at(step)
            loss = "" if reference_accuracy is None else f"  {reference_accuracy - accuracy:>9.4f}"
            lines.append(f"{step:>6}  {accuracy:>12.4f}{loss}  {self.spikes_per_image(step):>13.1f}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """A JSON-serialisable dictionary of the result (with ``ann_accuracy`` and ``conversion_loss`` per step)."""
        loss = self.conversion_loss()
        return {
            "timesteps": self.timesteps,
            "encoding": self.encoding,
            "num_images": self.num_images,
            "wall_time_s": self.wall_time,
            "accuracy": [float(a) for a in self.accuracy],
            "layer_names": list(self.layer_names),
            "spikes_per_image_per_layer": self.spikes_per_layer(),
            "spikes_per_image": self.spikes_per_image(),
            "events_per_image": float(self.events_per_step.sum()) if self.events_per_step is not None else None,
            "ann_accuracy": self.ann_accuracy,
            "conversion_loss": None if loss is None else [float(value) for value in loss],
        }

    def plot(self, title: str | None = None, chance_accuracy: float | None = None):
        """Accuracy against time steps, with the ANN baseline as a dashed line when there is one.

        Returns:
            A ``matplotlib.figure.Figure`` (see :func:`spkeras.plots.plot_accuracy`).

        Examples:
            >>> result = SimulationResult(2, np.array([0.5, 0.75]), ["relu"], np.ones((2, 1)), 4, 1.0, ann_accuracy=1.0)
            >>> figure = result.plot(chance_accuracy=0.1)
            >>> [line.get_label() for line in figure.axes[0].get_lines()]
            ['SNN', 'ANN', 'chance']
            >>> import matplotlib.pyplot as plt
            >>> plt.close(figure)
        """
        return plot_accuracy(
            {"SNN": self}, ann_accuracy=self.ann_accuracy, title=title, chance_accuracy=chance_accuracy
        )
