"""Streaming inputs in batches, from NumPy arrays (or memory-mapped files) and ``tf.data`` datasets.

The one batching helper of spkeras: calibration, simulation and the closed form all read their data through
:func:`iterate_batches`, and :func:`take_samples` cuts any of these sources to its first samples.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def _inputs_of(element):
    """The inputs of a dataset element (inputs alone, or ``(inputs, labels, ...)``)."""
    return element[0] if isinstance(element, (tuple, list)) else element


def iterate_batches(data, batch_size: int, *, with_start: bool = False):
    """Yields float32 batches from a NumPy array or a ``tf.data.Dataset`` (of inputs or ``(inputs, labels)``).

    A dataset is used as it is batched (its labels are dropped); ``batch_size`` applies to arrays, of which only
    the rows of the current batch are read (a memory-mapped file stays on disk).

    Args:
        data: A NumPy array (or array-like supporting slicing) or a batched ``tf.data.Dataset``.
        batch_size: Rows per batch of an array.
        with_start: Yield ``(start, batch)``, where ``start`` is the index of the batch's first sample.

    Examples:
        >>> import numpy as np
        >>> [tuple(batch.shape) for batch in iterate_batches(np.zeros((5, 2)), 2)]
        [(2, 2), (2, 2), (1, 2)]
        >>> dataset = tf.data.Dataset.from_tensor_slices((np.zeros((4, 2)), np.zeros(4))).batch(3)
        >>> [(start, tuple(batch.shape)) for start, batch in iterate_batches(dataset, 100, with_start=True)]
        [(0, (3, 2)), (3, (1, 2))]
    """
    start = 0
    if isinstance(data, tf.data.Dataset):
        batches = (tf.cast(_inputs_of(element), tf.float32) for element in data)
    else:
        batches = (
            tf.convert_to_tensor(np.asarray(data[first : first + batch_size], dtype="float32"))
            for first in range(0, len(data), batch_size)
        )
    for batch in batches:
        yield (start, batch) if with_start else batch
        start += int(batch.shape[0])


def take_samples(data, samples: int | None):
    """At most ``samples`` samples of ``data``: an array slice, or a dataset cut after its first ``samples``.

    A dataset keeps its own batching: whole batches while they fit, then the part of the next batch that
    completes ``samples`` (its batch size may differ from any ``batch_size`` argument elsewhere).

    Examples:
        >>> import numpy as np
        >>> take_samples(np.zeros((10, 2)), 4).shape
        (4, 2)
        >>> dataset = tf.data.Dataset.from_tensor_slices(np.zeros((10, 2))).batch(3)
        >>> [int(batch.shape[0]) for batch in take_samples(dataset, 7)]
        [3, 3, 1]
    """
    if samples is None:
        return data
    if not isinstance(data, tf.data.Dataset):
        return data[:samples]
    limit = tf.constant(int(samples), tf.int64)

    def cut(seen, element):
        size = tf.shape(tf.nest.flatten(element)[0], out_type=tf.int64)[0]
        keep = tf.clip_by_value(limit - seen, 0, size)
        return seen + size, (seen, tf.nest.map_structure(lambda tensor: tensor[:keep], element))

    cut_data = data.scan(tf.constant(0, tf.int64), cut).take_while(lambda seen, _: seen < limit)
    return cut_data.map(lambda _, element: element)
