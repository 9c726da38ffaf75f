"""How an :class:`~spkeras.layers.IntegrateAndFire` layer is written in NIR primitives.

NIR's ``IF`` (``dv/dt = R·I``; a spike when ``v > v_threshold``; then ``v ← v_reset``) is a *hard*-reset neuron:
the charge above the threshold is lost. spkeras's default soft reset keeps it (``V ← V − θ``), and no ``IF``
parameter expresses that. It is written exactly with three primitives instead::

    synaptic input ──▶ integrator (nir.I, r = 1) ──▶ threshold (nir.Threshold) ──▶ spikes
                              ▲                               │
                              └──── reset (nir.Scale, −θ) ◀───┘

Each spike feeds ``−θ`` back into the integrator, which is a subtraction of θ. Discretised with one step per time
unit, whether the feedback arrives in the same step or the next one, the spikes are spkeras's: the integrator then
holds the potential before (or after) the reset, and both fire at the same steps.

- Initial potential ``v0 = v_init·θ`` (+ the calibrated ``potential_offset``): NIR neurons have no initial state,
  but for a soft reset starting at ``v0`` with threshold θ is the same as starting at 0 with threshold ``θ − v0``
  (the reset still subtracts θ), so ``v0`` is folded into the ``Threshold`` node, per neuron.
- ``V ≥ θ`` vs NIR's ``v > θ``: thresholds are written as the largest float32 below the value.
- ``spike_value="threshold"`` (a spike carries θ): a ``nir.Scale(θ)`` node follows the threshold.
- Calibrated ``bias_current`` (a constant current per channel): added to the bias of the one Conv2d/Affine node
  that drives the neuron through channel-preserving ops; refused otherwise.
- Refused: per-step biases (``step_bias``; NIR has no time-indexed input), a hard reset with a non-zero initial
  potential (after the first reset the offset is gone, so it cannot be folded), ternary and augmented neurons
  (negative and multi-spike events), and any other neuron class.

A hard-reset neuron starting at 0 is an ``IF`` node (``r = 1``, ``v_reset = 0``).
"""

from __future__ import annotations

import keras
import numpy as np

from spkeras.nir import layout
from spkeras.nir.common import Refused, Tensor

SOFT_RESET_PARTS = ("integrator", "threshold", "reset")


def _numpy(value) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(value), dtype="float32")


def refuse_neuron_class(layer) -> str:
    """Why a spiking layer other than :class:`~spkeras.layers.IntegrateAndFire` is not exported.

    Examples:
        >>> from spkeras.layers import TernaryIntegrateAndFire
        >>> refuse_neuron_class(TernaryIntegrateAndFire()).split(";")[0]
        'it emits negative spikes (ternary IF)'
    """
    if getattr(layer, "graded_spikes", False):
        return (
            "one event carries several spikes (augmented IF); NIR neurons emit one unit spike per step. "
            "Convert with a plain IntegrateAndFire method."
        )
    if getattr(layer, "signed_spikes", False):
        return (
            "it emits negative spikes (ternary IF); NIR's IF and Threshold emit only positive spikes. "
            "Convert with a plain IntegrateAndFire method."
        )
    return (
        "only spkeras.layers.IntegrateAndFire has a known exact NIR form; this neuron class does not. "
        "Export it by mapping it yourself or convert with IntegrateAndFire."
    )


def export_neuron(exporter, position, layer, source, inputs=None):
    """Adds the NIR nodes of one :class:`~spkeras.layers.IntegrateAndFire` layer (the export table's handler).

    Returns:
        The :class:`~spkeras.nir.common.Tensor` of its spikes.
    """
    nir, shape, perm = exporter.nir, tuple(source.shape), source.perm
    theta = layout.per_neuron(_numpy(layer.threshold), shape, perm)
    start = layout.per_neuron(np.broadcast_to(_numpy(layer.start_potential()), shape), shape, perm)
    for name, role in layer.calibration_weights.items():
        values = _numpy(getattr(layer, name))
        if role == "step_current" and np.any(values != 0):
            raise Refused(
                f"its calibrated per-step biases ({name}, first {values.shape[0]} steps) have no NIR "
                "form: NIR has no time-indexed input. Convert without per-step calibration."
            )
        if role == "channel_current" and np.any(values != 0):
            _fold_bias_current(exporter, layer, source, values)
    metadata = {
        "spkeras_layer": layer.name,
        "spkeras_reset": layer.reset,
        "spkeras_v_init": float(layer.v_init),
        "spkeras_timesteps": int(layer.timesteps),  # only for the closed-form forward pass (layer(x))
    }
    ones = np.ones(theta.shape, dtype="float32")
    if layer.reset == "hard":
        if np.any(start != 0):
            raise Refused(
                "a hard-reset neuron with a non-zero initial potential (v_init or potential_offset) has no "
                "NIR form: NIR's IF has no initial state, and after the first reset the offset is gone, so "
                "it cannot be folded into the threshold. Use reset='soft' or v_init=0."
            )
        node = nir.IF(r=ones, v_threshold=layout.below(theta), v_reset=np.zeros_like(ones), metadata=metadata)
        spikes = exporter.add(layer.name, node, source.sources)
    else:
        integrator = exporter.add(f"{layer.name}.integrator", nir.I(r=ones, metadata=metadata), source.sources)
        threshold = layout.below((theta - start).astype("float32"))
        spikes = exporter.add(f"{layer.name}.threshold", nir.Threshold(threshold=threshold), (integrator,))
        reset = exporter.add(f"{layer.name}.reset", nir.Scale(scale=(-theta).astype("float32")), (spikes,))
        exporter.edges.append((reset, integrator))
    if layer.spike_value == "threshold":
        spikes = exporter.add(f"{layer.name}.value", nir.Scale(scale=theta.astype("float32")), (spikes,))
    return Tensor((spikes,), shape, perm=perm)


def _fold_bias_current(exporter, layer, source, bias_current) -> None:
    if source.bias_target is None:
        raise Refused(
            "its calibrated bias current can only be folded into the bias of the one Conv2D/Dense/"
            "ChannelAffine that alone drives it through channel-preserving layers, and there is none "
            "(NIR has no constant-current source)."
        )
    node = exporter.nodes[source.bias_target]
    values = np.broadcast_to(bias_current, (source.shape[-1],))
    if source.perm is not None:
        values = values[source.perm]
    node.bias = (np.asarray(node.bias, dtype="float32") + values).astype("float32")
