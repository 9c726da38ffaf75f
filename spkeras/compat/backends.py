"""The two engines behind :class:`spkeras.models.cnn_to_snn`: spkeras's ECC and SpKeras's closed form.

Both expose one interface (``convert``, ``model_for``, ``evaluate``, ``layer_counts``), so the facade has no
``if legacy`` forks:

- :class:`SimulatedBackend` (default): ``spkeras.convert(..., method="ecc")`` and the time-stepped simulator;
- :class:`LegacyBackend` (``legacy=True``): the original tool's closed-form numbers, bit for bit.
"""

from __future__ import annotations

import keras
import numpy as np

from spkeras import metrics, validation
from spkeras.compat import plan as legacy_plan
from spkeras.compat import run as legacy_run
from spkeras.layers import IntegrateAndFire
from spkeras.network import spiking_network

RECORD_BUDGET = 2**26  # values kept in memory at once when counting spikes of the time-stepped network


class SimulatedBackend:
    """spkeras's ECC conversion and time-stepped simulation, with SpKeras's settings.

    Args:
        settings: The :class:`~spkeras.models.cnn_to_snn` object (its κ, thresholding, bit width, T).
    """

    legacy = False

    def __init__(self, settings):
        self.settings = settings
        self.snn = None
        self.result = None
        self.lambdas = None
        self.norm_factors = None

    def convert(self, model: keras.Model, x_train) -> keras.Model:
        """Converts with ``spkeras.convert(model, x_train, method="ecc", ...)``; returns the spiking model."""
        from spkeras.conversion import convert

        options = {"signed_bit": self.settings.bit} if self.settings.bit else {}
        self.snn = convert(
            model,
            x_train,
            method="ecc",
            amp_factor=self.settings.amp_factor,
            v_init=self.settings.thresholding,
            timesteps=self.settings.timesteps,
            **options,
        )
        return self.snn

    def model_for(self, timesteps, thresholding, scaling_factor, spike_ext, noneloss) -> keras.Model:
        """The SNN with initial potential ``thresholding·θ`` and thresholds × ``scaling_factor``."""
        for name, value, default in (("spike_ext", spike_ext, 0), ("noneloss", bool(noneloss), False)):
            if value != default:
                raise ValueError(
                    f"`{name}` only exists in SpKeras's closed-form counts. Received: {name}={value!r}. "
                    f"Use cnn_to_snn(..., legacy=True) for it, or keep {name}={default!r}."
                )
        neurons = spiking_network(self.snn).neuron_layers
        if all(layer.v_init == thresholding for layer in neurons) and scaling_factor == 1.0:
            return self.snn

        def clone(layer):
            config = layer.get_config()
            if isinstance(layer, IntegrateAndFire):
                config["v_init"] = thresholding
            return type(layer).from_config(config)

        variant = keras.models.clone_model(self.snn, clone_function=clone)
        variant.set_weights(self.snn.get_weights())
        for layer in variant.layers:
            if isinstance(layer, IntegrateAndFire):
                layer.threshold.assign(layer.threshold * scaling_factor)
        return variant

    @staticmethod
    def check_fix(fix: float) -> float:
        """Refuses SpKeras's closed-form input option ``fix``, which a time-stepped simulation does not have."""
        if fix:
            raise ValueError(
                "`fix` (input x·fix instead of floor(x·T)) only exists in SpKeras's closed form. "
                f"Received: fix={fix!r}. Use cnn_to_snn(..., legacy=True) for it, or keep fix=0."
            )
        return fix

    def evaluate(self, model, x, labels, timesteps, batch_size, fix, compute_loss) -> list[float]:
        """``[loss, accuracy]`` at step T of the time-stepped simulation (result kept in ``self.result``)."""
        from spkeras.simulate import evaluate

        self.result = evaluate(model, x, labels, timesteps=timesteps, batch_size=batch_size)
        accuracy = self.result.accuracy_at(self.result.timesteps)
        loss = float("nan")
        if compute_loss:
            outputs = np.concatenate([values["output"] for values in _record_chunks(model, x, timesteps, batch_size)])
            loss = metrics.cross_entropy(outputs, labels)
        return [loss, accuracy]

    def layer_counts(self, model, x, timesteps, batch_size):
        """Yields, per chunk of images, the spike counts of every spiking layer."""
        steps = validation.check_timesteps(timesteps)
        names = [layer.name for layer in spiking_network(model).neuron_layers]
        for values in _record_chunks(model, x, steps, batch_size):
            yield [_spike_counts(model.get_layer(name), values[name], steps) for name in names]


