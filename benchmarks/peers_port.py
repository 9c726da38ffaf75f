"""The weight-for-weight PyTorch port of a Keras model for benchmarks/peers.py, and its check; not a script."""

from __future__ import annotations

import numpy as np

try:  # optional: everything below that needs torch is only called after peers_missing() said it is there
    import torch
    from torch import nn
except ImportError:
    torch = nn = None

PORT_TOLERANCE = 1e-4


def port_to_torch(model):
    """A PyTorch module computing the same logits as the Keras ``model`` (inputs NCHW).

    Supported layers: Conv2D (valid/same padding with symmetric or TensorFlow-style asymmetric padding, strides,
    linear/ReLU activation), BatchNormalization (folded into the Conv2D/Dense feeding only it; otherwise an exact
    ``BatchNorm2d``), ReLU, AveragePooling2D, MaxPooling2D, GlobalAveragePooling2D, Flatten, Dense, Dropout, Add.
    """
    import keras

    layers = keras.layers
    consumers: dict[str, list[str]] = {}
    for layer in model.layers:
        for parent in _parents(layer):
            consumers.setdefault(parent, []).append(layer.name)
    folded_into: dict[str, object] = {}  # conv/dense name -> the BN folded into it
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            (parent,) = _parents(layer)
            source = model.get_layer(parent)
            if isinstance(source, (layers.Conv2D, layers.Dense)) and consumers[parent] == [layer.name]:
                if source.activation is keras.activations.linear:
                    folded_into[parent] = layer
    steps, modules = [], nn.ModuleDict()
    for layer in model.layers:
        parents = _parents(layer)
        if isinstance(layer, layers.InputLayer):
            continue
        if isinstance(layer, layers.BatchNormalization) and parents[0] in folded_into:
            steps.append((layer.name, parents, None))  # an alias of its (folded) parent
            continue
        module = _torch_layer(layer, folded_into.get(layer.name), model, layers, keras)
        key = f"m{len(modules)}"
        modules[key] = module
        steps.append((layer.name, parents, key))
    return _Port(steps, modules, model.inputs[0]._keras_history.operation.name)


def _parents(layer) -> list[str]:
    node = layer._inbound_nodes[0]
    return [tensor._keras_history.operation.name for tensor in node.input_tensors]


def _torch_layer(layer, batch_norm, model, layers, keras):
    if isinstance(layer, (layers.Conv2D, layers.Dense)):
        kernel = np.asarray(keras.ops.convert_to_numpy(layer.kernel), dtype="float64")
        bias = (
            np.asarray(keras.ops.convert_to_numpy(layer.bias), dtype="float64")
            if layer.use_bias
            else np.zeros(kernel.shape[-1])
        )
        if batch_norm is not None:
            scale, shift = _batch_norm_affine(batch_norm, keras)
            kernel, bias = kernel * scale, bias * scale + shift
        if isinstance(layer, layers.Conv2D):
            if layer.groups != 1 or tuple(layer.dilation_rate) != (1, 1):
                raise NotImplementedError(f"{layer.name}: grouped or dilated convolutions are not ported")
            height, width = kernel.shape[:2]
            conv = nn.Conv2d(kernel.shape[2], kernel.shape[3], (height, width), stride=tuple(layer.strides))
            conv.weight.data = torch.tensor(kernel.transpose(3, 2, 0, 1), dtype=torch.float32)
            conv.bias.data = torch.tensor(bias, dtype=torch.float32)
            body = conv
            if layer.padding == "same":
                input_size = layer.input.shape[1:3]
                pads = [_same_padding(int(n), k, s) for n, k, s in zip(input_size, (height, width), layer.strides)]
                (top, bottom), (left, right) = pads
                conv.padding = (top, left)
                if (bottom, right) != (top, left):  # TensorFlow pads one more at the end
                    body = nn.Sequential(_PadEnd(bottom - top, right - left), conv)
        else:
            source = model.get_layer(_parents(layer)[0])
            if isinstance(source, layers.Flatten) and len(source.input.shape) == 4:
                # Keras flattens (H, W, C); the port flattens NCHW as (C, H, W).
                _, h, w, c = source.input.shape
                kernel = kernel.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(h * w * c, -1)
            body = nn.Linear(kernel.shape[0], kernel.shape[1])
            body.weight.data = torch.tensor(kernel.T.copy(), dtype=torch.float32)
            body.bias.data = torch.tensor(bias, dtype=torch.float32)
        activation = layer.activation
        if activation is keras.activations.linear:
            return body
        if activation is keras.activations.relu:
            return nn.Sequential(body, nn.ReLU())
        raise NotImplementedError(f"{layer.name}: activation {activation.__name__} is not ported")
    if isinstance(layer, layers.BatchNormalization):
        scale, shift = _batch_norm_affine(layer, keras)
        module = nn.BatchNorm2d(len(scale), eps=0.0, affine=True)
        module.weight.data = torch.tensor(scale, dtype=torch.float32)
        module.bias.data = torch.tensor(shift, dtype=torch.float32)
        return module.eval()
    if isinstance(layer, layers.ReLU):
        if layer.max_value is not None or float(layer.negative_slope) != 0 or float(layer.threshold) != 0:
            raise NotImplementedError(f"{layer.name}: only plain ReLU is ported")
        return nn.ReLU()
    if isinstance(layer, layers.Activation) and layer.activation is keras.activations.relu:
        return nn.ReLU()
    if isinstance(layer, (layers.AveragePooling2D, layers.MaxPooling2D)):
        if layer.padding != "valid":
            raise NotImplementedError(f"{layer.name}: only valid pooling is ported")
        kind = nn.AvgPool2d if isinstance(layer, layers.AveragePooling2D) else nn.MaxPool2d
        return kind(tuple(layer.pool_size), tuple(layer.strides))
    if isinstance(layer, layers.GlobalAveragePooling2D):
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
    if isinstance(layer, layers.Flatten):
        return nn.Flatten()
    if isinstance(layer, layers.Dropout):
        return nn.Identity()
    if isinstance(layer, layers.Add):
        return _Add()
    raise NotImplementedError(f"{layer.name}: {type(layer).__name__} is not ported")


