"""Build a spkeras spiking model from a NIR graph (:func:`import_nir`), the inverse of :func:`~spkeras.nir.export_nir`.

Accepted primitives: ``Input``, ``Output``, ``Affine``/``Linear`` (Dense), ``Conv2d`` (Conv2D with
``ZeroPadding2D`` for integer padding; one group per input channel: DepthwiseConv2D; 1×1 per-channel convolutions
become :class:`~spkeras.layers.ChannelAffine`),
``AvgPool2d`` (AveragePooling2D, or GlobalAveragePooling2D over the whole image), ``SumPool2d`` (a DepthwiseConv2D of
ones), ``Flatten`` (over the whole sample), ``Scale`` (per channel), ``IF`` with ``v_reset = 0`` and ``r = 1``
(a hard-reset :class:`~spkeras.layers.IntegrateAndFire`), the soft-reset loop ``I → Threshold → Scale(−θ) → I``
written by the exporter (a soft-reset IntegrateAndFire; its threshold offset becomes the initial potential),
``Scale(θ)`` after a neuron (``spike_value="threshold"``), an ``I`` in front of the output (the integrating readout,
which spkeras's readout already is), the spiking max-pooling gate (:mod:`spkeras.nir.max_pooling`; a
SpikingMaxPooling2D), and several edges into one node (an ``Add``). Thresholds must be the same for a whole layer or
per channel. Anything else is refused with the node and the reason. Each primitive's function is in the one
dispatch table :data:`spkeras.nir.import_layers.IMPORTERS`.
"""

from __future__ import annotations

import json
import pathlib

import keras
import numpy as np

from spkeras.errors import NIRConversionError
from spkeras.layers.readout import Readout
from spkeras.nir import layout
from spkeras.nir.common import Refused, kind, require_nir
from spkeras.nir.import_layers import IMPORTERS
from spkeras.nir.max_pooling import find_max_pools