class LegacyBackend:
    """SpKeras's closed-form conversion and counts, bit for bit (:mod:`spkeras.compat.plan`).

    Args:
        settings: The :class:`~spkeras.models.cnn_to_snn` object (its κ, ε, bit width, ``user_define``, T).
    """

    legacy = True

    def __init__(self, settings):
        self.settings = settings
        self.plan = None
        self.result = None
        self.lambdas = None
        self.norm_factors = None

    def convert(self, model: keras.Model, x_train) -> keras.Model:
        """Computes SpKeras's plan (λ, kernels, θ, β) and returns its closed-form model for the stored T."""
        x_train = validation.check_inputs(x_train, tuple(model.inputs[0].shape[1:]), "x_train")
        if not isinstance(x_train, np.ndarray):
            raise TypeError(
                "cnn_to_snn(legacy=True) needs `x_train` as a NumPy array. Received: a tf.data.Dataset. "
                "Pass np.concatenate([x for x, _ in dataset]) or use legacy=False."
            )
        settings = self.settings
        self.plan = legacy_plan.convert_legacy(
            model, x_train, settings.amp_factor, settings.epsilon, settings.bit, settings.user_define
        )
        self.lambdas = [float(v) for v in self.plan.lambdas]
        self.norm_factors = [float(v) for v in self.plan.norm_factors]
        return legacy_run.build_legacy_model(self.plan, settings.timesteps)

    def model_for(self, timesteps, thresholding, scaling_factor, spike_ext, noneloss) -> keras.Model:
        """The closed-form network for T (it takes ``floor(x·T)``)."""
        return legacy_run.build_legacy_model(
            self.plan, timesteps, thresholding, scaling_factor, spike_ext, bool(noneloss)
        )

    @staticmethod
    def check_fix(fix: float) -> float:
        """``fix > 0`` feeds ``x·fix`` instead of ``floor(x·T)``."""
        return fix

    def evaluate(self, model, x, labels, timesteps, batch_size, fix, compute_loss) -> list[float]:
        """``[loss, accuracy]`` of the output spike counts, as SpKeras's ``model.evaluate`` computed them."""
        counts = legacy_run.output_counts(model, x, timesteps, batch_size, fix)
        accuracy = float(np.mean(np.argmax(counts, axis=1) == labels))
        return [metrics.clipped_cross_entropy(counts, labels), accuracy]

    def layer_counts(self, model, x, timesteps, batch_size):
        """SpKeras's closed-form counts over the first ``⌊N/batch_size⌋·batch_size`` images, per batch."""
        used = (len(x) // batch_size) * batch_size
        return legacy_run.layer_counts(model, x[:used], timesteps, batch_size)


def _record_chunks(model: keras.Model, x: np.ndarray, timesteps: int, batch_size: int):
    """Simulates ``x`` in chunks sized so that the recorded per-neuron values stay within RECORD_BUDGET."""
    from spkeras.simulate import record

    neurons = sum(int(np.prod(layer.output.shape[1:])) for layer in spiking_network(model).neuron_layers)
    chunk = max(batch_size, (RECORD_BUDGET // max(neurons, 1)) // batch_size * batch_size)
    for start in range(0, len(x), chunk):
        yield record(model, x[start : start + chunk], timesteps=timesteps, batch_size=batch_size)


def _spike_counts(layer: IntegrateAndFire, mean_values: np.ndarray, timesteps: int) -> np.ndarray:
    """Spike counts from :func:`spkeras.simulate.record`'s mean emitted value per step."""
    totals = mean_values * timesteps
    if layer.spike_value == "threshold":
        totals = totals / layer.threshold.numpy()
    return np.rint(totals)
