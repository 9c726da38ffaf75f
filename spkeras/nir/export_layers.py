"""The export dispatch table :data:`EXPORTERS`: one function per Keras layer type for :mod:`spkeras.nir.export`.

``handler(exporter, position, layer, source, inputs)`` adds the layer's NIR nodes and returns the
:class:`~spkeras.nir.common.Tensor` of its output, or raises :class:`~spkeras.nir.common.Refused` with the reason.
Types are looked up exactly (a subclass may compute something else); a layer whose type is not in the table is
refused with :func:`refuse_unmapped`'s reason.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from spkeras.layers import ChannelAffine, IntegrateAndFire, Readout, SpikingMaxPooling1D, SpikingMaxPooling2D
from spkeras.nir import layout
from spkeras.nir.common import Refused, Tensor
from spkeras.nir.max_pooling import export_max_pooling, refuse_max_pooling_1d
from spkeras.nir.neurons import export_neuron, refuse_neuron_class


def _array(value) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(value), dtype="float32")


def _output_shape(layer) -> tuple[int, ...]:
    return tuple(int(d) for d in layer.output.shape[1:])


def _check_linear_activation(layer) -> None:
    activation = getattr(layer, "activation", None)
    if activation is not None and activation is not keras.activations.linear:
        raise Refused(
            f"its activation {getattr(activation, '__name__', activation)!r} is not exported; SNN layers "
            "are linear (spiking layers replace the activations)."
        )


def _conv2d(exporter, position, layer, source, inputs):
    _check_linear_activation(layer)
    kernel = _array(layer.kernel)
    groups = int(getattr(layer, "groups", 1))
    if isinstance(layer, keras.layers.DepthwiseConv2D):  # (kh, kw, C, M): output c·M + m reads channel c only
        height_, width_, channels_, multiplier = kernel.shape
        kernel = kernel.reshape(height_, width_, 1, channels_ * multiplier)
        groups = channels_
    bias = _array(layer.bias) if layer.use_bias else np.zeros(kernel.shape[-1], "float32")
    padding = source.padding or ((0, 0), (0, 0))
    height = source.shape[0] - sum(padding[0])
    width = source.shape[1] - sum(padding[1])
    if layer.padding == "same":
        padded = (source.shape[0], source.shape[1])
        extra = [
            layout.same_padding(padded[i], kernel.shape[i], layer.strides[i], layer.dilation_rate[i]) for i in (0, 1)
        ]
        padding = tuple((padding[i][0] + extra[i][0], padding[i][1] + extra[i][1]) for i in (0, 1))
    metadata = {}
    if any(before != after for before, after in padding):  # e.g. padding="same" with stride 2 on an even input
        symmetric = layout.symmetric_padding(kernel, padding, layer.dilation_rate)
        if symmetric is None:
            raise Refused(
                f"its zero padding {padding} ((top, bottom), (left, right)) is not symmetric and the difference "
                f"is not a multiple of the dilation {tuple(layer.dilation_rate)}; NIR's Conv2d pads both sides equally."
            )
        metadata = {"spkeras_padding": np.array(padding, dtype="int64")}  # lets import_nir restore the kernel
        kernel, pads = symmetric
        padding = tuple((p, p) for p in pads)
    if source.parts and groups != 1:
        raise Refused("a grouped convolution after a Concatenate is not exported (its groups would be split).")
    size = [  # nir 1.0.8 infers Conv2d shapes from the kernel height alone (wrong for kh != kw): set the true ones
        (n + 2 * p[0] - d * (k - 1) - 1) // s + 1
        for n, p, d, k, s in zip((height, width), padding, layer.dilation_rate, kernel.shape[:2], layer.strides)
    ]
    # After a Concatenate, one convolution per concatenated part (its input channels), the bias on the first.
    parts, names, first = source.parts or ((source, kernel.shape[2] * groups),), [], 0
    for index, (part, channels) in enumerate(parts):
        conv = exporter.nir.Conv2d(
            input_shape=(height, width),
            weight=layout.conv_weight_to_nir(kernel[:, :, first : first + channels] if source.parts else kernel),
            stride=tuple(int(s) for s in layer.strides),
            padding=(int(padding[0][0]), int(padding[1][0])),
            dilation=tuple(int(d) for d in layer.dilation_rate),
            groups=groups,
            bias=bias if index == 0 else np.zeros_like(bias),
            metadata=dict(metadata),
        )
        conv.output_type = {"output": np.array([kernel.shape[-1], *size])}
        conv.input_type = {"input": np.array([channels, height, width])}  # also mis-inferred for groups > 1
        _check_shape(layer, conv.output_type["output"])
        names.append(exporter.add(layer.name if index == 0 else f"{layer.name}.part{index}", conv, part.sources))
        first += channels
    target = names[0] if exporter.single_reader(position) else None
    return Tensor(tuple(names), _output_shape(layer), bias_target=target)


def _check_shape(layer, nir_shape) -> None:
    if tuple(int(d) for d in nir_shape) != layout.to_nir_shape(_output_shape(layer)):
        raise Refused(
            f"NIR computes an output of shape {tuple(nir_shape)} (C, H, W) but Keras {_output_shape(layer)} (H, W, C)."
        )


def _dense(exporter, position, layer, source, inputs):
    _check_linear_activation(layer)
    if len(source.shape) != 1:
        raise Refused(f"Dense is exported on vectors only (Flatten first). Received input shape {source.shape}.")
    kernel = _array(layer.kernel)
    bias = _array(layer.bias) if layer.use_bias else np.zeros(kernel.shape[-1], "float32")
    parts, names, first = source.parts or ((source, kernel.shape[0]),), [], 0
    for index, (part, features) in enumerate(parts):  # one Affine per concatenated part, the bias on the first
        rows = kernel[first : first + features]
        weight = (rows[part.perm] if part.perm is not None else rows).T
        affine = exporter.nir.Affine(weight=np.ascontiguousarray(weight), bias=bias if index == 0 else 0 * bias)
        names.append(exporter.add(layer.name if index == 0 else f"{layer.name}.part{index}", affine, part.sources))
        first += features
    target = names[0] if exporter.single_reader(position) else None
    return Tensor(tuple(names), _output_shape(layer), bias_target=target)


def _concatenate(exporter, position, layer, source, inputs):
    rank = len(inputs[0].shape)
    if layer.axis not in (-1, rank):
        raise Refused(f"only concatenation along the channel axis is exported. Received: axis={layer.axis}.")
    readers = [exporter.network.nodes[r].layer for r in exporter.network.nodes[position].readers]
    if not readers or not all(type(r) in (keras.layers.Conv2D, keras.layers.Dense) for r in readers):
        raise Refused(
            "NIR has no concatenation node; a Concatenate is exported only when Conv2D or Dense layers read it "
            "(each then becomes one node per concatenated part, whose outputs add)."
        )
    parts = tuple(part for tensor in inputs for part in (tensor.parts or ((tensor, tensor.shape[-1]),)))
    return Tensor((), _output_shape(layer), parts=parts)


def _pool(exporter, name, source, window, strides):
    pool = exporter.nir.AvgPool2d(
        kernel_size=np.array(window, dtype="int64"),
        stride=np.array(strides, dtype="int64"),
        padding=np.zeros(2, "int64"),
    )
    return exporter.add(name, pool, source.sources)


def _average_pooling(exporter, position, layer, source, inputs):
    window, strides = tuple(layer.pool_size), tuple(layer.strides)
    if layer.padding == "same" and any(
        layout.same_padding(source.shape[i], window[i], strides[i], 1) != (0, 0) for i in (0, 1)
    ):
        raise Refused(
            "padding='same' average pooling averages over fewer values at the border; NIR's pooling "
            "has no such mode. Use padding='valid'."
        )
    name = _pool(exporter, layer.name, source, window, strides)
    target = source.bias_target if exporter.single_reader(position) else None
    return Tensor((name,), _output_shape(layer), bias_target=target)


def _global_average_pooling(exporter, position, layer, source, inputs):
    height, width, channels = source.shape
    name = _pool(exporter, layer.name, source, (height, width), (height, width))
    if not layer.keepdims:
        flatten = exporter.nir.Flatten(input_type={"input": np.array((channels, 1, 1))}, start_dim=0, end_dim=-1)
        name = exporter.add(f"{layer.name}.flatten", flatten, (name,))
    target = source.bias_target if exporter.single_reader(position) else None
    return Tensor((name,), _output_shape(layer), bias_target=target)


def _flatten(exporter, position, layer, source, inputs):
    if len(source.shape) == 1:
        return dataclasses.replace(source, bias_target=None)
    if len(source.shape) != 3:
        raise Refused(f"only images (H, W, C) are flattened in NIR. Received input shape {source.shape}.")
    nir_shape = np.array(layout.to_nir_shape(source.shape))
    name = exporter.add(
        layer.name, exporter.nir.Flatten(input_type={"input": nir_shape}, start_dim=0, end_dim=-1), source.sources
    )
    return Tensor((name,), _output_shape(layer), perm=layout.flatten_permutation(source.shape))


def _zero_padding(exporter, position, layer, source, inputs):
    if not all(
        isinstance(exporter.network.nodes[r].layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D))
        for r in exporter.network.nodes[position].readers
    ):
        raise Refused("NIR has no padding node; zero padding is only exported in front of a Conv2D.")
    padding = tuple(tuple(int(p) for p in axis) for axis in layer.padding)
    return Tensor(source.sources, _output_shape(layer), padding=padding)


def _channel_affine(exporter, position, layer, source, inputs):
    nir, scale, offset = exporter.nir, _array(layer.scale), _array(layer.offset)
    metadata = {"spkeras_layer": "ChannelAffine"}
    if len(source.shape) == 3:
        channels = source.shape[-1]
        node = nir.Conv2d(
            input_shape=source.shape[:2],
            # a diagonal 1x1 convolution (nir 1.0.8 mis-infers the input type of grouped ones)
            weight=np.diag(scale).reshape(channels, channels, 1, 1),
            stride=1,
            padding=0,
            dilation=1,
            groups=1,
            bias=offset,
            metadata=metadata,
        )
    else:
        order = source.perm if source.perm is not None else np.arange(source.shape[0])
        node = nir.Affine(weight=np.diag(scale[order]), bias=offset[order], metadata=metadata)
    name = exporter.add(layer.name, node, source.sources)
    target = name if exporter.single_reader(position) else None
    return Tensor((name,), _output_shape(layer), perm=source.perm, bias_target=target)


def _add(exporter, position, layer, source, inputs):
    perms = [tensor.perm for tensor in inputs]
    if any((p is None) != (perms[0] is None) or (p is not None and not np.array_equal(p, perms[0])) for p in perms):
        raise Refused("its inputs list their values in different orders (a flattened image and a vector).")
    sources = tuple(name for tensor in inputs for name in tensor.sources)
    if len(set(sources)) != len(sources):
        raise Refused("it adds the same tensor more than once (NIR has one edge per pair of nodes).")
    return Tensor(sources, _output_shape(layer), perm=perms[0])


def _identity(exporter, position, layer, source, inputs):
    return dataclasses.replace(source, bias_target=None)


def _readout(exporter, position, layer, source, inputs):
    """The readout's output activation acts after the simulation: identity in the graph, kept in its metadata."""
    exporter.output_activation = {"activation": layer.activation, "heads": layer.get_config()["heads"]}
    return _identity(exporter, position, layer, source, inputs)


