"""SpKeras-compatible entry point: existing SpKeras scripts run unchanged on Keras 3.

    >>> from spkeras.models import cnn_to_snn
    >>> # snn_model = cnn_to_snn(signed_bit=0)(cnn_model, x_train)
    >>> # _, acc = snn_model.evaluate(x_test, y_test, timesteps=256)
    >>> # s_max, s = snn_model.SpikeCounter(x_train, timesteps=256)
    >>> # n = snn_model.NeuronNumbers(mode=0)

Two behaviours, chosen with ``legacy``:

- ``legacy=False`` (default): spkeras's own ECC conversion, ``spkeras.convert(model, x_train, method="ecc",
  amp_factor=κ, v_init=thresholding, timesteps=T)`` (each batch norm folded with its own ε, activations as
  layers or kwargs, every calibration image used, quantisation with the scale-consistent threshold κ/norm),
  and ``evaluate`` runs the real time-stepped simulation :func:`spkeras.evaluate`.
- ``legacy=True``: the original tool's closed-form numbers, bit for bit (:mod:`spkeras.compat_legacy`).

See ``docs/migrating.md`` for the mapping and the list of fixed SpKeras bugs.
"""

from __future__ import annotations

import logging
import math
import numbers

import keras
import numpy as np

from spkeras import compat_legacy, graph, io, validation
from spkeras.convert import convert as _convert
from spkeras.layers import IntegrateAndFire
from spkeras.simulate import evaluate as _simulate
from spkeras.simulate import record

logger = logging.getLogger(__name__)

__all__ = ["cnn_to_snn"]

RECORD_BUDGET = 2**26  # values kept in memory at once when counting spikes of the time-stepped network


def _number(name, value, *, minimum=None, strictly=False, integer=False):
    kind = numbers.Integral if integer else numbers.Real
    valid = isinstance(value, kind) and not isinstance(value, bool) and math.isfinite(value)
    if valid and minimum is not None:
        valid = value > minimum if strictly else value >= minimum
    if not valid:
        what = "an integer" if integer else "a finite number"
        bound = "" if minimum is None else f" {'>' if strictly else '>='} {minimum}"
        raise ValueError(f"`{name}` must be {what}{bound}. Received: {name}={value!r}.")
    return int(value) if integer else float(value)


