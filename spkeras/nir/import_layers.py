"""The import dispatch table :data:`IMPORTERS`: one function per NIR primitive for :mod:`spkeras.nir.importer`.

``handler(importer, name, node, value)``: ``value`` is ``(keras tensor, keras shape, perm)`` of the node's input
(see :mod:`spkeras.nir.layout` for ``perm``); each function returns the same triple for the node's output or raises
:class:`~spkeras.nir.common.Refused` with the reason.
"""

from __future__ import annotations

import keras
import numpy as np

from spkeras.layers import ChannelAffine, IntegrateAndFire, SpikingMaxPooling2D
from spkeras.nir import layout
from spkeras.nir.common import Refused, kind, text


def _pair(values) -> tuple[int, int]:
    values = np.atleast_1d(np.asarray(values)).astype(int).tolist()
    return (values[0], values[0]) if len(values) == 1 else (values[0], values[1])


def _set(layer, tensor, *weights):
    output = layer(tensor)
    layer.set_weights([np.asarray(w, dtype="float32") for w in weights])
    return output


def convert_conv2d(importer, name, node, value):
    tensor, shape, _ = value
    if len(shape) != 3:
        raise Refused(f"Conv2d needs an image input. Received shape {shape} (Keras order).")
    weight = np.asarray(node.weight, dtype="float32")
    groups, channels = int(node.groups), shape[-1]
    stride, dilation = _pair(node.stride), _pair(node.dilation)
    if isinstance(node.padding, str):
        odd = all(k % 2 == 1 for k in weight.shape[2:])
        if node.padding == "same" and not (stride == (1, 1) and odd):
            raise Refused("padding='same' is only imported with stride 1 and odd kernels (symmetric padding).")
        padding, keras_padding = (0, 0), node.padding
    else:
        padding, keras_padding = _pair(node.padding), "valid"
    pads = ((padding[0],) * 2, (padding[1],) * 2)
    written = (node.metadata or {}).get("spkeras_padding")  # the exporter's asymmetric padding, if the weight agrees
    original = None if written is None else layout.asymmetric_padding(weight, padding, dilation, np.asarray(written))
    if original is not None:
        weight, pads = original, tuple(tuple(int(p) for p in axis) for axis in np.asarray(written))
    bias = np.asarray(node.bias, dtype="float32")
    square = weight.shape[:2] == (channels, channels) and weight.shape[2:] == (1, 1) and groups == 1
    diagonal = square and np.array_equal(weight[:, :, 0, 0], np.diag(np.diag(weight[:, :, 0, 0])))
    pointwise = diagonal or (weight.shape[1:] == (1, 1, 1) and groups == channels == weight.shape[0])
    if diagonal:
        weight = np.diag(weight[:, :, 0, 0]).reshape(channels, 1, 1, 1)
    if pointwise and padding == (0, 0) and stride == (1, 1):
        layer = ChannelAffine(name=importer.unique(name))
        return _set(layer, tensor, weight.reshape(-1), bias), shape, None
    if any(padding):
        tensor = keras.layers.ZeroPadding2D(pads, name=importer.unique(f"{name}_pad"))(tensor)
    if groups == channels > 1 and weight.shape[1] == 1:  # one group per input channel: a depthwise convolution
        multiplier = weight.shape[0] // channels
        kernel = weight.reshape(channels, multiplier, *weight.shape[2:]).transpose(2, 3, 0, 1)
        layer = keras.layers.DepthwiseConv2D(
            weight.shape[2:],
            strides=stride,
            padding=keras_padding,
            depth_multiplier=multiplier,
            dilation_rate=dilation,
            name=importer.unique(name),
        )
        output = _set(layer, tensor, kernel, bias)
        return output, tuple(int(d) for d in output.shape[1:]), None
    layer = keras.layers.Conv2D(
        weight.shape[0],
        weight.shape[2:],
        strides=stride,
        padding=keras_padding,
        dilation_rate=dilation,
        groups=groups,
        name=importer.unique(name),
    )
    output = _set(layer, tensor, layout.conv_weight_to_keras(weight), bias)
    return output, tuple(int(d) for d in output.shape[1:]), None


def convert_affine(importer, name, node, value, bias=None):
    tensor, shape, perm = value
    if len(shape) != 1:
        raise Refused(f"Affine/Linear needs a vector input (Flatten first). Received shape {shape}.")
    weight = np.asarray(node.weight, dtype="float32")
    bias = np.asarray(node.bias if bias is None else bias, dtype="float32")
    diagonal = weight.shape[0] == weight.shape[1] and np.array_equal(weight, np.diag(np.diag(weight)))
    if diagonal and text(node.metadata.get("spkeras_layer")) == "ChannelAffine":
        layer = ChannelAffine(name=importer.unique(name))
        scale = layout.from_per_neuron(np.diag(weight), 1, perm)
        return _set(layer, tensor, scale, layout.from_per_neuron(bias, 1, perm)), shape, perm
    kernel = weight.T if perm is None else layout.from_per_neuron(weight.T, 1, perm)
    layer = keras.layers.Dense(weight.shape[0], name=importer.unique(name))
    return _set(layer, tensor, kernel, bias), (weight.shape[0],), None


