"""A small NumPy interpreter of NIR graphs, written from the NIR specification and independent of spkeras.

Discretisation: one time unit per step (dt = 1). Each step, every node reads the sum of the values on its incoming
edges; an edge into an integrating node (``I``, ``IF``) that closes a cycle carries the value its source had at the
previous step (zero at the first), every other edge the value of this step. Stateful nodes:

- ``I``: ``v ← v + r·x``; outputs ``v``.
- ``IF``: ``v ← v + r·x``; ``z = v > v_threshold``; ``v ← v_reset`` where ``z``; outputs ``z``.
- ``Threshold``: ``z = x > threshold``.

Stateless: ``Affine`` (``W·x + b``), ``Linear``, ``Scale``, ``Conv2d`` (channels-first, padding ints or
``"same"``/``"valid"``, stride, dilation, groups), ``SumPool2d``/``AvgPool2d`` (zero padding; the average divides
by the window size), ``Flatten`` (dimensions counted without the batch), ``Input``/``Output``. Anything else is
refused. Values are float64 unless ``dtype`` says otherwise; samples are along a leading batch axis.
"""

from __future__ import annotations

import numpy as np

STATEFUL = ("I", "IF")


def _pair(value) -> tuple[int, int]:
    values = np.atleast_1d(np.asarray(value)).astype(int).tolist()
    return (values[0], values[0]) if len(values) == 1 else (values[0], values[1])


