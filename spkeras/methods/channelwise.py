"""Channel-wise threshold balancing from the maximum input current (Ngu & Lee, Applied Sciences 2022).

Soft-reset IF neurons and unchanged weights (spikes carry θ). The thresholds are fixed one layer at a time
by running the spiking network itself on the calibration data: for layer l, with the thresholds of the
layers before it already fixed, θ_l[c] is the maximum over samples, positions and time steps of the
per-step input current of channel c (analog input). Convolutional layers get one threshold per channel;
dense hidden layers one threshold for the layer, as in the paper — or, with ``dense_thresholds="neuron"``
(an spkeras extension), one per neuron. Per-neuron thresholds give neurons with a small range a finer rate
resolution; they pay off for regression heads, whose error is the rate quantisation noise of the last hidden
layer (``benchmarks/two_heads.py``: the MSE of a linear head at T = 64 falls from 1.46x the ANN's with ``ecc``
to about 1.1x).
"""

import logging

import numpy as np

from spkeras import validation
from spkeras.methods.base import ThresholdPolicy, check_positive, register_method

logger = logging.getLogger(__name__)

DENSE_THRESHOLDS = ("layer", "neuron")


@register_method("channelwise")
class ChannelwiseMaxCurrent(ThresholdPolicy):
    """Per-channel thresholds = the maximum per-step input current measured in the SNN, layer by layer.

    Args:
        calibration_timesteps: Time steps simulated per layer to measure the currents (default 32).
        calibration_samples: At most this many calibration samples are simulated (default 1000); the cost
            grows with the number of layers × samples × steps.
        dense_thresholds: ``"layer"`` (default, the paper): one threshold per dense hidden layer; ``"neuron"``:
            one threshold per neuron of a dense hidden layer (the maximum current of that neuron).

    Examples:
        >>> import spkeras
        >>> snn = spkeras.convert(spkeras.demo.DEMO_MODEL_PATH, spkeras.demo.load_sample()["x_calibration"][:50],
        ...                       method="channelwise", calibration_timesteps=8)
        >>> [layer.per_channel for layer in snn.layers if hasattr(layer, "step")]  # conv layers: one θ per channel
        [True, True]
    """

    spike_value = "threshold"

    def __init__(
        self,
        calibration_timesteps: int = 32,
        calibration_samples: int = 1000,
        dense_thresholds: str = "layer",
        **options,
    ):
        super().__init__(**options)
        self.calibration_timesteps = int(check_positive("calibration_timesteps", calibration_timesteps, self.name))
        self.calibration_samples = int(check_positive("calibration_samples", calibration_samples, self.name))
        self.dense_thresholds = validation.check_choice("dense_thresholds", dense_thresholds, DENSE_THRESHOLDS)

    def compute_scales(self, context):
        scales = []
        for position, name in enumerate(context.site_names):
            currents = context.probe.max_input_current(
                scales, position, self.calibration_timesteps, self.calibration_samples
            )
            currents = np.maximum(currents, 0.0)
            per_layer = context.ranks[position] <= 2 and self.dense_thresholds == "layer"
            scale = np.float64(currents.max()) if per_layer else currents
            logger.info("channelwise: '%s' thresholds in [%.4g, %.4g].", name, np.min(scale), np.max(scale))
            scales.append(scale)
        return scales

    def describe(self):
        return (
            f"channelwise (calibration_timesteps={self.calibration_timesteps}, "
            f"dense_thresholds={self.dense_thresholds!r})"
        )