def convert_linear(importer, name, node, value):
    return convert_affine(importer, name, node, value, bias=np.zeros(np.asarray(node.weight).shape[0]))


def _pool_arguments(node, shape):
    if len(shape) != 3:
        raise Refused(f"pooling needs an image input. Received shape {shape}.")
    if any(_pair(node.padding)):
        raise Refused("pooling with padding is not imported (whether padded zeros count is not defined by NIR).")
    return _pair(node.kernel_size), _pair(node.stride)


def convert_avgpool2d(importer, name, node, value):
    tensor, shape, _ = value
    window, stride = _pool_arguments(node, shape)
    if window == stride == tuple(shape[:2]):
        layer = keras.layers.GlobalAveragePooling2D(keepdims=True, name=importer.unique(name))
    else:
        layer = keras.layers.AveragePooling2D(window, stride, name=importer.unique(name))
    output = layer(tensor)
    return output, tuple(int(d) for d in output.shape[1:]), None


def convert_sumpool2d(importer, name, node, value):
    tensor, shape, _ = value
    window, stride = _pool_arguments(node, shape)
    layer = keras.layers.DepthwiseConv2D(window, strides=stride, use_bias=False, name=importer.unique(name))
    output = _set(layer, tensor, np.ones(window + (shape[-1], 1)))
    return output, tuple(int(d) for d in output.shape[1:]), None


def convert_flatten(importer, name, node, value):
    tensor, shape, perm = value
    if len(shape) == 1:
        return value
    rank = len(shape)
    if int(node.start_dim) % rank != 0 or int(node.end_dim) % rank != rank - 1:
        raise Refused(
            f"only a Flatten of the whole sample is imported. Received start_dim={node.start_dim}, "
            f"end_dim={node.end_dim} for a {rank}-D sample."
        )
    output = keras.layers.Flatten(name=importer.unique(name))(tensor)
    return output, (int(np.prod(shape)),), layout.flatten_permutation(shape)


def convert_scale(importer, name, node, value):
    tensor, shape, perm = value
    scale = layout.from_per_neuron(np.asarray(node.scale), len(shape), perm)
    per_channel = layout.channel_values(scale, shape)
    if per_channel is None:
        raise Refused("a Scale that varies within a channel has no spkeras layer (ChannelAffine is per channel).")
    channels = np.broadcast_to(per_channel, (shape[-1],))
    layer = ChannelAffine(name=importer.unique(name))
    return _set(layer, tensor, channels, np.zeros(shape[-1])), shape, perm


def convert_i(importer, name, node, value):
    readers = importer.readers[name]
    if not readers or any(kind(importer.graph.nodes[r]) != "Output" for r in readers):
        raise Refused(
            "an integrator (I) is imported only as the readout in front of the output, or inside the "
            "soft-reset loop I → Threshold → Scale(−θ) → I."
        )
    if not np.all(np.asarray(node.r) == 1):
        raise Refused("a readout integrator with r ≠ 1 is not imported.")
    return value  # spkeras's readout already integrates the output over steps


def _neuron_threshold(values, shape, perm, what):
    per_channel = layout.channel_values(layout.from_per_neuron(values, len(shape), perm), shape)
    if per_channel is None:
        raise Refused(f"its {what} varies within a channel; spkeras thresholds are per layer or per channel.")
    return per_channel if np.ndim(per_channel) == 0 else [float(v) for v in per_channel]


def _spike_value(importer, name, threshold, shape, perm):
    """``"threshold"`` (and takes the Scale node) when the neuron's only reader multiplies its spikes by θ."""
    reset = importer.loops[name][2] if name in importer.loops else None
    readers = [reader for reader in importer.readers[name] if reader != reset]
    if len(readers) == 1 and kind(importer.graph.nodes[readers[0]]) == "Scale":
        scale = layout.from_per_neuron(np.asarray(importer.graph.nodes[readers[0]].scale), len(shape), perm)
        if np.array_equal(scale.astype("float32"), np.broadcast_to(np.asarray(threshold, "float32"), shape)):
            return "threshold", readers[0]
    return "unit", None


