"""Input encodings: how an image becomes input current over time steps.

- ``analog`` (direct): the image is a constant input current every step (default; computed once).
- ``poisson``: each step, a pixel of intensity x ∈ [0, 1] spikes with probability x (Bernoulli), from a
  seeded stateless generator, so runs are reproducible.
- ``count``: deterministic rate code: x·T spikes (floored) spread evenly: a spike at step t when
  ``floor(x·t) > floor(x·(t−1))``.
"""

from __future__ import annotations

import tensorflow as tf

ENCODINGS = ("analog", "poisson", "count")


def encode_chunk(x, encoding: str, first_step, chunk_size: int, seed):
    """Returns the input of ``chunk_size`` consecutive steps, shape ``(chunk_size,) + x.shape``.

    Args:
        x: Images, shape ``(batch, ...)``, float.
        encoding: ``"poisson"`` or ``"count"`` (``"analog"`` needs no per-step input).
        first_step: Index (0-based, scalar tensor) of the chunk's first step.
        chunk_size: Number of steps.
        seed: Integer tensor of shape ``(2,)`` seeding the Bernoulli draws (``poisson`` only).

    Examples:
        >>> import tensorflow as tf
        >>> spikes = encode_chunk(tf.constant([[0.5]]), "count", tf.constant(0), 4, tf.constant([0, 0]))
        >>> spikes.numpy().ravel().tolist()
        [0.0, 1.0, 0.0, 1.0]
    """
    steps = tf.cast(first_step, x.dtype) + tf.range(1, chunk_size + 1, dtype=x.dtype)
    steps = tf.reshape(steps, [chunk_size] + [1] * len(x.shape))
    if encoding == "count":
        return tf.floor(x[None] * steps) - tf.floor(x[None] * (steps - 1.0))
    if encoding == "poisson":
        step_seed = tf.stack(
            [tf.cast(seed[0], tf.int64), tf.cast(seed[1], tf.int64) * 1_000_003 + tf.cast(first_step, tf.int64)]
        )
        draws = tf.random.stateless_uniform(
            tf.concat([[chunk_size], tf.shape(x)], axis=0), seed=step_seed, dtype=x.dtype
        )
        return tf.cast(draws < x[None], x.dtype)
    raise ValueError(f"`encoding` must be one of {ENCODINGS}. Received: encoding={encoding!r}.")
