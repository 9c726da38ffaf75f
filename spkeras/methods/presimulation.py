"""Methods ``"cos"`` and ``"srp"``: another method's thresholds with neurons that pre-simulate ρ steps per input.

The thresholds, weights and defaults (reset, ``v_init``, spike value) are those of a *base* method (``"ecc"``
post-training; ``"qcfs"`` for a model prepared with :func:`spkeras.prepare_for_conversion` and fine-tuned); only
the neurons change, to :class:`~spkeras.layers.OffsetSpikeIntegrateAndFire` (COS, Hao et al., ICLR 2023) or
:class:`~spkeras.layers.ResidualPotentialIntegrateAndFire` (SRP, Hao et al., AAAI 2023); see
:mod:`spkeras.layers.presimulated` for the rules. The ρ pre-simulation steps are part of every simulated T.
"""

from __future__ import annotations

from spkeras import validation
from spkeras.layers import IntegrateAndFire, OffsetSpikeIntegrateAndFire, ResidualPotentialIntegrateAndFire
from spkeras.methods.base import ThresholdPolicy, get_method, register_method


class PreSimulation(ThresholdPolicy):
    """Base class of ``"cos"`` and ``"srp"``: delegates everything but the neuron class to a base method.

    Args:
        presim_steps: ρ, the pre-simulation steps of every neuron (≥ 1; counted in T).
        base: The method whose thresholds and weights are used (``"ecc"``, ``"qcfs"``, ...); not ``"cos"`` or
            ``"srp"``.
        **options: Options of the base method (e.g. ``percentile=`` for ``base="robust"``).

    Examples:
        >>> policy = PreSimulation(presim_steps=2, base="qcfs")
        >>> policy.v_init, policy.neuron_options()
        (0.5, {'presim_steps': 2})
    """

    neuron_class = OffsetSpikeIntegrateAndFire

    def __init__(self, presim_steps: int = 4, base: str = "ecc", **options):
        owner = f"Method '{self.name}'"
        self.presim_steps = validation.check_number("presim_steps", presim_steps, minimum=1, integer=True, owner=owner)
        base_class = get_method(base)
        if issubclass(base_class, PreSimulation):
            raise ValueError(f"{owner}: `base` must be a method without pre-simulation. Received: base={base!r}.")
        self.base = base_class(**options)
        if self.base.neuron_class is not IntegrateAndFire:
            raise ValueError(
                f"{owner} restarts plain integrate-and-fire neurons, and base {base!r} with these options builds "
                f"{self.base.neuron_class.__name__} neurons. Received: base={base!r}, options={options}. Use a base "
                "method with plain neurons (e.g. 'ecc', 'qcfs'), or the signed method without pre-simulation."
            )
        self.reset, self.v_init, self.spike_value = self.base.reset, self.base.v_init, self.base.spike_value

    def needs_data(self, bounds):
        return self.base.needs_data(bounds)

    def compute_scales(self, context):
        return self.base.compute_scales(context)

    def weight_transform(self):
        return self.base.weight_transform()

    def neuron_options(self):
        return {**self.base.neuron_options(), "presim_steps": self.presim_steps}

    def describe(self):
        return f"{self.name} (presim_steps={self.presim_steps}, base={self.base.describe()})"


@register_method("cos")
class OffsetSpikeCalibration(PreSimulation):
    """COS: the base method's network with offset-spike neurons (start potential shifted after ρ steps).

    Args:
        presim_steps: ρ (default 4), counted in every simulated T.
        base: The threshold method (default ``"ecc"``; ``"qcfs"`` for QCFS-tuned models).
        **options: Options of the base method.

    Examples:
        >>> import spkeras
        >>> snn = spkeras.convert(spkeras.demo.DEMO_MODEL_PATH, spkeras.demo.load_sample()["x_calibration"][:50],
        ...                       method="cos", presim_steps=2, timesteps=8)
        >>> sorted({type(layer).__name__ for layer in snn.layers if hasattr(layer, "step")})
        ['OffsetSpikeIntegrateAndFire']
    """

    neuron_class = OffsetSpikeIntegrateAndFire


@register_method("srp")
class ResidualPotentialSuppression(PreSimulation):
    """SRP: the base method's network with neurons silenced after ρ steps where the residual potential is ≤ 0.

    Args:
        presim_steps: τ (default 4), counted in every simulated T.
        base: The threshold method (default ``"ecc"``; ``"qcfs"`` for QCFS-tuned models).
        **options: Options of the base method.

    Examples:
        >>> ResidualPotentialSuppression(presim_steps=3).describe()
        'srp (presim_steps=3, base=ecc (amp_factor=100.0, v_init=0.5, signed_bit=0))'
    """

    neuron_class = ResidualPotentialIntegrateAndFire
