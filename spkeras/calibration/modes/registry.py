"""The registry of post-conversion calibration modes and of the pipelines (named tuples of modes).

A mode is an object (a :class:`CalibrationMode` subclass instance) that says what it is:

- ``name`` — what users pass as ``calibrate=``;
- ``order`` — where it runs among the requested modes (lower first);
- ``neuron_weights`` — the calibration weights it needs on every neuron layer, name → role (see
  :mod:`spkeras.layers.calibrated`); the converter builds the neurons with them;
- ``temporal`` — whether what it sets depends on the time step;
- how it is applied: :meth:`CalibrationMode.tune_scales` (before the spiking network is built, on the folded
  ANN's scales) and/or :meth:`CalibrationMode.tune_network` (after, on the spiking network's weights).

Registering one (``register_mode``) is all a new mode needs; ``register_pipeline`` names a tuple of modes.
This module imports nothing heavy, so the command line can list the names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

_MODES: dict[str, CalibrationMode] = {}
_PIPELINES: dict[str, tuple[str, ...]] = {}
NONE = "none"  # calibrate="none" (or None): no calibration


@dataclasses.dataclass
class CalibrationRun:
    """What a mode works on: the folded ANN, the calibration data and, once built, the spiking network.

    Attributes:
        folded: The BN-folded ANN.
        site_layers: Its ReLU layer of each neuron site, in network order.
        data: Calibration inputs (array or batched ``tf.data.Dataset``).
        timesteps: T the network is tuned for.
        v_init: Initial potential fraction of the neurons.
        per_channel: For each site, whether it has one value per channel (convolutional maps).
        bounds: Clip bound of each site, or None.
        batch_size: Batch size for arrays.
        verbose: Show progress bars.
        channel_maxima: Largest activation per channel of each site on ``data`` (from the statistics pass).
        snn: The spiking network (None before it is built).
        neurons: Its neuron layer of each site.
        scales: λ of each site in the built network (scalar or per channel).
    """

    folded: object
    site_layers: list
    data: object
    timesteps: int
    v_init: float
    per_channel: list
    bounds: list
    batch_size: int = 100
    verbose: bool = False
    channel_maxima: list | None = None
    snn: object = None
    neurons: list | None = None
    scales: list | None = None


class CalibrationMode:
    """A post-conversion calibration mode; subclass it, set the class attributes, override what it does.

    Examples:
        >>> class Nothing(CalibrationMode):
        ...     name, order = "nothing", 50
        >>> mode = Nothing()
        >>> mode.tune_scales(None, [1.0]), dict(mode.neuron_weights), mode.tunes_network
        ([1.0], {}, False)
    """

    name: str = ""
    order: int = 100
    neuron_weights: Mapping[str, str] = {}
    temporal: bool = False
    tunes_network: bool = False  # whether tune_network does anything (the pipeline then measures λ per site)
    description: str = ""

    def tune_scales(self, run: CalibrationRun, scales: list) -> list:
        """Returns the scales (λ per site) the network is built with; by default ``scales`` unchanged."""
        return scales

    def tune_network(self, run: CalibrationRun, modes: tuple[CalibrationMode, ...]) -> None:
        """Sets this mode's weights in ``run.snn`` (built with :attr:`neuron_weights`); by default nothing.

        ``modes`` are all the modes requested, in order (modes that tune together, e.g. the rate-matching ones,
        let the first of them do the work for all).
        """

    def __repr__(self) -> str:
        return f"<calibration mode '{self.name}'>"


def register_mode(mode: CalibrationMode) -> CalibrationMode:
    """Registers a calibration mode under ``mode.name`` (``calibrate=name`` then runs it).

    Examples:
        >>> class Nothing(CalibrationMode):
        ...     name, order = "nothing", 50
        >>> _ = register_mode(Nothing())
        >>> "nothing" in available_modes()
        True
        >>> unregister_mode("nothing")
    """
    if not isinstance(mode, CalibrationMode):
        raise TypeError(f"register_mode takes a CalibrationMode instance. Received: {mode!r}.")
    name = mode.name
    if not isinstance(name, str) or not name.isidentifier() or name == NONE:
        raise ValueError(
            f"A calibration mode needs a name that is an identifier other than 'none'. Received: {name!r}."
        )
    if name in _MODES or name in _PIPELINES:
        raise ValueError(f"Calibration mode '{name}' is already registered. Unregister it first (unregister_mode).")
    _MODES[name] = mode
    return mode


def unregister_mode(name: str) -> None:
    """Removes a registered mode (pipelines that use it are removed too)."""
    if name not in _MODES:
        raise ValueError(f"No calibration mode '{name}' is registered. Received: {name!r}. Known: {available_modes()}.")
    del _MODES[name]
    for pipeline in [key for key, modes in _PIPELINES.items() if name in modes]:
        del _PIPELINES[pipeline]


def register_pipeline(name: str, modes: tuple[str, ...]) -> None:
    """Names a tuple of registered modes, e.g. ``register_pipeline("light", ("threshold", "bias"))``.

    Examples:
        >>> register_pipeline("just_bias", ("bias",))
        >>> resolve_modes("just_bias")
        (<calibration mode 'bias'>,)
        >>> unregister_pipeline("just_bias")
    """
    unknown = [mode for mode in modes if mode not in _MODES]
    if not isinstance(name, str) or name in _MODES or name in _PIPELINES or name == NONE or unknown or not modes:
        raise ValueError(
            f"A pipeline needs a new name and registered modes. Received: {name!r} = {tuple(modes)!r} "
            f"(known modes: {available_modes()}, pipelines: {available_pipelines()})."
        )
    _PIPELINES[name] = tuple(modes)


def unregister_pipeline(name: str) -> None:
    """Removes a registered pipeline."""
    if name not in _PIPELINES:
        raise ValueError(f"No pipeline '{name}' is registered. Received: {name!r}. Known: {available_pipelines()}.")
    del _PIPELINES[name]


def available_modes() -> list[str]:
    """Names of the registered modes, in their order of application."""
    return [mode.name for mode in sorted(_MODES.values(), key=lambda mode: mode.order)]


def available_pipelines() -> dict[str, tuple[str, ...]]:
    """The registered pipelines: name → modes."""
    return dict(_PIPELINES)


def get_mode(name: str) -> CalibrationMode:
    """The registered mode called ``name`` (a mode, not a pipeline: see :func:`resolve_modes` for those).

    Examples:
        >>> get_mode("bias").neuron_weights
        {'bias_current': 'channel_current'}
    """
    if name not in _MODES:
        raise ValueError(
            f"No calibration mode '{name}' is registered. Received: {name!r}. Known modes: {available_modes()} "
            f"(pipelines such as {sorted(_PIPELINES)} are resolved by resolve_modes)."
        )
    return _MODES[name]


def resolve_modes(calibrate) -> tuple[CalibrationMode, ...]:
    """Returns the calibration modes to run, in their order of application.

    Args:
        calibrate: ``None`` or ``"none"`` (none), a mode name, a pipeline name, or a list of mode names.

    Examples:
        >>> [mode.name for mode in resolve_modes(("potential", "threshold"))]
        ['threshold', 'potential']
        >>> [mode.name for mode in resolve_modes("light")]
        ['threshold', 'bias']
        >>> resolve_modes("thresholds")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: Unknown calibration mode 'thresholds'. Received: calibrate='thresholds'. Use None, ...
    """
    if calibrate is None or calibrate == NONE:
        return ()
    requested = _PIPELINES.get(calibrate, (calibrate,)) if isinstance(calibrate, str) else calibrate
    try:
        requested = list(requested)
    except TypeError:
        requested = [requested]
    unknown = [mode for mode in requested if not isinstance(mode, str) or mode not in _MODES]
    if unknown or not requested:
        raise ValueError(
            f"Unknown calibration mode {unknown[0] if unknown else calibrate!r}. Received: calibrate={calibrate!r}. "
            f"Use None, one of {tuple(available_modes())}, a list of them, or a pipeline: {sorted(_PIPELINES)}."
        )
    return tuple(_MODES[name] for name in available_modes() if name in requested)


def tune_scales(modes, run: CalibrationRun, scales: list) -> list:
    """Applies every mode's :meth:`~CalibrationMode.tune_scales`, in order."""
    for mode in modes:
        scales = mode.tune_scales(run, scales)
    return scales


def tune_network(modes, run: CalibrationRun) -> None:
    """Applies every mode's :meth:`~CalibrationMode.tune_network`, in order."""
    for mode in modes:
        mode.tune_network(run, tuple(modes))


def neuron_weights(modes) -> dict[str, str]:
    """The calibration weights (name → role) the neuron layers need for ``modes``, in order of application.

    Examples:
        >>> neuron_weights(resolve_modes("advanced"))
        {'potential_offset': 'neuron_potential'}
    """
    weights: dict[str, str] = {}
    for mode in modes:
        for name, role in mode.neuron_weights.items():
            if weights.get(name, role) != role:
                raise ValueError(f"Calibration modes disagree on the role of weight '{name}'. Received: {role!r}.")
            weights[name] = role
    return weights
