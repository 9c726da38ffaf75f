"""Layout conversions between Keras (channels-last) and NIR (channels-first) tensors and weights.

Keras images are ``(H, W, C)`` and Conv2D kernels ``(kh, kw, C_in/groups, C_out)``; NIR images are ``(C, H, W)``
and Conv2d weights ``(C_out, C_in/groups, kh, kw)``, like PyTorch. A flattened image therefore lists its values
in a different order: a *permutation* ``perm`` says that position ``i`` of the NIR vector holds position
``perm[i]`` of the Keras vector. Dense weights and per-feature parameters are reordered with it.

Thresholds: spkeras fires at ``V ≥ θ``, NIR's ``IF`` and ``Threshold`` at ``v > θ``. For float32 potentials
``V ≥ θ`` is the same test as ``V > below(θ)``, the largest float32 below θ, so thresholds are written as
:func:`below` and read back with :func:`above`.
"""

from __future__ import annotations

import numpy as np


def below(values) -> np.ndarray:
    """The largest float32 below each value (``V ≥ θ`` ⟺ ``V > below(θ)`` for float32 ``V``).

    Examples:
        >>> float(below(1.0)) < 1.0, float(above(below(1.0)))
        (True, 1.0)
        >>> float(above(below(0.75)))
        0.75
    """
    values = np.asarray(values, dtype="float32")
    return np.nextafter(values, np.float32(-np.inf)).astype("float32")


def above(values) -> np.ndarray:
    """The smallest float32 above each value (the inverse of :func:`below`)."""
    values = np.asarray(values, dtype="float32")
    return np.nextafter(values, np.float32(np.inf)).astype("float32")


def to_nir_shape(shape) -> tuple[int, ...]:
    """A per-sample Keras shape in NIR order: ``(H, W, C)`` → ``(C, H, W)``; vectors unchanged.

    Examples:
        >>> to_nir_shape((5, 7, 3)), to_nir_shape((10,))
        ((3, 5, 7), (10,))
    """
    shape = tuple(int(d) for d in shape)
    return (shape[-1],) + shape[:-1] if len(shape) == 3 else shape


def to_keras_shape(shape) -> tuple[int, ...]:
    """A per-sample NIR shape in Keras order: ``(C, H, W)`` → ``(H, W, C)``; vectors unchanged."""
    shape = tuple(int(d) for d in shape)
    return shape[1:] + (shape[0],) if len(shape) == 3 else shape


def flatten_permutation(keras_shape) -> np.ndarray:
    """``perm`` with ``nir_flat[i] = keras_flat[perm[i]]`` for an image of Keras shape ``(H, W, C)``.

    Examples:
        >>> flatten_permutation((1, 2, 3)).tolist()  # NIR lists channel 0 of both pixels first
        [0, 3, 1, 4, 2, 5]
    """
    height, width, channels = (int(d) for d in keras_shape)
    return np.arange(height * width * channels).reshape(height, width, channels).transpose(2, 0, 1).reshape(-1)


def conv_weight_to_nir(kernel) -> np.ndarray:
    """Keras Conv2D kernel ``(kh, kw, C_in/g, C_out)`` → NIR weight ``(C_out, C_in/g, kh, kw)``."""
    return np.ascontiguousarray(np.transpose(np.asarray(kernel), (3, 2, 0, 1)))


def conv_weight_to_keras(weight) -> np.ndarray:
    """NIR Conv2d weight ``(C_out, C_in/g, kh, kw)`` → Keras kernel ``(kh, kw, C_in/g, C_out)``."""
    return np.ascontiguousarray(np.transpose(np.asarray(weight), (2, 3, 1, 0)))


def per_neuron(values, keras_shape, perm=None) -> np.ndarray:
    """A scalar or per-channel (last Keras axis) parameter as one value per neuron, in NIR order.

    Args:
        values: A scalar, one value per channel, or one value per neuron in Keras order.
        keras_shape: The per-sample Keras shape of the neurons.
        perm: The NIR order of a vector (from :func:`flatten_permutation`), ``None`` for the natural order.

    Examples:
        >>> per_neuron([1.0, 2.0], (1, 2, 2))[:, 0, :].tolist()  # (C, H, W): channel 0, then channel 1
        [[1.0, 1.0], [2.0, 2.0]]
    """
    full = np.broadcast_to(np.asarray(values, dtype="float64"), tuple(keras_shape)).astype("float64")
    if full.ndim == 3:
        return np.ascontiguousarray(np.transpose(full, (2, 0, 1)))
    return full[perm] if perm is not None else full


