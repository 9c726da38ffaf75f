"""Spiking max pooling (:class:`~spkeras.layers.SpikingMaxPooling2D`) in NIR primitives, both ways.

The layer passes, per window, the increase of the largest accumulated input: ``y(t) = M(t) − M(t − 1)`` with
``M(t) = max_i A_i(t)`` and ``A_i(t)`` input ``i``'s spikes so far. NIR has no maximum node, but when the inputs are
unit spikes (0 or 1 per step) every ``A_i`` is a whole number, ``M`` grows by at most 1 per step, and
``y(t) = 1`` exactly when some input of the window has ``A_i(t) > Y(t − 1)``, where ``Y`` counts the window's
output spikes so far (``Y(t − 1) = M(t − 1)``). Per window offset ``(p, q)`` of a ``kh × kw`` pool::

    spikes ─▶ window (Conv2d, one-hot at (p, q), the pool's stride) ──────────▶ accumulated (I, r = 1)
                                                                                        │        ▲
    above (Threshold, 0.5): A_pq − Y > 0.5  ◀──────────────────────────────────────────┘        │
        │ (the kh·kw "above" nodes add into one node)                                            │
        ▼                                                                                        │
    gate (Threshold, 0.5): any window input ahead of the output ──▶ output spikes                │
        └──▶ reset (Scale, −1) ──────────────────────────────────────────────────────────────────┘

The reset feeds every output spike back into the ``kh·kw`` integrators (``I_pq = A_pq − Y``): the same feedback
as a soft-reset neuron's loop, read one step late (the integrators then hold ``A_pq(t) − Y(t − 1)``). Padded
positions (``padding="same"``) read zeros, so they never lead. Only unit spikes straight from an
``IntegrateAndFire`` layer are exact this way (threshold-valued spikes add up with float rounding, and other inputs
can grow by more than one per step); any other input is refused with the fix (average pooling).
"""

from __future__ import annotations

import itertools

import numpy as np

from spkeras.nir import layout
from spkeras.nir.common import Refused, Tensor, kind, text

ROLE = "spiking_max_pooling"
FIX = (
    "Convert with average pooling to export it: spkeras convert ... --max-pooling average (Python: "
    "spkeras.convert(..., max_pooling='average')), or train with AveragePooling2D."
)


def window_convolutions(pool_size, strides, padding: str, height: int, width: int, channels: int):
    """The one-hot convolutions that pick offset ``(p, q)`` of every window, in NIR layout.

    Each is a plain convolution (``groups = 1``) whose weight is the identity over channels at ``(p, q)`` and zero
    elsewhere: ``nir.read``'s type check infers grouped convolutions wrongly (nir 1.0.8), and every consumer runs
    plain ones.

    Returns:
        ``{(p, q): (weight (C, C, kh', kw'), (ph, pw))}``: NIR weights and symmetric padding (an asymmetric
        ``"same"`` padding is written as zero taps, see :func:`spkeras.nir.layout.symmetric_padding`).

    Examples:
        >>> weight, pads = window_convolutions((2, 2), (2, 2), "valid", 4, 4, 1)[(1, 0)]
        >>> weight[0, 0].astype(int).tolist(), pads
        ([[0, 0], [1, 0]], (0, 0))
    """
    pads = ((0, 0), (0, 0))
    if padding == "same":
        pads = tuple(layout.same_padding(n, k, s, 1) for n, k, s in zip((height, width), pool_size, strides))
    windows = {}
    for p, q in itertools.product(range(pool_size[0]), range(pool_size[1])):
        kernel = np.zeros(tuple(pool_size) + (channels, channels), "float32")  # Keras layout (kh, kw, C_in, C_out)
        kernel[p, q] = np.eye(channels, dtype="float32")
        kernel, symmetric = layout.symmetric_padding(kernel, pads, (1, 1))
        windows[(p, q)] = (layout.conv_weight_to_nir(kernel), symmetric)
    return windows


def export_max_pooling(exporter, position, layer, source, inputs):
    """The export table's handler for :class:`~spkeras.layers.SpikingMaxPooling2D` (see the module docstring)."""
    nir, (height, width, channels) = exporter.nir, source.shape
    spiking = len(source.sources) == 1 and kind(exporter.nodes[source.sources[0]]) in ("Threshold", "IF")
    if not spiking or source.perm is not None:
        raise Refused(
            "spiking max pooling (max_pooling='spiking', the default) is exported exactly only on the unit spikes "
            "of one IntegrateAndFire layer (spike_value='unit'); NIR has no maximum node for other inputs. " + FIX
        )
    output = tuple(int(d) for d in layer.output.shape[1:])
    shape = np.array((channels,) + output[:2])
    ones, half = np.ones(tuple(shape), "float32"), np.full(tuple(shape), 0.5, "float32")
    metadata = {
        "spkeras_role": ROLE,
        "spkeras_layer": layer.name,
        "spkeras_pool_size": np.array(layer.pool_size, "int64"),
        "spkeras_strides": np.array(layer.strides, "int64"),
        "spkeras_padding": layer.padding,
    }
    windows = window_convolutions(layer.pool_size, layer.strides, layer.padding, height, width, channels)
    above, integrators = [], []
    for (p, q), (weight, pads) in windows.items():
        conv = nir.Conv2d(
            input_shape=(height, width),
            weight=weight,
            stride=tuple(int(s) for s in layer.strides),
            padding=pads,
            dilation=(1, 1),
            groups=1,
            bias=np.zeros(channels, "float32"),
        )
        conv.input_type, conv.output_type = {"input": np.array([channels, height, width])}, {"output": shape}
        conv_name = exporter.add(f"{layer.name}.window{p}{q}", conv, source.sources)
        integrators.append(exporter.add(f"{layer.name}.accumulated{p}{q}", nir.I(r=ones), (conv_name,)))
        above.append(exporter.add(f"{layer.name}.above{p}{q}", nir.Threshold(threshold=half), (integrators[-1],)))
    gate = exporter.add(f"{layer.name}.gate", nir.Threshold(threshold=half, metadata=metadata), tuple(above))
    reset = exporter.add(f"{layer.name}.reset", nir.Scale(scale=-ones), (gate,))
    exporter.edges.extend((reset, integrator) for integrator in integrators)
    return Tensor((gate,), output)


