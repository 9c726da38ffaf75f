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
        ValueError: For ``ParameterServerStrategy``, whose asynchronous steps cannot give the one-process result.

    Examples:
        >>> resolve_strategy(None) is None
        True
    """
    if strategy is None:
        return tf.distribute.get_strategy() if tf.distribute.has_strategy() else None
    if not isinstance(strategy, tf.distribute.Strategy):
        raise TypeError(f"`strategy` must be a tf.distribute.Strategy. Received: {type(strategy).__name__}.")
    if isinstance(strategy, tf.distribute.experimental.ParameterServerStrategy):
        raise ValueError(
            "spkeras reduces every step synchronously across all replicas, which ParameterServerStrategy (asynchronous "
            "training through a ClusterCoordinator) does not do. Received: strategy=ParameterServerStrategy. Use "
            "tf.distribute.MultiWorkerMirroredStrategy for several machines (see docs/scaling.md)."
        )
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


def check_metadata(check, x, argument: str = "x"):
    """Runs ``check`` (a validation of inputs) on a one-row stand-in with ``x``'s dtype and sample shape.

    Under a strategy, no worker reads rows outside its shard, so the values are checked shard by shard
    (:func:`summarize_shard`); only the type, dtype and shape are checked here. Inputs that are not NumPy arrays
    (lists, tensors) are in memory anyway and are checked whole.

    Examples:
        >>> import numpy as np
        >>> checked, x = [], np.zeros((10, 2), "float32")
        >>> check_metadata(checked.append, x) is x, checked[0].shape
        (True, (1, 2))
    """
    if not isinstance(x, np.ndarray):
        return check(x)
    if len(x) == 0:
        raise ValueError(f"`{argument}` is empty. Received: shape={x.shape}. Pass at least one sample.")
    check(np.zeros((1,) + x.shape[1:], x.dtype))
    return x


#: How the entries of :func:`summarize_shard` are reduced across replicas.
SUMMARY_KINDS = ("sum", "max", "max", "sum")


def summarize_shard(batch):
    """What the checks need of a shard of inputs: non-finite values, maximum, -minimum, non-whole values.

    Examples:
        >>> [float(value) for value in summarize_shard(tf.constant([[0.5, 255.0], [float("nan"), -1.0]]))]
        [1.0, 255.0, 1.0, 1.0]
    """
    finite = tf.math.is_finite(batch)
    values = tf.where(finite, batch, tf.zeros_like(batch))
    empty = tf.fill([], batch.dtype.min)
    highest = tf.reduce_max(tf.concat([tf.reshape(values, [-1]), empty[None]], 0))
    lowest = tf.reduce_max(tf.concat([tf.reshape(-values, [-1]), empty[None]], 0))
    fractions = tf.reduce_sum(tf.cast(tf.not_equal(values, tf.round(values)), tf.int64))
    return tf.reduce_sum(tf.cast(tf.logical_not(finite), tf.int64)), highest, lowest, fractions


def check_summary(summary, argument: str = "x") -> tuple[float, float, bool]:
    """Raises for non-finite inputs (on every worker alike) and returns ``(min, max, whole)`` of the inputs.

    Examples:
        >>> check_summary((0, 255.0, -0.0, 0))
        (0.0, 255.0, True)
    """
    nonfinite, highest, lowest, fractions = summary
    if int(nonfinite):
        raise ValueError(
            f"`{argument}` contains {int(nonfinite)} NaN or infinite values. Received: an array with non-finite "
            "entries. Clean or re-normalise the data."
        )
    return -float(lowest) + 0.0, float(highest), int(fractions) == 0


def merge_summaries(first, second):
    """Combines two results of :func:`summarize_shard` (after reduction), e.g. of consecutive batches.

    Examples:
        >>> merge_summaries((0, 2.0, 1.0, 0), (0, 5.0, 0.0, 3))
        (0, 5.0, 1.0, 3)
    """
    if first is None:
        return second
    return tuple(max(a, b) if kind == "max" else a + b for kind, a, b in zip(SUMMARY_KINDS, first, second))


def _shard_of(array, begin: int, end: int):
    """This replica's rows of ``array``; an empty shard becomes one row of zeros (its results are neutralised)."""
    rows = (
        np.asarray(array[begin:end])
        if end > begin
        else np.zeros((1,) + np.shape(array)[1:], np.asarray(array[:0]).dtype)
    )
    return tf.convert_to_tensor(rows.astype("float32" if np.issubdtype(rows.dtype, np.floating) else "int64"))


