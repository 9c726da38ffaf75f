"""The ANN baseline of a simulation: the source ANN's accuracy on the same data.

:func:`~spkeras.evaluate` measures it with ``ann=model`` and puts it into its
:class:`~spkeras.simulate.SimulationResult` (table, ``to_dict``/JSON, plot), as ``spkeras evaluate --ann`` does.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from spkeras import distribute, validation
from spkeras.batching import iterate_batches
from spkeras.network import spiking_network


def check_ann(ann, encoding: str = "analog") -> keras.Model:
    """Checks that ``ann`` is a (non-spiking) ``keras.Model`` whose accuracy can be measured on the same inputs.

    Examples:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
        >>> check_ann(model) is model
        True
    """
    if not isinstance(ann, keras.Model):
        raise TypeError(f"`ann` must be the source keras.Model. Received: ann of type {type(ann).__name__}.")
    if spiking_network(ann).neuron_positions:
        raise ValueError(
            f"`ann` must be the source ANN, not a converted model. Received: ann='{ann.name}' with spiking layers. "
            "Pass the model you converted."
        )
    if encoding == "events":
        raise ValueError(
            "`ann` cannot be measured on event sequences (the ANN takes one static input, not a bin per step). "
            "Received: ann with encoding='events'. Leave out ann, or evaluate static inputs."
        )
    return ann


def ann_accuracy(ann: keras.Model, x, y, batch_size: int = 100, strategy=None) -> float:
    """Top-1 accuracy of the (non-spiking) ANN ``ann`` on ``x``, ``y``.

    Args:
        ann: The source ANN.
        x: Inputs, a float array shaped like the model input.
        y: Integer or one-hot labels.
        batch_size: Images per forward pass (the global batch under a strategy).
        strategy: A ``tf.distribute.Strategy`` splitting each batch across replicas and workers (each worker reads
            only its rows; hit counts are summed across all of them); defaults to the active scope's.

    Examples:
        >>> import spkeras
        >>> sample = spkeras.demo.load_sample()
        >>> cnn = spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH)
        >>> ann_accuracy(cnn, sample["x_test"][:100], sample["y_test"][:100]) > 0.9
        True
    """
    ann = check_ann(ann)
    batch_size = validation.check_batch_size(batch_size)
    strategy = distribute.resolve_strategy(strategy)

    def check(inputs):
        return validation.check_array_inputs(inputs, tuple(ann.inputs[0].shape[1:]), "x")

    x = check(x) if strategy is None else distribute.check_metadata(check, x)
    labels = validation.check_labels(y, len(x), int(ann.outputs[0].shape[-1]))

    def hits(batch, batch_labels):
        predictions = tf.argmax(ann(batch, training=False), axis=-1, output_type=tf.int64)
        return tf.reduce_sum(tf.cast(tf.equal(predictions, batch_labels), tf.int64))

    if strategy is not None:
        sharded = distribute.run_checked(
            strategy, lambda start, batch, batch_labels: hits(batch, batch_labels), "sum", (x, labels), batch_size
        )
        return sum(int(count) for _, count, _ in sharded) / len(x)
    compiled = tf.function(hits, reduce_retracing=True, autograph=False)
    correct = 0
    for start, batch in iterate_batches(x, batch_size, with_start=True):
        correct += int(compiled(batch, tf.constant(labels[start : start + batch_size])))
    return correct / len(x)
