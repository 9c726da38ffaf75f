"""SpKeras-compatible entry point: existing SpKeras scripts run unchanged on Keras 3.

The class is a facade over two engines (:mod:`spkeras.compat.backends`), chosen with ``legacy``:

- ``legacy=False`` (default): spkeras's own ECC conversion, ``spkeras.convert(model, x_train, method="ecc",
  amp_factor=κ, v_init=thresholding, timesteps=T)`` (each batch norm folded with its own ε, activations as
  layers or kwargs, every calibration image used, quantisation with the scale-consistent threshold κ/norm),
  and ``evaluate`` runs the real time-stepped simulation :func:`spkeras.evaluate`.
- ``legacy=True``: the original tool's closed-form numbers, bit for bit (:mod:`spkeras.compat`).

See ``docs/migrating.md`` for the mapping and the list of fixed SpKeras bugs.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from spkeras import io, metrics, validation
from spkeras.compat import POOLING_LAYERS, LegacyBackend, SimulatedBackend
from spkeras.network import spiking_network

logger = logging.getLogger(__name__)

__all__ = ["cnn_to_snn"]


def _number(name, value, **limits):
    return validation.check_number(name, value, **limits)


class cnn_to_snn:  # noqa: N801  (the original SpKeras class name)
    """Converts a Keras CNN into a spiking network with the SpKeras API.

    Args:
        timesteps: T stored for the converted model (``evaluate``/``SpikeCounter`` take their own T).
        thresholding: Initial membrane potential as a fraction of θ (0.5 rounds instead of flooring); the
            default-mode conversion uses it as ``v_init``.
        signed_bit: Weight bit width including the sign; 0 keeps float weights.
        scaling_factor: Stored only (``evaluate``/``SpikeCounter`` take their own), as in SpKeras.
        method: Stored only; SpKeras never read it.
        amp_factor: κ, the amplification factor (threshold of every neuron).
        epsilon: ``legacy=True`` only: the ε of every batch-norm fold (SpKeras ignored the layers' own ε). The
            default mode always uses each layer's own ε.
        spike_ext: Stored only, as in SpKeras.
        noneloss: Stored only, as in SpKeras.
        user_define: ``legacy=True`` only: if non-zero, every λ except λ0 and the output's is this value.
        legacy: ``False``: spkeras's ECC conversion and time-stepped simulation. ``True``: SpKeras's closed-form
            numbers, bit for bit (its batch-norm ε, quantisation threshold and calibration tail bugs included).

    Attributes:
        model: The converted ``keras.Model`` (after ``evaluate``/``SpikeCounter``: the one they used).
        use_bias: ``use_bias`` of the first Conv2D/Dense (None if there is none).
        result: Default mode: the :class:`spkeras.SimulationResult` of the last ``evaluate`` (accuracy at
            every step ≤ T, spikes per layer). None in legacy mode.
        lambdas, norm_factors: Legacy mode: SpKeras's λ list and ``r_j = λ_j/λ_{j−1}``.

    Examples:
        >>> import spkeras
        >>> from spkeras.models import cnn_to_snn
        >>> sample = spkeras.demo.load_sample()
        >>> cnn = spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH)
        >>> snn = cnn_to_snn()(cnn, sample["x_calibration"][:200])
        >>> loss, acc = snn.evaluate(sample["x_test"][:100], sample["y_test"][:100], timesteps=32)
        >>> acc > 0.9
        True
    """

    def __init__(
        self,
        timesteps=256,
        thresholding=0.5,
        signed_bit=0,
        scaling_factor=1,
        method=1,
        amp_factor=100,
        epsilon=0.001,
        spike_ext=0,
        noneloss=False,
        user_define=0,
        legacy=False,
    ):
        self.timesteps = validation.check_timesteps(timesteps)
        self.thresholding = _number("thresholding", thresholding, minimum=0)
        self.bit = _number("signed_bit", signed_bit, minimum=0, integer=True)
        self.scaling_factor = _number("scaling_factor", scaling_factor, minimum=0, strictly=True)
        self.method = method
        self.amp_factor = _number("amp_factor", amp_factor, minimum=0, strictly=True)
        self.epsilon = _number("epsilon", epsilon, minimum=0)
        self.spike_ext = _number("spike_ext", spike_ext, integer=True)
        if not isinstance(noneloss, (bool, np.bool_)):
            raise TypeError(f"`noneloss` must be True or False. Received: noneloss={noneloss!r}.")
        self.noneloss = bool(noneloss)
        self.user_define = _number("user_define", user_define, minimum=0)
        if not isinstance(legacy, (bool, np.bool_)):
            raise TypeError(f"`legacy` must be True or False. Received: legacy={legacy!r}.")
        self.legacy = bool(legacy)
        if self.user_define and not self.legacy:
            raise ValueError(
                f"`user_define` (fixed λ) is only supported with legacy=True. Received: user_define={user_define!r}. "
                "Pass legacy=True, or leave user_define=0 to measure λ on the calibration data."
            )
        self.model = None
        self.use_bias = None
        self._backend = LegacyBackend(self) if self.legacy else SimulatedBackend(self)

    @property
    def result(self):
        """Default mode: the :class:`spkeras.SimulationResult` of the last ``evaluate``; None in legacy mode."""
        return self._backend.result

    @property
    def lambdas(self):
        """Legacy mode: SpKeras's λ list (None before conversion and in the default mode)."""
        return self._backend.lambdas

    @property
    def norm_factors(self):
        """Legacy mode: ``r_j = λ_j/λ_{j−1}`` (None before conversion and in the default mode)."""
        return self._backend.norm_factors

    # --- conversion -------------------------------------------------------------------------------------

    def __call__(self, mdl, x_train):
        """Converts ``mdl`` (a Keras model or a .h5/.keras path) with calibration images ``x_train``; returns self."""
        mdl = io.load_model(mdl)
        network = spiking_network(mdl)
        self.use_bias = next((bool(n.layer.use_bias) for n in network.nodes if n.role == "synaptic"), None)
        logger.info("cnn_to_snn settings: %s", self.get_config())
        self.model = self._backend.convert(mdl, x_train)
        return self

    def _require_model(self):
        if self.model is None:
            raise ValueError(
                "This cnn_to_snn object has not converted a model yet. Received: a call before conversion. "
                "Convert first: snn_model = cnn_to_snn()(cnn_model, x_train)."
            )

    def chts_model(self, timesteps=256, thresholding=0.5, scaling_factor=1, spike_ext=0, noneloss=False, sf=None):
        """Returns the converted model set up for these evaluation settings (SpKeras's ``chts_model``).

        Legacy mode: the closed-form network for T (it takes ``floor(x·T)``). Default mode: the spiking network
        with initial potential ``thresholding·θ`` and thresholds multiplied by ``scaling_factor``; ``spike_ext``
        and ``noneloss`` exist only in the closed form and must keep their defaults. ``sf`` is ignored (unused
        by SpKeras too).
        """
        self._require_model()
        timesteps = validation.check_timesteps(timesteps)
        thresholding = _number("thresholding", thresholding, minimum=0)
        scaling_factor = _number("scaling_factor", scaling_factor, minimum=0, strictly=True)
        spike_ext = _number("spike_ext", spike_ext, integer=True)
        return self._backend.model_for(timesteps, thresholding, scaling_factor, spike_ext, noneloss)

    # --- evaluation -------------------------------------------------------------------------------------

    def evaluate(
        self,
        x_test,
        y_test,
        timesteps=256,
        thresholding=0.5,
        scaling_factor=1,
        spike_ext=0,
        noneloss=False,
        sf=None,
        fix=0,
        *,
        batch_size=100,
        compute_loss=True,
    ):
        """Returns ``[loss, accuracy]`` of the SNN on ``(x_test, y_test)`` after ``timesteps`` steps.

        Args:
            x_test: Float images scaled as for the ANN, shape ``(N,) + input_shape``.
            y_test: One-hot labels ``(N, classes)`` (as in SpKeras) or integer labels ``(N,)``.
            timesteps: T.
            thresholding: Initial potential as a fraction of θ.
            scaling_factor: Threshold multiplier.
            spike_ext: Closed-form option, ``legacy=True`` only.
            noneloss: Closed-form option, ``legacy=True`` only.
            fix: Closed-form option, ``legacy=True`` only (``fix > 0`` feeds ``x·fix`` instead of ``floor(x·T)``).
            sf: Ignored (unused by SpKeras too).
            batch_size: Images processed together.
            compute_loss: Default mode: computing the loss needs a second simulation pass; pass False to skip
                it (the loss is then NaN).

        Returns:
            ``[loss, accuracy]``. Default mode: accuracy = :func:`spkeras.evaluate`'s accuracy at step T (the
            full result is kept in ``self.result``); loss = categorical cross-entropy of
            ``softmax(accumulated output / T)``. Legacy mode: accuracy of the output spike counts (first
            index on ties) and the cross-entropy of ``softmax(counts)`` as Keras computes it (probabilities
            clipped to [1e-7, 1 − 1e-7]), like SpKeras's ``model.evaluate``.
        """
        self._require_model()
        batch_size = validation.check_batch_size(batch_size)
        fix = self._backend.check_fix(_number("fix", fix, minimum=0))
        model = self.chts_model(timesteps, thresholding, scaling_factor, spike_ext, noneloss)
        self.model = model
        x_test = self._check_array(x_test, model, "x_test")
        labels = validation.check_labels(
            y_test, len(x_test), int(model.outputs[0].shape[-1]), argument="y_test", inputs_argument="x_test"
        )
        return self._backend.evaluate(model, x_test, labels, timesteps, batch_size, fix, compute_loss)

    @staticmethod
    def _check_array(x, model, argument):
        x = validation.check_inputs(x, tuple(model.inputs[0].shape[1:]), argument)
        if not isinstance(x, np.ndarray):
            raise TypeError(
                f"cnn_to_snn needs `{argument}` as a NumPy array. Received: a tf.data.Dataset. Use spkeras.evaluate "
                "for datasets, or pass np.concatenate([x for x, _ in dataset])."
            )
        return x

    def SpikeCounter(  # noqa: N802  (the original SpKeras method name)
        self,
        x_train,
        timesteps=255,
        thresholding=0.5,
        scaling_factor=1,
        spike_ext=0,
        batch_size=100,
        noneloss=False,
        mode=0,
    ):
        """Counts the spikes of every spiking layer on ``x_train`` (input spikes are not counted).

        Returns:
            ``(max_per_layer, counts)``: the largest spike count of any neuron of each layer, and per layer
            (``mode=0``) the mean number of spikes per image, rounded up (``ceil``), or (``mode=1``) a histogram
            ``[#neurons with 0 spikes, #with 1, …]`` over all images. Default mode: counts of the time-stepped
            simulation over every image. Legacy mode: SpKeras's closed-form counts over the first
            ``⌊N/batch_size⌋·batch_size`` images, with the mode-0 total divided by N (SpKeras's behaviour).
        """
        self._require_model()
        batch_size = validation.check_batch_size(batch_size)
        if mode not in (0, 1):
            raise ValueError(f"`mode` must be 0 (spikes per image) or 1 (histogram). Received: mode={mode!r}.")
        model = self.chts_model(timesteps, thresholding, scaling_factor, spike_ext, noneloss)
        self.model = model
        x_train = self._check_array(x_train, model, "x_train")
        maxima, totals, histograms = None, None, None
        for counts in self._backend.layer_counts(model, x_train, timesteps, batch_size):
            if maxima is None:
                maxima, totals, histograms = [-np.inf] * len(counts), [0.0] * len(counts), [None] * len(counts)
            for k, values in enumerate(counts):
                maxima[k] = max(maxima[k], float(np.max(values)))
                totals[k] += float(np.sum(values, dtype="float64"))
                if mode:
                    histograms[k] = metrics.count_histogram(values, histograms[k])
        if maxima is None:
            return [], []
        if mode:
            counts = [[int(v) for v in h] for h in histograms]
        else:
            counts = [float(math.ceil(total / len(x_train))) for total in totals]
        logger.info("Max spikes per layer: %s; spikes per layer: %s.", maxima, counts)
        return maxima, counts

    def NeuronNumbers(self, mode=0):  # noqa: N802  (the original SpKeras method name)
        """Returns ``(kernel_shapes, neurons_per_spiking_layer)`` of the converted model.

        ``mode=1`` skips spiking layers fed by a pooling layer (legacy mode has one after every average pooling;
        the default mode has none).
        """
        self._require_model()
        if mode not in (0, 1):
            raise ValueError(f"`mode` must be 0 (every layer) or 1 (skip pooling layers). Received: mode={mode!r}.")
        network = spiking_network(self.model)
        shapes, neurons = [], []
        for node in network.nodes:
            if node.role == "synaptic":
                shapes.append(tuple(int(d) for d in node.layer.kernel.shape))
            elif node.role == "neuron":
                if mode == 1 and any(isinstance(network.nodes[i].layer, POOLING_LAYERS) for i in node.inputs):
                    continue
                neurons.append(int(np.prod(node.layer.output.shape[1:])))
        return shapes, neurons

    def get_config(self) -> dict:
        """The conversion settings as a JSON-serialisable dict."""
        return {
            "timesteps": self.timesteps,
            "thresholding": self.thresholding,
            "amp_factor": self.amp_factor,
            "signed_bit": self.bit,
            "spike_ext": self.spike_ext,
            "epsilon": self.epsilon,
            "use_bias": self.use_bias,
            "scaling_factor": self.scaling_factor,
            "noneloss": self.noneloss,
            "method": self.method,
            "user_define": self.user_define,
            "legacy": self.legacy,
        }