def _reduce_across_replicas(kinds, results, rows_per_replica, empty):
    """Reduces a nest of per-replica results across every replica of every worker (call in replica context).

    A replica with an ``empty`` shard (a last batch with fewer rows than replicas) computed on a stand-in row:
    it contributes nothing (0 to sums, the lowest value to maxima, no rows).
    """
    context = tf.distribute.get_replica_context()

    def reduce(kind, value):
        if kind == "sum":
            return context.all_reduce(tf.distribute.ReduceOp.SUM, tf.where(empty, tf.zeros_like(value), value))
        if kind == "max":
            value = tf.where(empty, tf.fill(tf.shape(value), value.dtype.min), value)
            return tf.reduce_max(context.all_gather(value[None], axis=0), axis=0)
        # "rows": pad this replica's rows to the largest shard, gather; the host drops the padding.
        value = value[: tf.where(empty, 0, tf.shape(value)[0])]
        padding = [[0, rows_per_replica - tf.shape(value)[0]]] + [[0, 0]] * (len(value.shape) - 1)
        return context.all_gather(tf.pad(value, padding), axis=0)

    return tf.nest.map_structure(reduce, kinds, results)


def run_sharded(strategy, function, kinds, arrays: tuple, batch_size: int):
    """Runs ``function`` on every replica's shard of each global batch; yields the results reduced over all replicas.

    Args:
        strategy: A ``tf.distribute.Strategy``.
        function: ``function(first_index, *shards)``, traced in replica context: ``first_index`` is the
            ``int64`` index of the shard's first row in the whole data (for seeds), ``shards`` hold this replica's
            rows of each array (float arrays as float32, others as int64; a replica without rows in a short last
            batch gets one row of zeros, whose results are dropped). Returns a nest of tensors.
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
        def replica_function(empty, first, *shards):
            return _reduce_across_replicas(kinds, function(first, *shards), rows_per_replica, empty)

        return strategy.run(replica_function, args=values)

    for start in range(0, total, batch_size):
        stop = min(start + batch_size, total)

        def value_function(context, start=start, stop=stop):
            begin, end = shard_bounds(start, stop, context.replica_id_in_sync_group, context.num_replicas_in_sync)
            shards = tuple(_shard_of(array, begin, end) for array in arrays)
            return (tf.constant(end == begin), tf.constant(begin, tf.int64)) + shards

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


def run_checked(strategy, function, kinds, arrays: tuple, batch_size: int, argument: str = "x"):
    """:func:`run_sharded`, checking the values of ``arrays[0]`` shard by shard on the way.

    Non-finite inputs raise ``ValueError`` on every worker at the same batch (the counts are reduced like the
    results), so no worker waits for another in a collective.

    Yields:
        ``(stop, results, (min, max, whole))``: as :func:`run_sharded`, with the range of the inputs so far and
        whether they are all whole numbers.

    Examples:
        >>> import numpy as np, tensorflow as tf
        >>> batches = run_checked(tf.distribute.get_strategy(), lambda first, rows: tf.reduce_sum(rows), "sum",
        ...                       (np.array([1.0, 2.0, 3.5]),), 2)
        >>> [(stop, float(total), summary) for stop, total, summary in batches]
        [(2, 3.0, (1.0, 2.0, True)), (3, 3.5, (1.0, 3.5, False))]
    """

    def checked(first, *shards):
        return function(first, *shards), summarize_shard(shards[0])

    summary = None
    for stop, (results, batch_summary) in run_sharded(strategy, checked, (kinds, SUMMARY_KINDS), arrays, batch_size):
        check_summary(batch_summary, argument)
        summary = merge_summaries(summary, batch_summary)
        yield stop, results, check_summary(summary, argument)


def run_dataset(strategy, function, kinds, dataset):
    """Runs ``function(batch)`` on the batches of ``dataset`` under ``strategy``, each worker reading its own shard.

    Every input pipeline (one per worker) reads every k-th batch of ``dataset`` (``Dataset.shard``; its labels, if
    any, are dropped); a worker whose shard has ended gets empty batches until all have. The results are reduced
    across all replicas as in :func:`run_sharded` (``"sum"`` or ``"max"``; the order of batches differs from one
    process, so only order-free reductions are allowed).

    Yields:
        The reduced results of each step, as NumPy values, identical on every worker.

    Examples:
        >>> import numpy as np, tensorflow as tf
        >>> data = tf.data.Dataset.from_tensor_slices(np.arange(5.0)).batch(2)
        >>> [float(total) for total in run_dataset(tf.distribute.get_strategy(), tf.reduce_sum, "sum", data)]
        [1.0, 5.0, 4.0]
    """
    if any(kind not in ("sum", "max") for kind in tf.nest.flatten(kinds)):
        raise ValueError(f"Dataset reductions must be 'sum' or 'max' (batches arrive in any order). Received: {kinds}.")

    def shard(context):
        inputs = dataset.map(lambda *element: tf.cast(element[0], tf.float32))
        return inputs.shard(context.num_input_pipelines, context.input_pipeline_id)

    @tf.function(reduce_retracing=True, autograph=False)
    def step(batch):
        def replica_function(rows):
            return _reduce_across_replicas(kinds, function(rows), tf.constant(0), tf.constant(False))

        return strategy.run(replica_function, args=(batch,))

    for batch in strategy.distribute_datasets_from_function(shard):
        yield tf.nest.map_structure(np.asarray, strategy.experimental_local_results(step(batch))[0])
