"""The one batching helper: arrays and tf.data datasets, sample counts that follow the dataset's own batches."""

import numpy as np
import pytest
import tensorflow as tf

from spkeras.batching import iterate_batches, take_samples


def test_array_batches_cover_every_row_once_with_their_start():
    x = np.arange(14, dtype="float64").reshape(7, 2)
    batches = list(iterate_batches(x, 3, with_start=True))
    assert [start for start, _ in batches] == [0, 3, 6]
    assert all(batch.dtype == tf.float32 for _, batch in batches)
    np.testing.assert_array_equal(np.concatenate([batch.numpy() for _, batch in batches]), x)


def test_dataset_batches_keep_their_own_size_and_drop_labels():
    dataset = tf.data.Dataset.from_tensor_slices((np.ones((5, 2)), np.arange(5))).batch(2)
    batches = list(iterate_batches(dataset, 100, with_start=True))
    assert [(start, tuple(batch.shape)) for start, batch in batches] == [(0, (2, 2)), (2, (2, 2)), (4, (1, 2))]


@pytest.mark.parametrize("samples", [1, 7, 8, 9, 30, 100])
def test_take_samples_counts_samples_not_batches_of_another_size(samples):
    # The dataset yields batches of 8 while the caller's batch_size (e.g. 100) is unrelated: the old helper took
    # ceil(samples / batch_size) dataset batches, i.e. 8 samples for samples=30 and batch_size=100.
    x = np.arange(60, dtype="float32").reshape(30, 2)
    dataset = tf.data.Dataset.from_tensor_slices((x, np.zeros(30))).batch(8)
    cut = take_samples(dataset, samples)
    rows = np.concatenate([batch.numpy() for batch in iterate_batches(cut, 100)])
    np.testing.assert_array_equal(rows, x[: min(samples, 30)])
    assert [int(element[0].shape[0]) for element in cut][:-1] == [8] * (len(list(cut)) - 1)


def test_take_samples_stops_an_endless_dataset():
    dataset = tf.data.Dataset.from_tensor_slices(np.ones((4, 3), "float32")).repeat().batch(3)
    assert sum(int(batch.shape[0]) for batch in take_samples(dataset, 10)) == 10


def test_take_samples_of_arrays_and_none():
    x = np.zeros((10, 2))
    assert take_samples(x, 4).shape == (4, 2)
    assert take_samples(x, None) is x
