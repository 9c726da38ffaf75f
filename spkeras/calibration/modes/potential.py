"""Mode ``"potential"``: a per-neuron initial-potential offset ``T·θ·(E[r_ANN] − E[r_SNN])`` (advanced pipeline).

Li et al., ICML 2021 (potential correction); see :mod:`.rates` for the layer-by-layer procedure.
"""

from __future__ import annotations

from spkeras.calibration.modes.rates import RateMode
from spkeras.calibration.modes.registry import register_mode


class PotentialMode(RateMode):
    """Adds ``T · θ ·`` (the neuron's mean rate error over the calibration images) to its initial potential.

    Examples:
        >>> import numpy as np
        >>> from spkeras.layers import IntegrateAndFire
        >>> neuron = IntegrateAndFire(threshold=1.0, calibration_weights=dict(PotentialMode.neuron_weights))
        >>> neuron.build((None, 2))
        >>> PotentialMode().correct(neuron, np.array([0.25, -0.125]), np.float64(1.0), 8)
        >>> neuron.potential_offset.numpy().tolist()
        [2.0, -1.0]
    """

    name = "potential"
    order = 2
    neuron_weights = {"potential_offset": "neuron_potential"}
    description = "per-neuron initial-potential offset from the rate error (Li et al. 2021)"

    def correct(self, layer, error, threshold, timesteps) -> None:
        offset = float(timesteps) * threshold * error
        layer.potential_offset.assign(layer.potential_offset.numpy() + offset.astype("float32"))


register_mode(PotentialMode())
