"""Write a converted spiking network as a NIR graph (:func:`export_nir`).

Every layer maps to NIR primitives that compute the same thing, or the export is refused with the layer and the
reason; nothing is approximated. Each layer type's function is in the one dispatch table
:data:`spkeras.nir.export_layers.EXPORTERS`; the neurons (soft reset, initial potential, calibrated biases, spike
values) are in :mod:`spkeras.nir.neurons`, spiking max pooling in :mod:`spkeras.nir.max_pooling`, the layout
conversions (and asymmetric padding) in :mod:`spkeras.nir.layout`; the full table and the simulation conventions
(one NIR time unit is one step, the image is fed every step, the readout integrates) in ``docs/nir.md``.
"""

from __future__ import annotations

import json
import pathlib

import keras
import numpy as np

from spkeras.errors import NIRConversionError
from spkeras.io import atomic_output, refuse_existing
from spkeras.network import spiking_network
from spkeras.nir import layout
from spkeras.nir.common import Refused, Tensor, require_nir
from spkeras.nir.export_layers import EXPORTERS, check_channels_last, refuse_unmapped
from spkeras.version import __version__

READOUTS = ("integrator", "current")


class Exporter:
    """Walks a :class:`~spkeras.network.SpikingNetwork` once and collects NIR nodes and edges."""

    def __init__(self, nir, snn, network, readout: str):
        self.nir, self.snn, self.network, self.readout = nir, snn, network, readout
        self.output_activation = None  # set by a Readout layer: applied to the decoded output (spkeras.predict)
        self.nodes: dict = {}
        self.edges: list[tuple[str, str]] = []
        self.tensors: dict[int, Tensor] = {}
        self.problems: list[tuple[str, str, str]] = []

    def add(self, name: str, node, sources) -> str:
        """Adds ``node`` under a unique name with an edge from every source; returns the name."""
        unique, counter = name, 1
        while unique in self.nodes:
            counter += 1
            unique = f"{name}_{counter}"
        self.nodes[unique] = node
        self.edges.extend((source, unique) for source in sources)
        return unique

    def single_reader(self, position: int) -> bool:
        return len(self.network.nodes[position].readers) == 1

    def run(self):
        for position, node in enumerate(self.network.nodes):
            inputs = [self.tensors[i] for i in node.inputs]
            try:
                if any(t.padding is not None for t in inputs) and not isinstance(
                    node.layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)
                ):
                    raise Refused(
                        "it reads a ZeroPadding2D output; NIR has no padding node, so zero padding is "
                        "only exported in front of a Conv2D (as the convolution's padding)."
                    )
                if any(t.parts for t in inputs) and type(node.layer) not in (keras.layers.Conv2D, keras.layers.Dense):
                    raise Refused("it reads a Concatenate output; NIR has no concatenation node.")
                self.tensors[position] = self.layer(position, node, inputs)
            except Refused as refusal:
                layer = node.layer
                self.problems.append((layer.name, type(layer).__name__, refusal.reason))
                # a stand-in of the right shape, so that the layers after it are checked too
                shape = tuple(int(d) for d in layer.output.shape[1:]) if position else ()
                self.tensors[position] = Tensor((), shape, broken=True)
        output = self.tensors[len(self.network.nodes) - 1]
        if not output.broken and output.parts:
            layer = self.network.nodes[-1].layer
            self.problems.append((layer.name, type(layer).__name__, "a Concatenate output has no NIR form."))
        elif not output.broken and output.perm is not None:
            layer = self.network.nodes[-1].layer
            reason = "the output is a flattened image; NIR would list it in another order than Keras."
            self.problems.append((layer.name, type(layer).__name__, reason))
        if self.problems:
            raise NIRConversionError(self.problems, "export", self.snn.name)
        return self.finish(output)

    def layer(self, position, node, inputs) -> Tensor:
        layer, nir = node.layer, self.nir
        if position == 0:
            shape = tuple(int(d) for d in self.snn.inputs[0].shape[1:])
            if len(shape) not in (1, 3):
                raise Refused(f"only image (H, W, C) or vector inputs are exported. Received: input shape {shape}.")
            name = self.add("input", nir.Input(input_type={"input": np.array(layout.to_nir_shape(shape))}), ())
            return Tensor((name,), shape)
        handler = EXPORTERS.get(type(layer))
        if handler is None:
            raise Refused(refuse_unmapped(layer, node.role))
        check_channels_last(layer)
        return handler(self, position, layer, inputs[0] if inputs else None, inputs)

    def finish(self, output: Tensor):
        nir = self.nir
        shape = np.array(layout.to_nir_shape(output.shape))
        sources = output.sources
        if self.readout == "integrator":
            ones = np.ones(tuple(shape), dtype="float32")
            sources = (self.add("readout", nir.I(r=ones, metadata={"spkeras_role": "readout"}), sources),)
        self.add("output", nir.Output(output_type={"output": shape}), sources)
        metadata = {
            "source": f"spkeras {__version__}",
            "model": self.snn.name,
            "time_step": "one NIR time unit is one spkeras time step (dt = 1, every r = 1)",
            "input": "images in (C, H, W) order, fed unchanged at every step (analog current)",
            "readout": "output = the readout current integrated over steps; prediction at t = argmax"
            if self.readout == "integrator"
            else "output = the readout current of each step; sum it over steps, prediction at t = argmax",
        }
        if self.output_activation is not None:
            metadata["spkeras_output_activation"] = json.dumps(self.output_activation)
        return nir.NIRGraph(nodes=self.nodes, edges=self.edges, metadata=metadata, type_check=True)


def export_nir(snn: keras.Model, path=None, *, readout: str = "integrator", overwrite: bool = True):
    """Writes a converted spiking network as a NIR graph (``nir.NIRGraph``), and to ``path`` if given.

    The graph computes what :func:`spkeras.simulate.evaluate` simulates with the analog input: one NIR time
    unit is one step, the image (channels-first) is the input at every step, and the output is the readout. A
    layer without an exact NIR form is refused (:class:`~spkeras.errors.NIRConversionError` naming every such
    layer and why); nothing is approximated. See ``docs/nir.md`` for the table.

    Args:
        snn: A model from :func:`spkeras.convert` (or :func:`spkeras.nir.import_nir`).
        path: Where to write the graph (``nir.write``, HDF5); written to a temporary file next to it and renamed,
            so an existing file is never left half-written.
        readout: ``"integrator"`` (default): the output node follows an integrator (``nir.I``), so it carries the
            readout summed over steps, whose argmax is spkeras's prediction at every step; ``"current"``: the
            output carries each step's readout current and the consumer sums it.
        overwrite: Whether an existing ``path`` may be replaced (default ``True``, like Keras's ``model.save``);
            ``False`` refuses it with a ``ValueError`` before anything is computed or written.

    Returns:
        The ``nir.NIRGraph``.

    Raises:
        ImportError: If the optional ``nir`` package is missing (``pip install "spkeras[nir]"``).
        NIRConversionError: If a layer cannot be expressed exactly.
    """
    nir = require_nir()
    if readout not in READOUTS:
        raise ValueError(f"`readout` must be one of {READOUTS}. Received: readout={readout!r}.")
    if path is not None:
        refuse_existing(path, overwrite)
    graph = Exporter(nir, snn, spiking_network(snn), readout).run()
    if path is not None:
        path = pathlib.Path(path)
        with atomic_output(path, overwrite=overwrite) as temporary:
            nir.write(temporary, graph)
    return graph