def _batch_norm_affine(layer, keras):
    """BatchNormalization (inference) as ``x * scale + shift``, in float64."""

    def get(name, default):
        value = getattr(layer, name, None)
        return default if value is None else np.asarray(keras.ops.convert_to_numpy(value), dtype="float64")

    mean, variance = get("moving_mean", None), get("moving_variance", None)
    gamma, beta = get("gamma", np.ones_like(mean)), get("beta", np.zeros_like(mean))
    scale = gamma / np.sqrt(variance + layer.epsilon)
    return scale, beta - mean * scale


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's "same" padding (more at the end when odd)."""
    output = -(-size // stride)
    total = max((output - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


if nn is not None:

    class _PadEnd(nn.Module):
        """One zero row / column after the input (with cat and slicing, which spikingjelly's step-mode adapter
        accepts; it refuses nn.ZeroPad2d)."""

        def __init__(self, rows, columns):
            super().__init__()
            self.rows, self.columns = rows, columns

        def forward(self, x):
            if self.rows:
                x = torch.cat([x, x[:, :, -1:] * 0.0], 2)
            if self.columns:
                x = torch.cat([x, x[:, :, :, -1:] * 0.0], 3)
            return x

    class _Add(nn.Module):
        def forward(self, *inputs):
            total = inputs[0]
            for value in inputs[1:]:
                total = total + value
            return total

    class _Port(nn.Module):
        """Runs the ported layers in the Keras model's (topological) order; FX-traceable."""

        def __init__(self, steps, modules, input_name):
            super().__init__()
            self.steps = steps
            self.layers = modules
            self.input_name = input_name

        def forward(self, x):
            values = {self.input_name: x}
            for name, parents, key in self.steps:
                inputs = [values[parent] for parent in parents]
                values[name] = inputs[0] if key is None else self.layers[key](*inputs)
            return values[self.steps[-1][0]]


def verify_port(model, port, images, tolerance=PORT_TOLERANCE) -> float:
    """Largest |Keras logit − PyTorch logit| on ``images``; raises if above ``tolerance``."""
    expected = np.asarray(model(images, training=False))
    with torch.inference_mode():
        actual = port.eval()(torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))).numpy()
    error = float(np.max(np.abs(expected - actual)))
    if not error <= tolerance:
        raise AssertionError(f"the PyTorch port differs from the Keras model by {error:.3g} > {tolerance}")
    return error
