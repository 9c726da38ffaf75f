"""``finetune``: conversion-aware fine-tuning of a trained model with QCFS activations (the recipe that ships)."""

from __future__ import annotations

import logging
import math
import time

import keras
import numpy as np
import tensorflow as tf

from spkeras import io, network, validation
from spkeras.layers.qcfs import QuantizedClipFloorShift
from spkeras.progress import progress_bar
from spkeras.qcfs.prepare import prepare_for_conversion

logger = logging.getLogger(__name__)


class _Progress(keras.callbacks.Callback):
    """One progress bar over all training steps, on standard error (plain when it is not a terminal)."""

    def __init__(self, total_steps: int, enabled: bool):
        super().__init__()
        self.bar = progress_bar(total_steps, enabled, unit_name="step")
        self.done = 0

    def on_train_batch_end(self, batch, logs=None):
        self.done += 1
        self.bar.update(self.done)

    def on_epoch_end(self, epoch, logs=None):
        logs = {key: round(float(value), 4) for key, value in (logs or {}).items()}
        logger.info("QCFS fine-tuning epoch %d: %s", epoch + 1, logs)


def _ends_with_softmax(model: keras.Model) -> bool:
    layer = network.spiking_network(model).nodes[-1].layer
    return isinstance(layer, keras.layers.Softmax) or getattr(layer, "activation", None) is keras.activations.softmax


def finetune(
    model,
    x,
    y,
    levels: int = 4,
    epochs: int = 10,
    *,
    batch_size: int = 64,
    learning_rate: float = 1e-4,
    augment: bool = False,
    validation_data=None,
    per_channel: bool = False,
    seed: int = 0,
    verbose: bool = True,
) -> keras.Model:
    """Fine-tunes ``model`` with QCFS activations so that it converts to a low-latency SNN.

    The recipe: :func:`prepare_for_conversion` (λ initialised from the training images; skipped if the model
    already has QCFS layers), then Adam with a cosine-decaying learning rate from ``learning_rate`` to 1 % of it,
    sparse categorical cross-entropy (on logits, or on probabilities if the model ends with a softmax), and
    optional augmentation (random horizontal flip and ±10 % translation, for natural images). λ and all weights
    are trained; batch norms keep training mode statistics. Convert the result with ``spkeras.convert(tuned,
    None, timesteps=L)`` (θ = λ, initial potential θ/2).

    Args:
        model: A trained ``keras.Model`` or a ``.h5``/``.keras`` path (not modified).
        x: Training inputs, float, scaled as for the ANN.
        y: Integer or one-hot labels.
        levels: L, the quantisation levels (the T the SNN is meant for).
        epochs: Passes over ``x``.
        batch_size: Training batch size.
        learning_rate: Initial learning rate of Adam.
        augment: Random flip + translation on each batch.
        validation_data: Optional ``(x_val, y_val)`` evaluated after each epoch.
        per_channel: One λ per channel.
        seed: Seed of the shuffling, augmentation and initialisation.
        verbose: Show a progress bar (standard error).

    Returns:
        The fine-tuned copy (a ``keras.Model`` with :class:`~spkeras.layers.QuantizedClipFloorShift` layers); its
        ``finetune_history`` attribute holds Keras's history dict and ``finetune_seconds`` the training time.

    Examples:
        >>> import spkeras
        >>> sample = spkeras.demo.load_sample()
        >>> cnn = spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH)
        >>> tuned = finetune(cnn, sample["x_calibration"][:200], sample["y_calibration"][:200], levels=4, epochs=1,
        ...                  verbose=False)
        >>> sorted(tuned.finetune_history)
        ['accuracy', 'loss']
    """
    source = io.load_model(model)
    epochs = validation.check_number("epochs", epochs, minimum=0, strictly=True, integer=True)
    batch_size = validation.check_batch_size(batch_size)
    learning_rate = validation.check_number("learning_rate", learning_rate, minimum=0, strictly=True)
    x = validation.check_array_inputs(x, tuple(source.inputs[0].shape[1:]), "x")
    labels = validation.check_labels(y, len(x), int(source.outputs[0].shape[-1]))
    keras.utils.set_random_seed(seed)
    if any(isinstance(layer, QuantizedClipFloorShift) for layer in source.layers):
        tuned = keras.models.clone_model(source)
        tuned.set_weights(source.get_weights())
    else:
        tuned = prepare_for_conversion(source, levels, x, per_channel=per_channel, batch_size=batch_size)
    dataset = tf.data.Dataset.from_tensor_slices((np.asarray(x, "float32"), labels))
    dataset = dataset.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    if augment:
        layers = [keras.layers.RandomFlip("horizontal", seed=seed), keras.layers.RandomTranslation(0.1, 0.1, seed=seed)]
        augmentation = keras.Sequential(layers)
        dataset = dataset.map(lambda images, targets: (augmentation(images, training=True), targets))
    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    steps = epochs * math.ceil(len(x) / batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps, alpha=0.01)
    tuned.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=not _ends_with_softmax(tuned)),
        metrics=["accuracy"],
    )
    if validation_data is not None:
        x_val, y_val = validation_data
        x_val = validation.check_array_inputs(x_val, tuple(source.inputs[0].shape[1:]), "validation_data[0]")
        validation_data = (x_val, validation.check_labels(y_val, len(x_val), int(source.outputs[0].shape[-1])))
    started = time.perf_counter()
    history = tuned.fit(
        dataset,
        epochs=epochs,
        validation_data=validation_data,
        shuffle=False,  # the dataset is shuffled (seeded) above
        verbose=0,
        callbacks=[_Progress(steps, verbose)],
    )
    tuned.finetune_history = {key: [float(v) for v in values] for key, values in history.history.items()}
    tuned.finetune_seconds = time.perf_counter() - started
    logger.info("QCFS fine-tuning (L=%d): %d epochs in %.1f s.", levels, epochs, tuned.finetune_seconds)
    return tuned