class Importer:
    """Reads one NIR graph into a functional Keras model of spkeras layers."""

    def __init__(self, graph):
        self.graph = graph
        self.incoming: dict[str, list[str]] = {name: [] for name in graph.nodes}
        self.readers: dict[str, list[str]] = {name: [] for name in graph.nodes}
        for source, target in graph.edges:
            self.incoming[target].append(source)
            self.readers[source].append(target)
        self.loops = self._soft_reset_loops()
        self.max_pools = find_max_pools(graph, self.incoming, self.readers)
        self.names: set[str] = set()
        self.tensors: dict[str, tuple] = {}  # NIR name -> (keras tensor, keras shape, perm)

    def _soft_reset_loops(self) -> dict[str, tuple[str, str, str]]:
        """``threshold name -> (integrator, threshold, reset)`` for every ``I → Threshold → Scale → I`` loop."""
        loops = {}
        for name, node in self.graph.nodes.items():
            if kind(node) != "I":
                continue
            for reset in self.incoming[name]:
                if kind(self.graph.nodes[reset]) != "Scale" or len(self.incoming[reset]) != 1:
                    continue
                threshold = self.incoming[reset][0]
                closed = self.readers[name] == [threshold] and self.readers[reset] == [name]
                if kind(self.graph.nodes[threshold]) == "Threshold" and self.incoming[threshold] == [name] and closed:
                    loops[threshold] = (name, threshold, reset)
        return loops

    def unique(self, base: str) -> str:
        base = "".join(c if c.isalnum() or c in "_-" else "_" for c in base) or "layer"
        name, counter = base, 1
        while name in self.names:
            counter += 1
            name = f"{base}_{counter}"
        self.names.add(name)
        return name

    def order(self) -> list[str]:
        """Nodes in an order where every (non-loop) edge goes forward."""
        skipped = {(reset, integrator) for integrator, _, reset in self.loops.values()}
        skipped |= {edge for _, _, feedback, _ in self.max_pools.values() for edge in feedback}
        pending = {name: sum((s, name) not in skipped for s in self.incoming[name]) for name in self.graph.nodes}
        ready = sorted(name for name, count in pending.items() if count == 0)
        order = []
        while ready:
            name = ready.pop(0)
            order.append(name)
            for target in self.readers[name]:
                if (name, target) not in skipped:
                    pending[target] -= 1
                    if pending[target] == 0:
                        ready.append(target)
        if len(order) != len(self.graph.nodes):
            left = sorted(set(self.graph.nodes) - set(order))
            raise NIRConversionError(
                [
                    (
                        left[0],
                        kind(self.graph.nodes[left[0]]),
                        "it is part of a cycle other than "
                        "the soft-reset loop I → Threshold → Scale → I; spkeras networks are "
                        "feed-forward.",
                    )
                ],
                "import",
                "graph",
            )
        return order

    def run(self) -> keras.Model:
        problems, model_input, outputs = [], None, []
        in_loop = {part for loop in self.loops.values() for part in (loop[0], loop[2])}
        in_loop |= {part for gate, (_, parts, _, _) in self.max_pools.items() for part in parts - {gate}}
        for name in self.order():
            node, primitive = self.graph.nodes[name], kind(self.graph.nodes[name])
            if name in in_loop or name in self.tensors:  # loop parts; a spike-value Scale taken by its neuron
                continue
            try:
                if primitive == "Input":
                    if model_input is not None:
                        raise Refused("the graph has several inputs; spkeras models have one.")
                    shape = layout.to_keras_shape(np.asarray(node.input_type["input"]).reshape(-1))
                    model_input = keras.Input(shape=shape, name=self.unique(name))
                    self.tensors[name] = (model_input, shape, None)
                    continue
                feeding = self.incoming[name]
                if name in self.loops:  # the neuron reads what its integrator reads
                    integrator, _, reset = self.loops[name]
                    feeding = [s for s in self.incoming[integrator] if s != reset]
                if name in self.max_pools:  # the pool reads what its window convolutions read
                    feeding = [self.max_pools[name][0]]
                sources = [self.tensors.get(s) for s in feeding]
                if any(source is None for source in sources):
                    self.tensors[name] = None
                    continue
                value = self.join(name, sources)
                if primitive == "Output":
                    outputs.append(value)
                    continue
                handler = IMPORTERS.get(primitive)
                if handler is None:
                    raise Refused("spkeras has no equivalent of this NIR primitive.")
                self.tensors[name] = handler(self, name, node, value)
            except Refused as refusal:
                problems.append((name, primitive, refusal.reason))
                self.tensors[name] = None
        if not problems and len(outputs) != 1:
            problems.append(("output", "Output", f"spkeras models have one output; the graph has {len(outputs)}."))
        if problems:
            raise NIRConversionError(problems, "import", "graph")
        output = outputs[0][0]
        stored = (getattr(self.graph, "metadata", None) or {}).get("spkeras_output_activation")
        if stored:  # a spkeras export keeps the output activation that spkeras.predict applies
            output = Readout(**json.loads(str(stored)), name="readout")(output)
        return keras.Model(model_input, output, name="nir_import")

    def join(self, name, sources):
        """The sum of the values on a node's incoming edges (a keras ``Add`` when there are several)."""
        if not sources:
            raise Refused("it has no input.")
        if len(sources) == 1:
            return sources[0]
        perms = [perm for _, _, perm in sources]
        if any((p is None) != (perms[0] is None) or (p is not None and not np.array_equal(p, perms[0])) for p in perms):
            raise Refused("its inputs list their values in different orders.")
        tensor = keras.layers.Add(name=self.unique(f"{name}_add"))([t for t, _, _ in sources])
        return tensor, sources[0][1], perms[0]


def import_nir(graph_or_path) -> keras.Model:
    """Builds a spkeras spiking ``keras.Model`` from a NIR graph (or a ``.nir`` file).

    The model simulates with :func:`spkeras.simulate.evaluate` (analog input: the image, in Keras's channels-last
    order, at every step) and round-trips what :func:`~spkeras.nir.export_nir` writes: exporting and importing
    back gives the same simulation. Node metadata written by the exporter (``spkeras_v_init``) is only used when
    the graph's own parameters confirm it.

    Args:
        graph_or_path: A ``nir.NIRGraph``, or the path of a file written by ``nir.write``.

    Returns:
        A functional ``keras.Model`` of Keras and spkeras layers.

    Raises:
        ImportError: If the optional ``nir`` package is missing (``pip install "spkeras[nir]"``).
        NIRConversionError: If a node has no spkeras equivalent (each such node is named with the reason).
    """
    nir = require_nir()
    graph = graph_or_path
    if isinstance(graph_or_path, (str, pathlib.Path)):
        path = pathlib.Path(graph_or_path)
        if not path.is_file():
            raise ValueError(f"NIR file not found. Received: graph_or_path='{path}'.")
        # nir 1.0.8's type check infers Conv2d shapes from the kernel height alone; spkeras checks shapes itself.
        graph = nir.read(path, type_check=False)
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"`graph_or_path` must be a nir.NIRGraph or a path. Received: {type(graph).__name__}.")
    return Importer(graph).run()
