"""Turn per-site scales λ into SNN weights and thresholds, propagating the scale of every tensor.

Every tensor of the SNN carries a *scale* ``s`` (a scalar or one value per channel): the ANN value is
approximately ``s ×`` the SNN value (firing rate or current per step). The input has scale 1 (analog input
current = the image). A linear layer fed with scale ``s_in`` and followed by a neuron site with scale λ
gets ``W' = gain·W·s_in/target`` and ``b' = gain·b/target``; the neuron then fires at rate ``a/λ``.

Two parametrisations, both exact (see docs/concepts.md, "Thresholds, weights and what a spike carries"):

- ``spike_value="unit"``: weights are rescaled (``target = λ``), threshold ``θ = gain`` (κ for ECC), a
  spike carries 1, and the spike tensor has scale λ;
- ``spike_value="threshold"``: weights are unchanged (``target = 1``, ``gain = 1``), ``θ = λ``, a spike
  carries θ, and every tensor keeps scale 1.
"""

from __future__ import annotations

import numpy as np

from spkeras.conversion.ir import Node, consumers, divide_outputs


def _as_threshold(values) -> float | list[float]:
    values = np.asarray(values, dtype="float64")
    if values.ndim == 0 or np.allclose(values, values.reshape(-1)[0], rtol=0, atol=0):
        return float(values.reshape(-1)[0])
    return [float(v) for v in values.reshape(-1)]


def _downstream_neuron(nodes: list[Node], readers: list[list[int]], index: int) -> int | None:
    """The neuron site a linear node drives through channel-preserving ops only, if there is exactly one."""
    current = index
    while len(readers[current]) == 1:
        reader = readers[current][0]
        node = nodes[reader]
        if node.kind == "neuron":
            return reader
        if node.kind != "structural" or node.map_scale is not None:
            return None
        current = reader
    return None


def plan_snn(
    nodes: list[Node],
    site_scales: dict[int, np.ndarray],
    *,
    spike_value: str,
    transform=None,
) -> tuple[dict[int, tuple[np.ndarray, np.ndarray]], dict[int, float | list[float]], np.ndarray]:
    """Computes SNN weights and neuron thresholds from the per-site scales.

    Args:
        nodes: Folded IR nodes (no batch norms), topological order.
        site_scales: For each neuron node index, λ (scalar or per-channel array, > 0).
        spike_value: ``"unit"`` or ``"threshold"``.
        transform: The method's :class:`~spkeras.methods.WeightTransform` (``None``: none): its ``gain`` (κ)
            multiplies the linear layers that drive neurons in ``"unit"`` mode, and its ``quantize`` turns
            each linear layer's weights into the method's number format; the returned scale factor keeps the
            rescaling exact.

    Returns:
        ``(linear_weights, thresholds, output_scale)``: kernel and bias (or scale and offset) per linear/affine
        node index, the threshold (a float or one per channel) per neuron node index, and the scale of the
        model output.

    Examples:
        >>> import keras, numpy as np
        >>> from spkeras.conversion.lower import lower_model
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="relu")])
        >>> nodes = lower_model(model)
        >>> weights, thresholds, output_scale = plan_snn(nodes, {2: np.float64(4.0)}, spike_value="unit")
        >>> thresholds, float(output_scale)
        ({2: 1.0}, 4.0)
    """
    gain = 1.0 if transform is None else transform.gain
    readers = consumers(nodes)
    scale: dict[int, np.ndarray] = {}
    weights: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    thresholds: dict[int, float | list[float]] = {}
    for index, node in enumerate(nodes):
        if node.kind == "input":
            scale[index] = np.float64(1.0)
        elif node.kind == "structural":
            incoming = scale[node.inputs[0]]
            scale[index] = node.map_scale(incoming) if node.map_scale is not None else incoming
        elif node.kind == "merge":
            incoming = [np.asarray(scale[i], dtype="float64") for i in node.inputs]
            if any(value.shape != incoming[0].shape or not np.allclose(value, incoming[0]) for value in incoming):
                received = ", ".join(np.array2string(np.ravel(value)[:3], precision=4) for value in incoming)
                if spike_value == "threshold":  # only a weight transform can give the branches their own scale
                    raise ValueError(
                        f"The inputs of '{node.name}' ({type(node.source).__name__}) carry different scales because "
                        "the method's weight transform (the quantisation of signed_bit) rescales each branch by its "
                        f"own factor. Received: scales {received}. Convert without signed_bit for models with "
                        "Add/Concatenate."
                    )
                raise ValueError(
                    f"The inputs of '{node.name}' ({type(node.source).__name__}) carry different scales. Received: "
                    f"spike_value='unit', scales {received}. Convert with spike_value='threshold' so that every "
                    "tensor keeps the ANN's scale."
                )
            scale[index] = incoming[0]
        elif node.kind in ("linear", "affine"):
            incoming = np.asarray(scale[node.inputs[0]], dtype="float64")
            site = _downstream_neuron(nodes, readers, index)
            if spike_value == "unit" and site is not None:
                target = np.asarray(site_scales[site], dtype="float64")
                layer_gain = gain
            else:
                target, layer_gain = np.float64(1.0), 1.0
            if node.kind == "affine":  # diagonal: channel c maps to channel c
                weights[index] = (node.scale * incoming * layer_gain / target, node.offset * layer_gain / target)
                scale[index] = target / layer_gain
                continue
            # The kernel's second-to-last axis is its input channel for both layouts (dense and depthwise).
            kernel = node.kernel * (incoming[:, None] if incoming.ndim else incoming) * layer_gain
            kernel = kernel / target if node.layout == "dense" else divide_outputs(kernel, target, node.layout)
            bias = node.bias * layer_gain / target
            factor = 1.0
            if transform is not None:
                kernel, bias, factor = transform.quantize(kernel, bias)
            weights[index] = (kernel, bias)
            scale[index] = target / layer_gain / factor
        elif node.kind == "neuron":
            current_scale = np.asarray(scale[node.inputs[0]], dtype="float64")
            site_scale = np.asarray(site_scales[index], dtype="float64")
            thresholds[index] = _as_threshold(site_scale / current_scale)
            scale[index] = site_scale if spike_value == "unit" else current_scale
        else:
            raise ValueError(f"Unexpected IR node kind {node.kind!r} at '{node.name}'; fold batch norms first.")
    return weights, thresholds, scale[len(nodes) - 1]
