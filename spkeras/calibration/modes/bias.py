"""Mode ``"bias"``: a per-channel bias current shifted by ``θ·(E[r_ANN] − E[r_SNN])`` (light pipeline).

Li et al., ICML 2021 (bias correction); see :mod:`.rates` for the layer-by-layer procedure.
"""

from __future__ import annotations

from spkeras.calibration.modes.rates import RateMode
from spkeras.calibration.modes.registry import register_mode


class BiasMode(RateMode):
    """Adds ``θ ·`` (the channel's mean rate error) to each channel's bias current.

    Examples:
        >>> import numpy as np
        >>> from spkeras.layers import IntegrateAndFire
        >>> neuron = IntegrateAndFire(threshold=2.0, calibration_weights=dict(BiasMode.neuron_weights))
        >>> neuron.build((None, 2, 2))
        >>> BiasMode().correct(neuron, np.array([[0.25, 0.0], [0.75, 0.0]]), np.float64(2.0), 8)
        >>> neuron.bias_current.numpy().tolist()  # θ · mean error per channel
        [1.0, 0.0]
    """

    name = "bias"
    order = 1
    neuron_weights = {"bias_current": "channel_current"}
    description = "per-channel bias current from the mean rate error (Li et al. 2021)"

    def correct(self, layer, error, threshold, timesteps) -> None:
        channel_error = error.reshape(-1, error.shape[-1]).mean(axis=0)
        layer.bias_current.assign(layer.bias_current.numpy() + (threshold * channel_error).astype("float32"))


register_mode(BiasMode())