def from_per_neuron(values, keras_rank: int, perm=None) -> np.ndarray:
    """The inverse of :func:`per_neuron` for a full per-neuron array in NIR order."""
    values = np.asarray(values, dtype="float64")
    if keras_rank == 3:
        return np.ascontiguousarray(np.transpose(values, (1, 2, 0)))
    if perm is None:
        return values
    restored = np.empty_like(values)
    restored[perm] = values
    return restored


def same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """Keras/TensorFlow ``padding="same"``: (before, after) zeros along one axis (after ≥ before).

    Examples:
        >>> same_padding(7, 3, 1, 1), same_padding(8, 3, 2, 1)
        ((1, 1), (0, 1))
    """
    effective = (kernel - 1) * dilation + 1
    outputs = -(-size // stride)
    total = max((outputs - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def symmetric_padding(kernel, padding, dilation):
    """An exact equivalent of a convolution's asymmetric zero padding with equal padding on both sides.

    Padding ``(b, a)`` along an axis with ``a > b`` equals padding ``a`` on both sides with ``(a − b) / d`` zero taps
    added at the *start* of the kernel along that axis (``d``: the dilation); ``b > a`` adds them at the end. The
    output keeps its size, and every output sums the same inputs with the same weights (plus exact zeros). Keras's
    ``padding="same"`` with stride 2 on an even input pads ``(0, 1)``: a 3×3 kernel becomes 4×4 with a zero
    first row and column, padding 1.

    Args:
        kernel: A Keras kernel ``(kh, kw, ...)``.
        padding: ``((top, bottom), (left, right))``.
        dilation: ``(dh, dw)``.

    Returns:
        ``(kernel, (ph, pw))``, or ``None`` when a difference is not a multiple of the dilation.

    Examples:
        >>> kernel, pads = symmetric_padding(np.ones((3, 3, 1, 1)), ((0, 1), (0, 1)), (1, 1))
        >>> kernel[:, :, 0, 0].astype(int).tolist(), pads
        ([[0, 0, 0, 0], [0, 1, 1, 1], [0, 1, 1, 1], [0, 1, 1, 1]], (1, 1))
    """
    kernel = np.asarray(kernel)
    for axis in (0, 1):
        before, after = (int(p) for p in padding[axis])
        taps, remainder = divmod(abs(after - before), int(dilation[axis]))
        if remainder:
            return None
        widths = [(0, 0)] * kernel.ndim
        widths[axis] = (taps, 0) if after > before else (0, taps)
        kernel = np.pad(kernel, widths)
    return kernel, tuple(max(int(p) for p in padding[axis]) for axis in (0, 1))


def asymmetric_padding(weight, padding, dilation, target):
    """The inverse of :func:`symmetric_padding` for a NIR weight ``(C_out, C_in/g, kh, kw)``: drops the zero taps
    that stand for ``target`` ``((top, bottom), (left, right))``; ``None`` when the weight does not confirm it.

    Examples:
        >>> weight = np.pad(np.ones((1, 1, 3, 3)), ((0, 0), (0, 0), (1, 0), (1, 0)))
        >>> asymmetric_padding(weight, (1, 1), (1, 1), ((0, 1), (0, 1))).shape
        (1, 1, 3, 3)
    """
    weight = np.asarray(weight)
    for axis in (0, 1):
        before, after = (int(p) for p in target[axis])
        pad, step = int(padding[axis]), int(dilation[axis])
        taps, remainder = divmod(abs(after - before), step)
        if remainder or max(before, after) != pad or taps >= weight.shape[2 + axis]:
            return None
        cut = slice(0, taps) if after > before else slice(weight.shape[2 + axis] - taps, None)
        keep = slice(taps, None) if after > before else slice(0, weight.shape[2 + axis] - taps)
        index = [slice(None)] * 4
        index[2 + axis] = cut
        if np.any(weight[tuple(index)] != 0):
            return None
        index[2 + axis] = keep
        weight = weight[tuple(index)]
    return weight


def channel_values(values, keras_shape):
    """A per-neuron parameter (Keras order) as a scalar or one value per channel, or ``None`` when it varies
    otherwise (spkeras thresholds are per layer or per channel)."""
    values = np.asarray(values, dtype="float64").reshape(tuple(keras_shape))
    flat = values.reshape(-1, values.shape[-1]) if values.ndim > 1 else values.reshape(1, -1)
    if not np.all(flat == flat[0]):
        return None
    per_channel = flat[0]
    return float(per_channel[0]) if np.all(per_channel == per_channel[0]) else per_channel
