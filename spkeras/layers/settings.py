"""The settings every neuron layer of one converted network shares: a typed, frozen record."""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping

from spkeras.layers.neurons import IntegrateAndFire


@dataclasses.dataclass(frozen=True)
class NeuronSettings:
    """How the converter builds the neuron layers of one network.

    A conversion method produces it (:meth:`spkeras.methods.ThresholdPolicy.neuron_settings`); the builder only
    adds each layer's threshold and name, so a neuron variant's own arguments reach it through ``options``.

    Attributes:
        neuron_class: The neuron layer class (:class:`IntegrateAndFire` or a subclass).
        reset: ``"soft"`` or ``"hard"``.
        v_init: Initial potential as a fraction of θ.
        spike_value: ``"unit"`` (weights rescaled) or ``"threshold"`` (spikes carry θ).
        timesteps: T of the closed-form forward pass (``snn.predict``).
        options: The variant's own constructor arguments (read-only mapping).

    Examples:
        >>> settings = NeuronSettings(IntegrateAndFire, reset="soft", v_init=0.5, spike_value="unit", timesteps=8)
        >>> layer = settings.make(threshold=2.0, name="neurons")
        >>> type(layer).__name__, layer.v_init, layer.timesteps
        ('IntegrateAndFire', 0.5, 8)
    """

    neuron_class: type[IntegrateAndFire]
    reset: str = "soft"
    v_init: float = 0.0
    spike_value: str = "unit"
    timesteps: int = 64
    options: Mapping = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if not (isinstance(self.neuron_class, type) and issubclass(self.neuron_class, IntegrateAndFire)):
            raise TypeError(
                "`neuron_class` must be spkeras.layers.IntegrateAndFire or a subclass. "
                f"Received: {self.neuron_class!r}."
            )
        object.__setattr__(self, "options", types.MappingProxyType(dict(self.options)))

    def __hash__(self):
        options = tuple(sorted((key, repr(value)) for key, value in self.options.items()))
        return hash((self.neuron_class, self.reset, self.v_init, self.spike_value, self.timesteps, options))

    def make(self, threshold, name: str | None = None) -> IntegrateAndFire:
        """A new neuron layer with these settings and the given threshold (scalar or per channel)."""
        return self.neuron_class(
            threshold=threshold,
            reset=self.reset,
            v_init=self.v_init,
            spike_value=self.spike_value,
            timesteps=self.timesteps,
            name=name,
            **self.options,
        )

    def validate(self) -> NeuronSettings:
        """Builds one throw-away layer so that bad settings fail with the layer's own message before any work.

        Returns:
            ``self``.
        """
        self.make(threshold=1.0)
        return self

    def replace(self, **changes) -> NeuronSettings:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)
