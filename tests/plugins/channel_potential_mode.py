"""A post-conversion calibration mode in one file outside spkeras: a per-channel initial-potential offset.

``"channel_potential"`` corrects each channel's initial potential by ``T·θ·`` (the channel's mean rate error),
the same offset for every position of the channel: the per-channel cousin of the built-in ``"potential"`` mode,
with as few parameters as ``"bias"``. It stores the offset in a ``"neuron_potential"`` weight of its own
(``channel_offset``), so ``.keras`` files keep it. Importing this file registers the mode and a pipeline that runs
it after the threshold search.
"""

import numpy as np

from spkeras.calibration.modes import RateMode, register_mode, register_pipeline

MODE = "channel_potential"
PIPELINE = "threshold_channel_potential"


class ChannelPotential(RateMode):
    name = MODE
    order = 20  # after the built-in modes
    neuron_weights = {"channel_offset": "neuron_potential"}
    description = "per-channel initial-potential offset from the mean rate error"

    def correct(self, layer, error, threshold, timesteps):
        channel_error = error.reshape(-1, error.shape[-1]).mean(axis=0)
        offset = np.broadcast_to(float(timesteps) * threshold * channel_error, error.shape)
        layer.channel_offset.assign(layer.channel_offset.numpy() + offset.astype("float32"))


register_mode(ChannelPotential())
register_pipeline(PIPELINE, ("threshold", MODE))
