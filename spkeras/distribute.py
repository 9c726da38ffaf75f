"""Running calibration and simulation under a ``tf.distribute.Strategy`` (multi-GPU, TPU, several CPUs).

Batches are split across the strategy's replicas with ``strategy.experimental_distribute_dataset``; each
replica runs the same compiled function on its share, and the small per-replica results (counts, maxima,
histograms) are combined on the host. Pass ``strategy=`` explicitly or call spkeras under
``with strategy.scope():``.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def resolve_strategy(strategy):
    """Returns the strategy to use: the given one, the one whose scope is active, or None (no distribution).

    Raises:
        TypeError: If ``strategy`` is not a ``tf.distribute.Strategy``.

    Examples:
        >>> resolve_strategy(None) is None
        True
    """
    if strategy is None:
        return tf.distribute.get_strategy() if tf.distribute.has_strategy() else None
    if not isinstance(strategy, tf.distribute.Strategy):
        raise TypeError(f"`strategy` must be a tf.distribute.Strategy. Received: {type(strategy).__name__}.")
    return strategy


def distributed_batches(strategy, arrays: tuple, batch_size: int):
    """Yields ``(batch_index, per-replica batch)`` for NumPy ``arrays`` split in global batches."""
    dataset = tf.data.Dataset.from_tensor_slices(arrays).batch(batch_size)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    dataset = dataset.with_options(options)
    yield from enumerate(strategy.experimental_distribute_dataset(dataset))


def replicated(strategy, function):
    """Compiles ``function`` (a plain Python function of tensors) to run on every replica of ``strategy``.

    Returns:
        A callable taking distributed values (as yielded by :func:`distributed_batches`) and plain tensors, and
        returning the list of each replica's result as NumPy values.
    """

    @tf.function(autograph=False)
    def step(*args):
        return strategy.run(function, args=args)

    def call(*args):
        local = strategy.experimental_local_results(step(*args))
        return [tf.nest.map_structure(lambda value: np.asarray(value), result) for result in local]

    return call
