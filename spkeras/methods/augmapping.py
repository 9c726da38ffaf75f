"""AugMapping (Ma / Yu et al., TNNLS 2021): augmented spikes combined with the double threshold.

One spike event per step carries a coefficient k = floor(V/θ), removing the one-spike-per-step ceiling at low
T; negative coefficients undo over-firing while the net count is positive (see
:class:`~spkeras.layers.AugmentedIntegrateAndFire`). Results report spikes both as events and as the sum of
coefficients. Details of the paper are unconfirmed (see METHODS.md).
"""

from spkeras.methods.base import register_method
from spkeras.methods.termapping import TernaryMapping


@register_method("augmapping")
class AugmentedMapping(TernaryMapping):
    """Threshold balancing + augmented (multi-spike) events with a double threshold.

    Args:
        percentile: λ = this percentile of the positive activations (100 = the maximum).

    Examples:
        >>> # snn = spkeras.convert(cnn, x_calibration, method="augmapping")
    """

    neuron = "augmented"
