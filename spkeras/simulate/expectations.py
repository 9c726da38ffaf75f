"""What a converted model expects of a simulation: the T it was converted for, and inputs scaled as calibrated.

- :func:`converted_timesteps`: every spiking layer stores the T it was converted (and calibrated) for
  (``IntegrateAndFire.timesteps``); :func:`~spkeras.evaluate`, :func:`~spkeras.simulate.record` and
  :func:`~spkeras.simulate.spike_trains` simulate that many steps unless ``timesteps=`` is given.
- :func:`check_input_range`: float inputs far outside the range of the calibration data (images left in 0-255
  for a model calibrated on [0, 1]) are simulated without an error but give poor accuracy, so they are warned.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np

from spkeras.network import spiking_network

#: The T of spiking layers that were not told otherwise (e.g. imported from another tool's NIR graph).
DEFAULT_TIMESTEPS = 64
#: How far outside the calibration range (in multiples of its width) inputs may reach before a warning.
RANGE_MARGIN = 4.0
#: The range assumed for models that do not store their calibration data's range.
FALLBACK_RANGE = (0.0, 1.0)


def converted_timesteps(snn) -> int:
    """The number of steps T the spiking layers of ``snn`` were converted (and calibrated) for.

    Models whose layers do not say (e.g. imported from another tool's NIR graph) get the layers' default,
    ``DEFAULT_TIMESTEPS`` (64); models that are not spiking get it too (the simulator then refuses them).

    Raises:
        ValueError: If the spiking layers were converted for different T.

    Examples:
        >>> import spkeras
        >>> cnn = spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH)
        >>> snn = spkeras.convert(cnn, spkeras.demo.load_sample()["x_calibration"][:50], timesteps=16)
        >>> converted_timesteps(snn)
        16
    """
    if not isinstance(snn, keras.Model):
        return DEFAULT_TIMESTEPS  # the simulator refuses it with its own message
    layers = spiking_network(snn).neuron_layers
    steps = {int(getattr(layer, "timesteps", DEFAULT_TIMESTEPS)) for layer in layers}
    if len(steps) > 1:
        found = ", ".join(f"{layer.name}: {getattr(layer, 'timesteps', DEFAULT_TIMESTEPS)}" for layer in layers)
        raise ValueError(
            f"The spiking layers of '{snn.name}' were converted for different numbers of steps. Received: {found}. "
            "Pass timesteps= explicitly."
        )
    return steps.pop() if steps else DEFAULT_TIMESTEPS


def resolve_timesteps(snn, timesteps: int | None) -> int:
    """``timesteps`` if given, else :func:`converted_timesteps` of ``snn``.

    Examples:
        >>> resolve_timesteps(None, 8)
        8
    """
    return converted_timesteps(snn) if timesteps is None else timesteps


def calibration_range(snn) -> tuple[float, float] | None:
    """The (min, max) of the calibration inputs stored with ``snn``, or None when the model does not store it.

    Read from the model's ``calibration_range`` attribute, else from the first spiking layer that has one.

    Examples:
        >>> import keras
        >>> calibration_range(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])) is None
        True
    """
    stored = getattr(snn, "calibration_range", None)
    if stored is None and isinstance(snn, keras.Model):
        stored = next(
            (layer.calibration_range for layer in snn.layers if getattr(layer, "calibration_range", None) is not None),
            None,
        )
    if stored is None:
        return None
    low, high = (float(value) for value in stored)
    return (low, high) if np.isfinite(low) and np.isfinite(high) and high >= low else None


def input_summary(x) -> tuple[float, float, bool]:
    """``(min, max, whole)`` of float inputs: their range, and whether a few samples hold whole numbers only.

    Examples:
        >>> input_summary(np.array([[0.0, 255.0], [3.0, 4.0]]))
        (0.0, 255.0, True)
    """
    x = np.asarray(x)
    sample = x.reshape(len(x), -1)[:16]  # a few images decide; mean-subtracted or scaled inputs are not whole
    return float(np.min(x)), float(np.max(x)), bool(np.all(sample == np.round(sample)))


def check_input_range(
    snn, x, argument: str = "x", summary: tuple[float, float, bool] | None = None, encoding: str = "analog"
) -> None:
    """Warns when float inputs lie far outside the range the model was calibrated on.

    With a stored calibration range ``[a, b]`` (see :func:`calibration_range`), inputs reaching beyond
    ``RANGE_MARGIN`` widths ``b - a`` outside it are warned. Without one, only whole-number inputs in 0-255
    reaching above 1.5 (8-bit images cast to float without ``/ 255``) are warned, so that models trained on other
    scales (e.g. mean-subtracted 0-255 inputs) are not; event counts (``encoding="events"``) are whole numbers
    by nature and are then not checked.

    Args:
        snn: The converted model.
        x: The inputs (ignored when ``summary`` is given).
        argument: The caller's name of the inputs, for the message.
        summary: ``(min, max, whole)`` of the inputs, when measured elsewhere (e.g. shard by shard).
        encoding: The simulation's input encoding.

    Examples:
        >>> import keras, warnings, numpy as np
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     check_input_range(model, np.array([[0.0, 255.0]], "float32"))
        >>> "x / 255" in str(caught[0].message)
        True
    """
    if encoding == "events":  # per-bin event counts: their scale is not that of the calibration frames
        return
    stored = calibration_range(snn)
    if summary is None:
        x = np.asarray(x)
        if x.size == 0 or not np.issubdtype(x.dtype, np.floating):
            return
        summary = input_summary(x)
    low, high, whole = summary
    if stored is None:
        far = whole and low >= 0.0 and 1.5 < high <= 255.0
        expected = f"the usual [{FALLBACK_RANGE[0]:g}, {FALLBACK_RANGE[1]:g}] (the model stores no calibration range)"
    else:
        margin = RANGE_MARGIN * max(stored[1] - stored[0], 1e-12)
        far = low < stored[0] - margin or high > stored[1] + margin
        expected = f"the calibration data's [{stored[0]:g}, {stored[1]:g}]"
    if far:
        warnings.warn(
            f"`{argument}` lies far outside {expected}. Received: {argument} with values in [{low:g}, {high:g}]. "
            f"Scale it as the calibration data (for 8-bit images in 0-255: {argument} / 255).",
            stacklevel=3,
        )