def _windows(x, kernel, stride, dilation):
    """``x`` (B, C, H, W) → (B, C, H_out, W_out, kh, kw) views of every window."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    height = (x.shape[2] - dh * (kh - 1) - 1) // sh + 1
    width = (x.shape[3] - dw * (kw - 1) - 1) // sw + 1
    out = np.empty(x.shape[:2] + (height, width, kh, kw), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            out[..., i, j] = x[
                :, :, i * dh : i * dh + sh * (height - 1) + 1 : sh, j * dw : j * dw + sw * (width - 1) + 1 : sw
            ]
    return out


def _pad(x, padding):
    (ph, pw) = padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


def conv2d(node, x):
    weight = np.asarray(node.weight, dtype=x.dtype)
    kernel, stride, dilation = weight.shape[2:], _pair(node.stride), _pair(node.dilation)
    if isinstance(node.padding, str):
        if node.padding == "valid":
            padding = (0, 0)
        else:  # "same" (stride 1): PyTorch pads the extra zero after
            totals = [dilation[i] * (kernel[i] - 1) for i in (0, 1)]
            x = np.pad(
                x,
                (
                    (0, 0),
                    (0, 0),
                    (totals[0] // 2, totals[0] - totals[0] // 2),
                    (totals[1] // 2, totals[1] - totals[1] // 2),
                ),
            )
            padding = (0, 0)
    else:
        padding = _pair(node.padding)
    windows = _windows(_pad(x, padding), kernel, stride, dilation)
    groups = int(node.groups)
    per_group_in, per_group_out = weight.shape[1], weight.shape[0] // groups
    outputs = []
    for g in range(groups):
        part = windows[:, g * per_group_in : (g + 1) * per_group_in]
        w = weight[g * per_group_out : (g + 1) * per_group_out]
        outputs.append(np.einsum("bchwij,ocij->bohw", part, w))
    return np.concatenate(outputs, axis=1) + np.asarray(node.bias, dtype=x.dtype)[None, :, None, None]


def pool2d(node, x, average: bool):
    kernel = _pair(node.kernel_size)
    windows = _windows(_pad(x, _pair(node.padding)), kernel, _pair(node.stride), (1, 1))
    total = windows.sum(axis=(-2, -1))
    return total / (kernel[0] * kernel[1]) if average else total


def flatten(node, x):
    shape = x.shape[1:]
    start = int(node.start_dim) % len(shape)
    end = int(node.end_dim) % len(shape)
    new = shape[:start] + (int(np.prod(shape[start : end + 1])),) + shape[end + 1 :]
    return x.reshape((x.shape[0],) + new)


def _order(graph):
    """Nodes in evaluation order and the set of edges that close cycles.

    A cycle is broken at the edges into its integrating nodes (``I``, ``IF``): an edge ``s → t`` into an integrator
    from a node ``s`` that ``t`` reaches carries ``s``'s value of the previous step (the integrator's update with
    dt = 1 reads its feedback one step late). Every other edge carries this step's value; the rest must be acyclic.
    """
    successors: dict[str, list[str]] = {name: [] for name in graph.nodes}
    for source, target in graph.edges:
        successors[source].append(target)

    def reaches(start, goal):
        seen, stack = set(), [start]
        while stack:
            name = stack.pop()
            if name == goal:
                return True
            if name not in seen:
                seen.add(name)
                stack.extend(successors[name])
        return False

    back = {(s, t) for s, t in graph.edges if type(graph.nodes[t]).__name__ in STATEFUL and reaches(t, s)}
    pending = {name: sum(t == name and (s, t) not in back for s, t in graph.edges) for name in graph.nodes}
    ready = [name for name in graph.nodes if pending[name] == 0]
    order = []
    while ready:
        name = ready.pop(0)
        order.append(name)
        for target in successors[name]:
            if (name, target) not in back:
                pending[target] -= 1
                if pending[target] == 0:
                    ready.append(target)
    if len(order) != len(graph.nodes):
        raise NotImplementedError("The reference interpreter runs only cycles that pass through an I or IF node.")
    return order, back


def run(graph, x, timesteps: int, dtype="float64"):
    """Simulates ``graph`` for ``timesteps`` steps with the input ``x`` (B, ...) at every step.

    Returns:
        ``(outputs, spikes)``: per Output node, its value at each step ``(T, B, ...)``; per spiking node (``IF``
        and ``Threshold``), its spikes at each step ``(T, B, ...)``.
    """
    x = np.asarray(x, dtype=dtype)
    order, back = _order(graph)
    incoming: dict[str, list[tuple[str, bool]]] = {name: [] for name in graph.nodes}
    for source, target in graph.edges:
        incoming[target].append((source, (source, target) in back))
    state: dict[str, np.ndarray] = {}
    previous: dict[str, np.ndarray] = {}
    outputs = {name: [] for name, node in graph.nodes.items() if type(node).__name__ == "Output"}
    spikes = {name: [] for name, node in graph.nodes.items() if type(node).__name__ in ("IF", "Threshold")}
    for _ in range(timesteps):
        values: dict[str, np.ndarray] = {}
        for name in order:
            node, kind = graph.nodes[name], type(graph.nodes[name]).__name__
            if kind == "Input":
                values[name] = x
                continue
            parts = [previous.get(source) if is_back else values[source] for source, is_back in incoming[name]]
            parts = [p for p in parts if p is not None]
            value = parts[0]
            for part in parts[1:]:
                value = value + part
            values[name] = _evaluate(node, kind, name, value, state, dtype)
            if name in outputs:
                outputs[name].append(values[name])
            if name in spikes:
                spikes[name].append(values[name])
        previous = values
    return {k: np.stack(v) for k, v in outputs.items()}, {k: np.stack(v) for k, v in spikes.items()}


def _evaluate(node, kind, name, value, state, dtype):
    if kind == "Output":
        return value
    if kind == "Affine":
        return value @ np.asarray(node.weight, dtype).T + np.asarray(node.bias, dtype)
    if kind == "Linear":
        return value @ np.asarray(node.weight, dtype).T
    if kind == "Scale":
        return value * np.asarray(node.scale, dtype)
    if kind == "Conv2d":
        return conv2d(node, value)
    if kind in ("SumPool2d", "AvgPool2d"):
        return pool2d(node, value, kind == "AvgPool2d")
    if kind == "Flatten":
        return flatten(node, value)
    if kind == "Threshold":
        return (value > np.asarray(node.threshold, dtype)).astype(dtype)
    if kind in STATEFUL:
        potential = state.get(name, np.zeros_like(value)) + np.asarray(node.r, dtype) * value
        if kind == "I":
            state[name] = potential
            return potential
        fired = potential > np.asarray(node.v_threshold, dtype)
        state[name] = np.where(fired, np.asarray(node.v_reset, dtype), potential)
        return fired.astype(dtype)
    raise NotImplementedError(f"The reference interpreter does not implement {kind} (node '{name}').")