def _ceil(value: float) -> float:
    return float(math.ceil(value))


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
        self.result = None
        self.lambdas = None
        self.norm_factors = None
        self._plan = None
        self._snn = None

    # --- conversion -------------------------------------------------------------------------------------

    def __call__(self, mdl, x_train):
        """Converts ``mdl`` (a Keras model or a .h5/.keras path) with calibration images ``x_train``; returns self."""
        mdl = io.load_model(mdl)
        self.use_bias = next(
            (
                bool(node.layer.use_bias)
                for node in graph.model_graph(mdl)
                if isinstance(node.layer, (keras.layers.Conv2D, keras.layers.Dense))
            ),
            None,
        )
        logger.info("cnn_to_snn settings: %s", self.get_config())
        if self.legacy:
            x_train = validation.check_inputs(x_train, tuple(mdl.inputs[0].shape[1:]), "x_train")
            if not isinstance(x_train, np.ndarray):
                raise TypeError(
                    "cnn_to_snn(legacy=True) needs `x_train` as a NumPy array. Received: a tf.data.Dataset. "
                    "Pass np.concatenate([x for x, _ in dataset]) or use legacy=False."
                )
            self._plan = compat_legacy.convert_legacy(
                mdl, x_train, self.amp_factor, self.epsilon, self.bit, self.user_define
            )
            self.lambdas = [float(v) for v in self._plan.lambdas]
            self.norm_factors = [float(v) for v in self._plan.norm_factors]
            self.model = compat_legacy.build_legacy_model(self._plan, self.timesteps)
        else:
            options = {"signed_bit": self.bit} if self.bit else {}
            self._snn = _convert(
                mdl,
                x_train,
                method="ecc",
                amp_factor=self.amp_factor,
                v_init=self.thresholding,
                timesteps=self.timesteps,
                **options,
            )
            self.model = self._snn
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
        if self.legacy:
            return compat_legacy.build_legacy_model(
                self._plan, timesteps, thresholding, scaling_factor, spike_ext, bool(noneloss)
            )
        for name, value, default in (("spike_ext", spike_ext, 0), ("noneloss", bool(noneloss), False)):
            if value != default:
                raise ValueError(
                    f"`{name}` only exists in SpKeras's closed-form counts. Received: {name}={value!r}. "
                    f"Use cnn_to_snn(..., legacy=True) for it, or keep {name}={default!r}."
                )
        return self._variant(thresholding, scaling_factor)

    def _variant(self, v_init: float, scaling_factor: float) -> keras.Model:
        """The converted SNN with another initial potential and/or thresholds × scaling_factor."""
        neurons = [layer for layer in self._snn.layers if isinstance(layer, IntegrateAndFire)]
        if all(layer.v_init == v_init for layer in neurons) and scaling_factor == 1.0:
            return self._snn

        def clone(layer):
            config = layer.get_config()
            if isinstance(layer, IntegrateAndFire):
                config["v_init"] = v_init
            return type(layer).from_config(config)

        variant = keras.models.clone_model(self._snn, clone_function=clone)
        variant.set_weights(self._snn.get_weights())
        for layer in variant.layers:
            if isinstance(layer, IntegrateAndFire):
                layer.threshold.assign(layer.threshold * scaling_factor)
        return variant

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
        fix = _number("fix", fix, minimum=0)
        if fix and not self.legacy:
            raise ValueError(
                "`fix` (input x·fix instead of floor(x·T)) only exists in SpKeras's closed form. "
                f"Received: fix={fix!r}. Use cnn_to_snn(..., legacy=True) for it, or keep fix=0."
            )
        model = self.chts_model(timesteps, thresholding, scaling_factor, spike_ext, noneloss)
        self.model = model
        input_shape = tuple(model.inputs[0].shape[1:])
        x_test = validation.check_inputs(x_test, input_shape, "x_test")
        if not isinstance(x_test, np.ndarray):
            raise TypeError(
                "cnn_to_snn.evaluate needs `x_test` as a NumPy array (with `y_test` alongside). Received: a "
                "tf.data.Dataset. Use spkeras.evaluate for datasets, or pass np.concatenate([x for x, _ in dataset])."
            )
        classes = int(model.outputs[0].shape[-1])
        labels = validation.check_labels(y_test, len(x_test), classes)
        if self.legacy:
            counts = compat_legacy.output_counts(model, x_test, timesteps, batch_size, fix)
            accuracy = float(np.mean(np.argmax(counts, axis=1) == labels))
            return [_clipped_cross_entropy(counts, labels), accuracy]
        self.result = _simulate(model, x_test, labels, timesteps=timesteps, batch_size=batch_size)
        accuracy = self.result.accuracy_at(self.result.timesteps)
        loss = float("nan")
        if compute_loss:
            outputs = np.concatenate(
                [values["output"] for values in _record_chunks(model, x_test, timesteps, batch_size)]
            )
            loss = _cross_entropy(outputs, labels)
        return [loss, accuracy]

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
        x_train = validation.check_inputs(x_train, tuple(model.inputs[0].shape[1:]), "x_train")
        if not isinstance(x_train, np.ndarray):
            raise TypeError("SpikeCounter needs `x_train` as a NumPy array. Received: a dataset.")
        if self.legacy:
            used = (len(x_train) // batch_size) * batch_size
            batches = compat_legacy.layer_counts(model, x_train[:used], timesteps, batch_size)
        else:
            names = [layer.name for layer in model.layers if isinstance(layer, IntegrateAndFire)]
            steps = validation.check_timesteps(timesteps)
            batches = (
                [_spike_counts(model.get_layer(name), values[name], steps) for name in names]
                for values in _record_chunks(model, x_train, steps, batch_size)
            )
        maxima, totals, histograms = None, None, None
        for counts in batches:
            if maxima is None:
                maxima = [-np.inf] * len(counts)
                totals = [0.0] * len(counts)
                histograms = [np.zeros(0, dtype="int64")] * len(counts)
            for k, values in enumerate(counts):
                maxima[k] = max(maxima[k], float(np.max(values)))
                totals[k] += float(np.sum(values, dtype="float64"))
                if mode:
                    histogram = np.bincount(np.floor(values).astype("int64").ravel())
                    size = max(len(histogram), len(histograms[k]))
                    histograms[k] = np.pad(histograms[k], (0, size - len(histograms[k]))) + np.pad(
                        histogram, (0, size - len(histogram))
                    )
        if maxima is None:
            return [], []
        counts = [[int(v) for v in h] for h in histograms] if mode else [_ceil(t / len(x_train)) for t in totals]
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
        nodes = graph.model_graph(self.model)
        shapes, neurons = [], []
        for node in nodes:
            layer = node.layer
            if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
                shapes.append(tuple(int(d) for d in layer.kernel.shape))
            elif isinstance(layer, (IntegrateAndFire, compat_legacy.SpikeActivation)):
                if mode == 1 and any(isinstance(nodes[i].layer, compat_legacy.POOLING_LAYERS) for i in node.inputs):
                    continue
                neurons.append(int(np.prod(layer.output.shape[1:])))
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


def _record_chunks(model: keras.Model, x: np.ndarray, timesteps: int, batch_size: int):
    """Simulates ``x`` in chunks sized so that the recorded per-neuron values stay within RECORD_BUDGET."""
    neurons = sum(int(np.prod(layer.output.shape[1:])) for layer in model.layers if isinstance(layer, IntegrateAndFire))
    chunk = max(batch_size, (RECORD_BUDGET // max(neurons, 1)) // batch_size * batch_size)
    for start in range(0, len(x), chunk):
        yield record(model, x[start : start + chunk], timesteps=timesteps, batch_size=batch_size)


def _spike_counts(layer: IntegrateAndFire, mean_values: np.ndarray, timesteps: int) -> np.ndarray:
    """Spike counts from :func:`spkeras.simulate.record`'s mean emitted value per step."""
    totals = mean_values * timesteps
    if layer.spike_value == "threshold":
        totals = totals / keras.ops.convert_to_numpy(layer.threshold)
    return np.rint(totals)


def _cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean categorical cross-entropy of softmax(logits) against integer labels (float64, stable)."""
    logits = np.asarray(logits, dtype="float64")
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-np.mean(log_probs[np.arange(len(labels)), labels]))


def _clipped_cross_entropy(counts: np.ndarray, labels: np.ndarray, epsilon: float = 1e-7) -> float:
    """Keras's categorical cross-entropy on the probabilities softmax(counts) (clipped to [ε, 1 − ε])."""
    counts = np.asarray(counts, dtype="float64")
    probabilities = np.exp(counts - counts.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    picked = np.clip(probabilities[np.arange(len(labels)), labels], epsilon, 1.0 - epsilon)
    return float(-np.mean(np.log(picked)))
