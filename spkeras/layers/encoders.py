"""Input encodings: how an input becomes input current over time steps.

- ``analog`` (direct): the image is a constant input current every step (default; computed once).
- ``poisson``: each step, a pixel of intensity x ∈ [0, 1] spikes with probability x (Bernoulli). The draw of a
  pixel at a step depends only on the seed, the sample's index in the whole input, the step and the pixel (a
  counter-based hash, see :func:`uniform_hash`), so a seeded run gives the same spikes for any batch size.
- ``count``: deterministic rate code: x·T spikes (floored) spread evenly: a spike at step t when
  ``floor(x·t) > floor(x·(t−1))``.
- ``events``: the input already is a sequence, one time bin per step (e.g. DVS events binned into frames with
  two polarity channels): inputs have shape ``(N, bins) + input_shape`` and step t receives bin t.
"""

from __future__ import annotations

import tensorflow as tf

ENCODINGS = ("analog", "poisson", "count", "events")

_MULTIPLIERS = (0x7FEB352D, 0x846CA68B)  # the "lowbias32" integer hash (C. Wellons, hash-prospector)
_GOLDEN = 0x9E3779B9


def _mix(value):
    """A bijective 32-bit integer hash with good avalanche (xor-shift-multiply), on ``uint32`` tensors."""
    value = tf.bitwise.bitwise_xor(value, tf.bitwise.right_shift(value, tf.constant(16, tf.uint32)))
    value = value * tf.constant(_MULTIPLIERS[0], tf.uint32)
    value = tf.bitwise.bitwise_xor(value, tf.bitwise.right_shift(value, tf.constant(15, tf.uint32)))
    value = value * tf.constant(_MULTIPLIERS[1], tf.uint32)
    return tf.bitwise.bitwise_xor(value, tf.bitwise.right_shift(value, tf.constant(16, tf.uint32)))


def _to_uint32(value):
    return tf.cast(tf.bitwise.bitwise_and(tf.cast(value, tf.int64), tf.constant(0xFFFFFFFF, tf.int64)), tf.uint32)


def uniform_hash(seed, samples, steps, elements: int):
    """Uniform numbers in [0, 1) that depend only on ``(seed, sample, step, element)``: ``(steps, samples, elements)``.

    A counter-based generator: every number is a hash of its coordinates, so any slice of the input (a batch,
    a chunk of steps) gets the same numbers as the whole. 24 bits of resolution.

    Args:
        seed: Integer scalar tensor.
        samples: Integer tensor ``(B,)``: the index of each sample in the whole input.
        steps: Integer tensor ``(C,)``: the 0-based steps.
        elements: Number of values per sample.

    Examples:
        >>> import tensorflow as tf
        >>> whole = uniform_hash(tf.constant(3), tf.range(4), tf.range(2), 5)
        >>> part = uniform_hash(tf.constant(3), tf.constant([2, 3]), tf.constant([1]), 5)
        >>> bool(tf.reduce_all(whole[1:, 2:] == part))
        True
    """
    key = _mix(_to_uint32(seed) ^ tf.constant(_GOLDEN, tf.uint32))
    key = _mix(key[None] ^ _to_uint32(samples))  # (B,)
    key = _mix(key[None, :] ^ _mix(_to_uint32(steps) + tf.constant(_GOLDEN, tf.uint32))[:, None])  # (C, B)
    index = _mix(_to_uint32(tf.range(elements, dtype=tf.int64)) * tf.constant(_GOLDEN, tf.uint32))
    bits = _mix(key[..., None] ^ index)
    return tf.cast(tf.bitwise.right_shift(bits, tf.constant(8, tf.uint32)), tf.float32) * (1.0 / (1 << 24))


def encode_chunk(x, encoding: str, first_step, chunk_size: int, seed):
    """Returns the input of ``chunk_size`` consecutive steps, shape ``(chunk_size, batch) + input shape``.

    Args:
        x: Inputs, float: ``(batch,) + input shape``, or ``(batch, bins) + input shape`` for ``"events"``.
        encoding: ``"poisson"``, ``"count"`` or ``"events"`` (``"analog"`` needs no per-step input).
        first_step: Index (0-based, scalar tensor) of the chunk's first step.
        chunk_size: Number of steps.
        seed: Integer tensor of shape ``(2,)``: the encoding's seed and the index of the batch's first sample in
            the whole input (``poisson`` only).

    Examples:
        >>> import tensorflow as tf
        >>> spikes = encode_chunk(tf.constant([[0.5]]), "count", tf.constant(0), 4, tf.constant([0, 0]))
        >>> spikes.numpy().ravel().tolist()
        [0.0, 1.0, 0.0, 1.0]
        >>> events = tf.reshape(tf.range(6, dtype=tf.float32), (1, 3, 2))  # one sample, 3 bins of 2 values
        >>> encode_chunk(events, "events", tf.constant(1), 2, tf.constant([0, 0])).numpy().tolist()
        [[[2.0, 3.0]], [[4.0, 5.0]]]
    """
    if encoding == "events":
        steps = tf.cast(first_step, tf.int32) + tf.range(chunk_size, dtype=tf.int32)
        bins = tf.gather(x, steps, axis=1)  # (B, C, ...)
        return tf.transpose(bins, [1, 0] + list(range(2, len(x.shape))))
    steps = tf.cast(first_step, x.dtype) + tf.range(1, chunk_size + 1, dtype=x.dtype)
    steps = tf.reshape(steps, [chunk_size] + [1] * len(x.shape))
    if encoding == "count":
        return tf.floor(x[None] * steps) - tf.floor(x[None] * (steps - 1.0))
    if encoding == "poisson":
        batch = tf.shape(x)[0]
        samples = tf.cast(seed[1], tf.int64) + tf.range(tf.cast(batch, tf.int64))
        step_indices = tf.cast(first_step, tf.int64) + tf.range(chunk_size, dtype=tf.int64)
        elements = 1
        for size in x.shape[1:]:
            elements *= int(size)
        draws = uniform_hash(seed[0], samples, step_indices, elements)
        draws = tf.reshape(tf.cast(draws, x.dtype), tf.concat([[chunk_size], tf.shape(x)], axis=0))
        return tf.cast(draws < x[None], x.dtype)
    raise ValueError(f"`encoding` must be one of {ENCODINGS}. Received: encoding={encoding!r}.")
