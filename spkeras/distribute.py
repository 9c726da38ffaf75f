"""Running calibration and simulation under a ``tf.distribute.Strategy``, with the one-process result.

Under a strategy, data is read in *global* batches of ``batch_size`` rows, in the same order on every worker.
Each global batch is split into contiguous shards, one per replica of the whole cluster (replica ``r`` of ``R``
gets rows ``start + r·n // R`` to ``start + (r+1)·n // R``), and each worker reads only the rows of its own
replicas (a memory-mapped array stays on disk otherwise). Every replica runs the same compiled function on its
shard, and the results are reduced **across all replicas of all workers** inside the step, by the strategy's
collectives (``ReplicaContext.all_reduce`` for sums, ``all_gather`` for maxima and per-sample rows), so every
worker ends the step holding the global result. Sums of counts, maxima and histograms are exact, so every worker
gets the one-process answer bit for bit (``MirroredStrategy``, ``MultiWorkerMirroredStrategy``, ``TPUStrategy``).

The building block is :func:`run_sharded`; a new calibration step needs only a per-shard function and the kind
of reduction of each of its results (``"sum"``, ``"max"`` or ``"rows"``).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

KINDS = ("sum", "max", "rows")


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


def shard_bounds(start: int, stop: int, replica: int, replicas: int) -> tuple[int, int]:
    """Rows ``[begin, end)`` of ``replica`` (of ``replicas``) in the global batch ``[start, stop)``.

    Examples:
        >>> [shard_bounds(100, 105, r, 2) for r in range(2)]
        [(100, 102), (102, 105)]
        >>> [shard_bounds(0, 1, r, 3) for r in range(3)]
        [(0, 0), (0, 0), (0, 1)]
    """
    size = stop - start
    return start + replica * size // replicas, start + (replica + 1) * size // replicas


def _shard_of(array, begin: int, end: int):
    rows = np.asarray(array[begin:end])
    return tf.convert_to_tensor(rows.astype("float32" if np.issubdtype(rows.dtype, np.floating) else "int64"))


def _reduce_across_replicas(kinds, results, rows_per_replica):
    """Reduces a nest of per-replica results across every replica of every worker (call in replica context)."""
    context = tf.distribute.get_replica_context()

    def reduce(kind, value):
        if kind == "sum":
            return context.all_reduce(tf.distribute.ReduceOp.SUM, value)
        if kind == "max":
            return tf.reduce_max(context.all_gather(value[None], axis=0), axis=0)
        # "rows": pad this replica's rows to the largest shard, gather; the host drops the padding.
        padding = [[0, rows_per_replica - tf.shape(value)[0]]] + [[0, 0]] * (len(value.shape) - 1)
        return context.all_gather(tf.pad(value, padding), axis=0)

    return tf.nest.map_structure(reduce, kinds, results)


def run_sharded(strategy, function, kinds, arrays: tuple, batch_size: int):
    """Runs ``function`` on every replica's shard of each global batch; yields the results reduced over all replicas.

    Args:
        strategy: A ``tf.distribute.Strategy``.
        function: ``function(first_index, *shards)``, traced in replica context: ``first_index`` is the
            ``int64`` index of the shard's first row in the whole data (for seeds), ``shards`` hold this replica's
            rows of each array (float arrays as float32, others as int64; possibly zero rows). Returns a nest of
            tensors.
        kinds: A nest matching ``function``'s result: ``"sum"`` (summed over replicas), ``"max"`` (elementwise
            maximum) or ``"rows"`` (per-row results, concatenated back in row order).
        arrays: Arrays (or memory-mapped files) with the same number of rows; each worker reads only its rows.
        batch_size: Rows per global batch.

    Yields:
        ``(stop, results)`` per global batch: the index after its last row, and the reduced results as NumPy
        values, identical on every worker.

    Examples:
        >>> import numpy as np, tensorflow as tf
        >>> strategy = tf.distribute.get_strategy()  # the default strategy: one replica
        >>> x = np.arange(5.0)
        >>> batches = run_sharded(strategy, lambda first, rows: (tf.reduce_sum(rows), rows), ("sum", "rows"), (x,), 2)
        >>> [(stop, float(total), rows.tolist()) for stop, (total, rows) in batches]
        [(2, 1.0, [0.0, 1.0]), (4, 5.0, [2.0, 3.0]), (5, 4.0, [4.0])]
    """
    for kind in tf.nest.flatten(kinds):
        if kind not in KINDS:
            raise ValueError(f"Reduction kinds must be one of {KINDS}. Received: {kind!r}.")
    total = len(arrays[0])
    replicas = strategy.num_replicas_in_sync

    @tf.function(reduce_retracing=True, autograph=False)
    def step(values, rows_per_replica):
        def replica_function(first, *shards):
            return _reduce_across_replicas(kinds, function(first, *shards), rows_per_replica)

        return strategy.run(replica_function, args=values)

    for start in range(0, total, batch_size):
        stop = min(start + batch_size, total)

        def value_function(context, start=start, stop=stop):
            begin, end = shard_bounds(start, stop, context.replica_id_in_sync_group, context.num_replicas_in_sync)
            return (tf.constant(begin, tf.int64),) + tuple(_shard_of(array, begin, end) for array in arrays)

        values = strategy.experimental_distribute_values_from_function(value_function)
        sizes = [np.subtract(*shard_bounds(start, stop, r, replicas)[::-1]) for r in range(replicas)]
        largest = max(sizes)
        local = strategy.experimental_local_results(step(values, tf.constant(int(largest), tf.int32)))[0]

        def unpad(kind, value, sizes=sizes, largest=largest):
            value = np.asarray(value)
            if kind != "rows":
                return value
            return np.concatenate([value[r * largest : r * largest + size] for r, size in enumerate(sizes)])

        yield stop, tf.nest.map_structure(unpad, kinds, local)