def check_channels_last(layer) -> None:
    """Refuses a layer that is not channels-last (the exporter's layouts assume Keras's default).

    Examples:
        >>> check_channels_last(keras.layers.Conv2D(2, 3))  # channels-last: nothing happens
        >>> try:
        ...     check_channels_last(keras.layers.Conv2D(2, 3, data_format="channels_first"))
        ... except Refused as refusal:
        ...     print(refusal.reason)
        only channels_last layers are exported. Received: data_format='channels_first'.
    """
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise Refused(f"only channels_last layers are exported. Received: data_format={layer.data_format!r}.")


def refuse_unmapped(layer, role: str) -> str:
    """The reason a layer whose type is not in :data:`EXPORTERS` is refused (``role``: its network role).

    Examples:
        >>> refuse_unmapped(keras.layers.Conv1D(2, 3), "synaptic")
        "it has no NIR equivalent in spkeras's exporter."
    """
    if role == "neuron":
        return refuse_neuron_class(layer)
    if role == "temporal":
        return "it carries state across steps without spiking, which no NIR primitive of spkeras's exporter expresses."
    return "it has no NIR equivalent in spkeras's exporter."


#: Keras layer type → export function (exact types).
EXPORTERS = {
    keras.layers.Conv2D: _conv2d,
    keras.layers.DepthwiseConv2D: _conv2d,
    keras.layers.Dense: _dense,
    keras.layers.AveragePooling2D: _average_pooling,
    keras.layers.GlobalAveragePooling2D: _global_average_pooling,
    keras.layers.Flatten: _flatten,
    keras.layers.ZeroPadding2D: _zero_padding,
    keras.layers.Add: _add,
    keras.layers.Concatenate: _concatenate,
    keras.layers.Dropout: _identity,
    keras.layers.Identity: _identity,
    Readout: _readout,
    ChannelAffine: _channel_affine,
    IntegrateAndFire: export_neuron,
    SpikingMaxPooling2D: export_max_pooling,
    SpikingMaxPooling1D: refuse_max_pooling_1d,
}