def refuse_max_pooling_1d(exporter, position, layer, source, inputs):
    """The export table's handler for :class:`~spkeras.layers.SpikingMaxPooling1D`: refused with the fix."""
    raise Refused("1-D spiking max pooling is not exported (NIR's exporter here writes 2-D pools). " + FIX)


def find_max_pools(graph, incoming, readers) -> dict:
    """``gate name -> (source name, parts, feedback edges, settings)`` for every motif written by the exporter.

    A gate is taken only when its metadata names the role and the graph's own nodes are exactly what
    :func:`export_max_pooling` writes for those pool settings; ``settings`` are the arguments of the
    :class:`~spkeras.layers.SpikingMaxPooling2D` (``pool_size``, ``strides``, ``padding``).

    Examples:
        >>> import types
        >>> find_max_pools(types.SimpleNamespace(nodes={}), {}, {})  # a graph without the motif
        {}
    """
    found = {}
    for name, node in graph.nodes.items():
        metadata = getattr(node, "metadata", None) or {}
        if kind(node) != "Threshold" or text(metadata.get("spkeras_role")) != ROLE:
            continue
        motif = _confirm(graph, incoming, readers, name, metadata)
        if motif is not None:
            found[name] = motif
    return found


def _pair(values) -> tuple[int, int]:
    values = np.atleast_1d(np.asarray(values)).astype(int).tolist()
    return (values[0], values[0]) if len(values) == 1 else (values[0], values[1])


def _confirm(graph, incoming, readers, gate, metadata):
    pool_size = tuple(int(v) for v in np.asarray(metadata["spkeras_pool_size"]).reshape(-1))
    strides = tuple(int(v) for v in np.asarray(metadata["spkeras_strides"]).reshape(-1))
    padding = text(metadata.get("spkeras_padding"))
    resets = [r for r in readers[gate] if kind(graph.nodes[r]) == "Scale" and incoming[r] == [gate]]
    if len(resets) != 1 or padding not in ("valid", "same"):
        return None
    reset, nodes = resets[0], graph.nodes
    above, parts, sources, feedback = incoming[gate], {gate, reset}, set(), []
    if np.any(np.asarray(nodes[gate].threshold) != 0.5) or np.any(np.asarray(nodes[reset].scale) != -1):
        return None
    convolutions = {}
    for name in above:
        if kind(nodes[name]) != "Threshold" or len(incoming[name]) != 1 or np.any(nodes[name].threshold != 0.5):
            return None
        integrator = incoming[name][0]
        others = [s for s in incoming[integrator] if s != reset]
        if kind(nodes[integrator]) != "I" or np.any(np.asarray(nodes[integrator].r) != 1) or len(others) != 1:
            return None
        if readers[integrator] != [name] or readers[name] != [gate] or kind(nodes[others[0]]) != "Conv2d":
            return None
        convolutions[others[0]] = nodes[others[0]]
        sources.update(incoming[others[0]])
        parts.update((name, integrator, others[0]))
        feedback.append((reset, integrator))
    if len(sources) != 1 or len(convolutions) != pool_size[0] * pool_size[1] or len(readers[reset]) != len(above):
        return None
    first = next(iter(convolutions.values()))
    channels, (height, width) = int(np.asarray(first.weight).shape[0]), _pair(first.input_shape)
    expected = list(window_convolutions(pool_size, strides, padding, height, width, channels).values())
    for conv in convolutions.values():
        settings = (_pair(conv.stride), _pair(conv.padding), _pair(conv.dilation), int(conv.groups))
        matches = [i for i, (w, pads) in enumerate(expected) if np.array_equal(np.asarray(conv.weight), w)]
        if len(matches) != 1 or settings != (strides, expected[matches[0]][1], (1, 1), 1):
            return None
        expected.pop(matches[0])
        if np.any(np.asarray(conv.bias) != 0):
            return None
    return sources.pop(), parts, feedback, {"pool_size": pool_size, "strides": strides, "padding": padding}
