"""A third-party conversion method with its own neuron variant and option, in one file outside spkeras.

Importing this file registers the ``plugin_leaky_max`` method: the thresholds of ``max`` (λ = the largest
activation of each site) with leaky integrate-and-fire neurons, whose potential decays by the method option
``leak`` at every step::

    snn = spkeras.convert(cnn, x_calibration, method="plugin_leaky_max", leak=0.9)

The neuron class is registered with Keras, so converted models save and load (in a process that imported this
file). Keras's serialization registry has no unregister, hence a package name nothing else uses.
"""

import numbers

import keras
from keras import ops

from spkeras.layers import IntegrateAndFire
from spkeras.methods import ThresholdPolicy, register_method

METHOD = "plugin_leaky_max"


@keras.saving.register_keras_serializable(package="spkeras_test_plugins")
class LeakyIntegrateAndFire(IntegrateAndFire):
    """IF neurons whose potential decays by ``leak`` before each step's input: ``V ← leak·V + I``.

    Args:
        leak: Fraction of the potential kept from one step to the next, in (0, 1]; 1 is the plain IF neuron.
        **kwargs: The arguments of ``IntegrateAndFire`` (``threshold``, ``reset``, ``v_init``, ...).
    """

    def __init__(self, leak=0.9, **kwargs):
        super().__init__(**kwargs)
        if isinstance(leak, bool) or not isinstance(leak, numbers.Real) or not 0.0 < float(leak) <= 1.0:
            raise ValueError(f"LeakyIntegrateAndFire '{self.name}': `leak` must be in (0, 1]. Received: leak={leak!r}.")
        self.leak = float(leak)

    def charge(self, potential, current):
        return self.leak * potential + current

    def closed_form_count(self, current, timesteps):
        """Spike count for a constant ``current``: this neuron's own charge/fire/reset, iterated ``timesteps`` times.

        The leak has no simple formula under soft reset; the loop is elementwise (no synaptic operations), and
        ``timesteps`` may be an int or a scalar tensor (``estimate_closed_form`` passes a float tensor).
        """

        def one_step(_, state):
            potential, count = state
            potential = self.charge(potential, current)
            spikes = self.fire(potential)
            return self.reset_potential(potential, spikes), count + spikes

        start = ops.zeros_like(current) + self.start_potential()
        steps = ops.cast(timesteps, "int32")
        _, count = ops.fori_loop(0, steps, one_step, (start, ops.zeros_like(current)))
        return count

    def get_config(self):
        return {**super().get_config(), "leak": self.leak}


@register_method(METHOD)
class LeakyMax(ThresholdPolicy):
    """λ = the maximum activation of each site (as ``max``), with soft-reset leaky IF neurons.

    Args:
        leak: The neurons' leak factor, in (0, 1] (checked by the neuron before any conversion work).
        **options: Passed on to ``ThresholdPolicy`` (which refuses unknown options).
    """

    neuron_class = LeakyIntegrateAndFire

    def __init__(self, leak=0.9, **options):
        super().__init__(**options)
        self.leak = leak

    def site_scale(self, statistics):
        return statistics.maximum

    def neuron_options(self):
        return {"leak": self.leak}

    def describe(self):
        return f"{self.name} (leak={self.leak}, reset={self.reset}, v_init={self.v_init})"