def _make_neuron(importer, base, node_name, value, threshold, offset=None, metadata=None, **options):
    tensor, shape, perm = value
    steps = (metadata or {}).get("spkeras_timesteps")  # the closed form's T; the simulation does not use it
    if steps is not None and int(np.asarray(steps)) > 0:
        options["timesteps"] = int(np.asarray(steps))
    spike_value, taken = _spike_value(importer, node_name, threshold, shape, perm)
    calibrated = offset is not None and bool(np.any(offset != 0))
    layer = IntegrateAndFire(
        threshold=threshold,
        spike_value=spike_value,
        calibration_weights={"potential_offset": "neuron_potential"} if calibrated else None,
        name=importer.unique(base),
        **options,
    )
    output = layer(tensor)
    if calibrated:
        layer.potential_offset.assign(offset)
    result = (output, shape, perm)
    if taken:
        importer.tensors[taken] = result
    return result


def convert_if(importer, name, node, value):
    _, shape, perm = value
    if not np.all(np.asarray(node.r) == 1):
        raise Refused("r ≠ 1 is not imported (spkeras integrates the input current unscaled).")
    if np.any(np.asarray(node.v_reset) != 0):
        raise Refused("v_reset ≠ 0 is not imported (spkeras's hard reset sets the potential to 0).")
    threshold = _neuron_threshold(layout.above(node.v_threshold), shape, perm, "v_threshold")
    base = text(node.metadata.get("spkeras_layer")) or name
    return _make_neuron(importer, base, name, value, threshold, metadata=node.metadata, reset="hard")


def convert_threshold(importer, name, node, value):
    if name in importer.max_pools:  # the gate of a spiking max pooling (spkeras.nir.max_pooling)
        settings, base = importer.max_pools[name][3], text(node.metadata.get("spkeras_layer")) or name
        output = SpikingMaxPooling2D(**settings, name=importer.unique(base))(value[0])
        return output, tuple(int(d) for d in output.shape[1:]), None
    if name not in importer.loops:
        raise Refused("a Threshold is imported only inside the soft-reset loop I → Threshold → Scale(−θ) → I.")
    integrator_name, _, reset_name = importer.loops[name]
    integrator, reset = importer.graph.nodes[integrator_name], importer.graph.nodes[reset_name]
    _, shape, perm = value
    if not np.all(np.asarray(integrator.r) == 1):
        raise Refused(f"its integrator '{integrator_name}' has r ≠ 1 (spkeras integrates the current unscaled).")
    theta = -np.asarray(reset.scale, dtype="float32")
    if np.any(theta <= 0):
        raise Refused(f"its reset '{reset_name}' must subtract a positive θ (Scale < 0).")
    threshold = _neuron_threshold(theta, shape, perm, "reset amount θ")
    fire_at = layout.above(node.threshold)  # NIR fires at v > t, spkeras at V >= θ
    start = layout.from_per_neuron(theta.astype("float64") - fire_at, len(shape), perm)
    v_init = _v_init(integrator.metadata, theta, node.threshold, start, threshold, shape)
    theta_keras = np.broadcast_to(np.asarray(threshold, "float32"), shape)
    offset = (start - np.float32(v_init) * theta_keras).astype("float32")
    base = text(integrator.metadata.get("spkeras_layer")) or name
    return _make_neuron(
        importer, base, name, value, threshold, offset=offset, metadata=integrator.metadata, reset="soft", v_init=v_init
    )


def _v_init(metadata, theta, threshold, start, keras_threshold, shape) -> float:
    """v_init from the exporter's metadata when it reproduces the graph's thresholds exactly, else from them."""
    hint = metadata.get("spkeras_v_init")
    if hint is not None:
        v_init = float(np.asarray(hint))
        if 0 <= v_init < 1:
            expected = layout.below((theta - np.float32(v_init) * theta).astype("float32"))
            if np.array_equal(expected, np.asarray(threshold, dtype="float32")):
                return v_init
    fraction = start / np.broadcast_to(np.asarray(keras_threshold, "float64"), shape)
    if np.all(fraction == fraction.reshape(-1)[0]) and 0 <= fraction.reshape(-1)[0] < 1:
        return float(fraction.reshape(-1)[0])
    return 0.0


#: NIR primitive name → import function (the soft-reset loop's ``I`` and ``Scale`` are taken by its ``Threshold``).
IMPORTERS = {
    "Conv2d": convert_conv2d,
    "Affine": convert_affine,
    "Linear": convert_linear,
    "AvgPool2d": convert_avgpool2d,
    "SumPool2d": convert_sumpool2d,
    "Flatten": convert_flatten,
    "Scale": convert_scale,
    "I": convert_i,
    "IF": convert_if,
    "Threshold": convert_threshold,
}
