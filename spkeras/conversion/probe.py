"""The probe: builds partial spiking networks from scales and measures them on the calibration data.

Methods that calibrate on the SNN itself (``channelwise``) and post-conversion calibration use it: with the
scales of the earlier sites fixed, a provisional SNN is built (spikes carry θ, no weight transform, so every
tensor keeps the ANN's units) and simulated on the calibration inputs.
"""

from __future__ import annotations

import logging

import keras
import numpy as np

from spkeras.batching import take_samples
from spkeras.calibration import max_input_current
from spkeras.conversion.build import build_snn
from spkeras.conversion.ir import Node
from spkeras.layers import NeuronSettings

logger = logging.getLogger(__name__)


def repair_scale(scale: np.ndarray, site: str, layer_maximum: float) -> np.ndarray:
    """Replaces non-positive scales (units that never fired on the calibration data) with a safe value.

    Examples:
        >>> repair_scale(np.array([2.0, 0.0]), "relu", layer_maximum=3.0).tolist()
        [2.0, 3.0]
    """
    usable = np.isfinite(scale) & (scale > 0)
    if np.all(usable):
        return scale
    fallback = layer_maximum if np.isfinite(layer_maximum) and layer_maximum > 0 else 1.0
    if scale.ndim == 0 or not np.any(usable):
        logger.warning(
            "Neuron site '%s' never activated on the calibration data (or its scale is not finite); its threshold "
            "is set from %g. Use more (or more varied) calibration data.",
            site,
            fallback,
        )
        return np.full(scale.shape, fallback)
    logger.info("Neuron site '%s': %d silent channels get the layer's scale.", site, int(np.sum(~usable)))
    return np.where(usable, scale, fallback)


class Probe:
    """Builds (partial) spiking networks of one folded model and measures them on its calibration data.

    Args:
        nodes: The folded IR nodes.
        sites: Node index of each neuron site, in network order.
        maxima: The folded ANN's maximum activation of each site (the provisional scale of later sites and
            the fallback of silent ones).
        settings: The neuron settings of the conversion.
        data: The calibration inputs (NumPy array or batched ``tf.data.Dataset``).
        batch_size: Batch size for NumPy data.
        name: Base name of the models built.

    Examples:
        >>> import keras, numpy as np
        >>> from spkeras.conversion.lower import lower_model
        >>> from spkeras.layers import IntegrateAndFire, NeuronSettings
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="relu"),
        ...                           keras.layers.Dense(2, activation="relu")])
        >>> nodes = lower_model(model)
        >>> probe = Probe(nodes, [2, 4], [1.0, 1.0], NeuronSettings(IntegrateAndFire), np.ones((4, 2), "float32"))
        >>> probe.max_input_current([1.0], site_position=1, timesteps=4).shape
        (2,)
    """

    def __init__(
        self,
        nodes: list[Node],
        sites: list[int],
        maxima: list[float],
        settings: NeuronSettings,
        data,
        batch_size: int = 100,
        name: str = "model",
    ):
        self.nodes = nodes
        self.sites = list(sites)
        self.maxima = [float(value) for value in maxima]
        self.settings = settings
        self.data = data
        self.batch_size = batch_size
        self.name = name

    def site_scales(self, scales) -> dict[int, np.ndarray]:
        """λ per site node index: ``scales`` for the first sites, the ANN maximum for the rest, repaired."""
        return {
            index: repair_scale(
                np.asarray(scales[k] if k < len(scales) else self.maxima[k], dtype="float64"),
                self.nodes[index].name,
                self.maxima[k],
            )
            for k, index in enumerate(self.sites)
        }

    def build(self, scales, settings: NeuronSettings | None = None, transform=None, name: str | None = None):
        """Builds the SNN with λ = ``scales`` (one per site; missing trailing sites use the ANN maximum).

        Returns:
            ``(model, layers)``: the model and the new layer of each IR node index.
        """
        settings = self.settings if settings is None else settings
        return build_snn(self.nodes, self.site_scales(scales), settings, transform, name or f"{self.name}_snn")

    def partial(self, scales, site_position: int) -> keras.Model:
        """The provisional SNN (spikes carry θ, ANN units) from the input to the input current of one site.

        Sites before ``site_position`` use ``scales``; the others the ANN maximum.
        """
        settings = self.settings.replace(spike_value="threshold")
        snn, layers = self.build(list(scales)[:site_position], settings, None, f"{self.name}_calibration")
        return keras.Model(snn.inputs, layers[self.sites[site_position]].input)

    def max_input_current(self, scales, site_position: int, timesteps: int, samples: int | None = None):
        """Maximum per-step input current (per channel, ANN units) of one site in the provisional SNN.

        Args:
            scales: λ of the sites before ``site_position`` (entries at and after it are ignored).
            site_position: Which site (0 = first).
            timesteps: Steps simulated.
            samples: At most this many calibration samples (None: all).
        """
        data = take_samples(self.data, samples)
        return max_input_current(self.partial(scales, site_position), data, timesteps, self.batch_size)
