"""AugMapping (Ma / Yu et al., TNNLS 2021): augmented spikes combined with the double threshold.

One spike event per step carries a coefficient k = floor(V/θ), removing the one-spike-per-step ceiling at low
T; negative coefficients undo over-firing while the net count is positive (see
:class:`~spkeras.layers.AugmentedIntegrateAndFire`). Results report spikes both as events and as the sum of
coefficients. Details of the paper are unconfirmed; this is our rule (docs/methods/augmapping.md).
"""

from spkeras.layers import AugmentedIntegrateAndFire
from spkeras.methods.base import register_method
from spkeras.methods.termapping import TernaryMapping


@register_method("augmapping")
class AugmentedMapping(TernaryMapping):
    """Threshold balancing + augmented (multi-spike) events with a double threshold.

    Args:
        percentile: λ = this percentile of the positive activations (100 = the maximum).

    Examples:
        >>> import spkeras
        >>> sample = spkeras.demo.load_sample()
        >>> snn = spkeras.convert(spkeras.demo.DEMO_MODEL_PATH, sample["x_calibration"][:50], method="augmapping")
        >>> result = spkeras.evaluate(snn, sample["x_test"][:20], sample["y_test"][:20], timesteps=8)
        >>> bool(result.events_per_step.sum() <= result.spikes_per_step.sum())  # an event may carry several spikes
        True
    """

    neuron_class = AugmentedIntegrateAndFire
