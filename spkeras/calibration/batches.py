"""Streaming calibration data in batches, from NumPy arrays or ``tf.data`` datasets."""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def iterate_batches(data, batch_size: int):
    """Yields float32 batches from a NumPy array or a ``tf.data.Dataset`` (of inputs or (inputs, labels)).

    A dataset is used as it is batched; ``batch_size`` applies to arrays.

    Examples:
        >>> import numpy as np
        >>> [tuple(batch.shape) for batch in iterate_batches(np.zeros((5, 2)), 2)]
        [(2, 2), (2, 2), (1, 2)]
        >>> dataset = tf.data.Dataset.from_tensor_slices((np.zeros((4, 2)), np.zeros(4))).batch(3)
        >>> [tuple(batch.shape) for batch in iterate_batches(dataset, 100)]
        [(3, 2), (1, 2)]
    """
    if isinstance(data, tf.data.Dataset):
        for element in data:
            batch = element[0] if isinstance(element, (tuple, list)) else element
            yield tf.cast(batch, tf.float32)
        return
    for start in range(0, len(data), batch_size):
        yield tf.convert_to_tensor(np.asarray(data[start : start + batch_size], dtype="float32"))


def take_samples(data, samples: int | None, batch_size: int):
    """At most ``samples`` samples of ``data`` (an array slice, or the first batches of a dataset).

    Examples:
        >>> import numpy as np
        >>> take_samples(np.zeros((10, 2)), 4, 100).shape
        (4, 2)
    """
    if samples is None:
        return data
    if isinstance(data, tf.data.Dataset):
        return data.take(-(-samples // batch_size))
    return data[:samples]
