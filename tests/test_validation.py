"""spkeras.validation: every check refuses what it must and names the argument and what was received."""

import re

import numpy as np
import pytest
import tensorflow as tf

from spkeras import validation
from tests.keras_session import _clean_keras_session  # noqa: F401  (no gc.collect per test)

# --- check_number -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [(3, 3.0), (2.5, 2.5), (np.float32(0.25), 0.25), (np.int64(7), 7.0), (0, 0.0), (-1.5, -1.5)],
)
def test_check_number_returns_a_float(value, expected):
    result = validation.check_number("gain", value)
    assert result == expected and type(result) is float


@pytest.mark.parametrize("value", [True, False, np.bool_(True), "3", b"3", None, [1.0], np.array([1.0, 2.0])])
def test_check_number_refuses_non_numbers(value):
    with pytest.raises(ValueError, match=re.escape(f"`gain` must be a finite number. Received: gain={value!r}.")):
        validation.check_number("gain", value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), np.float32("nan"), np.float64("inf")])
def test_check_number_refuses_nan_and_infinities(value):
    with pytest.raises(ValueError, match=r"`gain` must be a finite number\. Received: gain="):
        validation.check_number("gain", value)


def test_check_number_minimum_is_inclusive_unless_strict():
    assert validation.check_number("v", 0, minimum=0) == 0.0
    assert validation.check_number("v", 1e-12, minimum=0, strictly=True) == 1e-12
    with pytest.raises(ValueError, match=re.escape("`v` must be a positive number. Received: v=0.")):
        validation.check_number("v", 0, minimum=0, strictly=True)
    with pytest.raises(ValueError, match=re.escape("`v` must be a finite number >= 1. Received: v=0.5.")):
        validation.check_number("v", 0.5, minimum=1)
    with pytest.raises(ValueError, match=re.escape("`v` must be a finite number > 1. Received: v=1.")):
        validation.check_number("v", 1, minimum=1, strictly=True)


def test_check_number_maximum_is_inclusive():
    assert validation.check_number("v", 1.0, minimum=0, maximum=1) == 1.0
    with pytest.raises(ValueError, match=re.escape("`v` must be a finite number >= 0 and <= 1. Received: v=1.01.")):
        validation.check_number("v", 1.01, minimum=0, maximum=1)
    with pytest.raises(ValueError, match=re.escape("`v` must be a finite number <= 10. Received: v=11.")):
        validation.check_number("v", 11, maximum=10)


def test_check_number_integer_mode():
    result = validation.check_number("bits", np.int32(8), minimum=0, integer=True)
    assert result == 8 and type(result) is int
    for bad in (1.5, 2.0, "2", True):
        with pytest.raises(ValueError, match=re.escape(f"`bits` must be an integer >= 0. Received: bits={bad!r}.")):
            validation.check_number("bits", bad, minimum=0, integer=True)
    with pytest.raises(ValueError, match=re.escape("`bits` must be an integer >= 0. Received: bits=-1.")):
        validation.check_number("bits", -1, minimum=0, integer=True)


def test_check_number_owner_prefixes_the_message():
    with pytest.raises(ValueError, match=re.escape("Method 'ecc': `amp_factor` must be a positive number.")):
        validation.check_number("amp_factor", -2, minimum=0, strictly=True, owner="Method 'ecc'")


def test_check_number_refuses_an_int_too_large_for_a_float_with_its_own_message():
    with pytest.raises(ValueError, match="Received: gain="):
        validation.check_number("gain", 10**400)


# --- timesteps, batch size, choice, percentile ---------------------------------------------------------------


@pytest.mark.parametrize(
    "check, name", [(validation.check_timesteps, "timesteps"), (validation.check_batch_size, "batch_size")]
)
def test_positive_integer_checks(check, name):
    assert check(np.int64(5)) == 5 and type(check(np.int64(5))) is int
    for bad in (0, -3, 2.0, True, "4", None):
        with pytest.raises(ValueError, match=re.escape(f"`{name}` must be a positive integer")) as info:
            check(bad)
        assert str(info.value).endswith(f"Received: {name}={bad!r}.")
    with pytest.raises(ValueError, match=re.escape("`steps` must be a positive integer")):
        check(0, name="steps")
    with pytest.raises(ValueError, match=re.escape("Received: steps=0.")):
        check(0, name="steps")


def test_check_choice():
    assert validation.check_choice("mode", "soft", ("soft", "hard")) == "soft"
    with pytest.raises(ValueError, match=re.escape("`mode` must be one of ('soft', 'hard'). Received: mode='Soft'.")):
        validation.check_choice("mode", "Soft", ("soft", "hard"))
    with pytest.raises(ValueError, match=re.escape("Received: mode=1.")):
        validation.check_choice("mode", 1, ("soft", "hard"))
    with pytest.raises(ValueError, match=re.escape("Received: mode=None.")):
        validation.check_choice("mode", None, ["soft"])


def test_check_percentile():
    assert validation.check_percentile(100) == 100.0
    assert validation.check_percentile(0.001) == 0.001
    with pytest.raises(ValueError, match=re.escape("`percentile` must be in (0, 100]. Received: percentile=100.5.")):
        validation.check_percentile(100.5)
    with pytest.raises(ValueError, match=re.escape("`percentile` must be a positive number. Received: percentile=0.")):
        validation.check_percentile(0)
    with pytest.raises(ValueError, match=re.escape("Method 'robust': `p` must be in (0, 100]. Received: p=101.0.")):
        validation.check_percentile(101, owner="Method 'robust'", name="p")
    with pytest.raises(ValueError, match="Received: percentile=True"):
        validation.check_percentile(True)
    with pytest.raises(ValueError, match="Received: percentile=nan"):
        validation.check_percentile(float("nan"))


# --- check_inputs -------------------------------------------------------------------------------------------


def test_check_inputs_returns_the_array_itself():
    x = np.zeros((3, 4, 4, 1), "float32")
    assert validation.check_inputs(x, (4, 4, 1), "x_test") is x
    assert validation.check_inputs(x, (None, None, 1), "x_test") is x


def test_check_inputs_converts_lists_and_tensors():
    from_list = validation.check_inputs([[0.5, 1.0]], (2,), "x")
    np.testing.assert_array_equal(from_list, [[0.5, 1.0]])
    assert isinstance(from_list, np.ndarray)
    from_tensor = validation.check_inputs(tf.constant([[0.5, 1.0]]), (2,), "x")
    assert isinstance(from_tensor, np.ndarray) and from_tensor.shape == (1, 2)


@pytest.mark.parametrize(
    "shape, expected, match",
    [
        ((2, 4, 4), (4, 4, 1), r"`x_test` has sample shape \(4, 4\) but the model expects \(4, 4, 1\)\. "
         r"Received: x_test\.shape=\(2, 4, 4\)\. Add the channel axis: x_test\[\.\.\., None\]\."),
        ((2, 4, 4, 3), (4, 4, 1), r"sample shape \(4, 4, 3\).*Received: x_test\.shape=\(2, 4, 4, 3\)\.$"),
        ((2, 5), (4,), r"sample shape \(5,\) but the model expects \(4,\)"),
    ],
)  # fmt: skip
def test_check_inputs_shapes(shape, expected, match):
    with pytest.raises(ValueError, match=match):
        validation.check_inputs(np.zeros(shape, "float32"), expected, "x_test")


@pytest.mark.parametrize("dtype", ["uint8", "int32", "bool"])
def test_check_inputs_refuses_integer_images_with_a_hint(dtype):
    with pytest.raises(TypeError, match=rf"`x_test` must hold floating-point.*Received: dtype={dtype}\..*astype"):
        validation.check_inputs(np.zeros((2, 3), dtype), (3,), "x_test")


def test_check_inputs_refuses_strings_without_the_integer_hint():
    with pytest.raises(TypeError, match=r"Received: dtype=<U1\.$"):
        validation.check_inputs(np.array([["a", "b"]]), (2,), "x_test")


def test_check_inputs_refuses_other_types():
    with pytest.raises(TypeError, match=r"`x_cal` must be a NumPy array or a tf.data.Dataset\. Received: dict\."):
        validation.check_inputs({"x": np.zeros((1, 2))}, (2,), "x_cal")


def test_check_inputs_counts_non_finite_values():
    x = np.zeros((3, 2), "float32")
    x[0, 1], x[2, 0] = np.nan, np.inf
    with pytest.raises(ValueError, match=r"`x_test` contains 2 NaN or infinite values"):
        validation.check_inputs(x, (2,), "x_test")


@pytest.mark.parametrize("data", [np.zeros((0, 2), "float32"), np.array(1.0, "float32")])
def test_check_inputs_refuses_empty_data(data):
    with pytest.raises(ValueError, match=rf"`x_test` is empty\. Received: shape={re.escape(str(data.shape))}\."):
        validation.check_inputs(data, (2,), "x_test")


def test_check_inputs_datasets_are_checked_by_their_element_spec():
    x = np.zeros((6, 4, 4, 1), "float32")
    batched = tf.data.Dataset.from_tensor_slices(x).batch(2)
    assert validation.check_inputs(batched, (4, 4, 1), "x_cal") is batched
    with_labels = tf.data.Dataset.from_tensor_slices((x, np.zeros(6))).batch(2)
    assert validation.check_inputs(with_labels, (4, 4, 1), "x_cal") is with_labels
    unbatched = tf.data.Dataset.from_tensor_slices(x)
    with pytest.raises(ValueError, match=r"`x_cal` dataset elements have shape \(4, 4, 1\).*\.batch\(n\)"):
        validation.check_inputs(unbatched, (4, 4, 1), "x_cal")
    wrong = tf.data.Dataset.from_tensor_slices(np.zeros((6, 4, 4, 3), "float32")).batch(2)
    with pytest.raises(ValueError, match=r"shape \(None, 4, 4, 3\).*Received: element_spec="):
        validation.check_inputs(wrong, (4, 4, 1), "x_cal")
    # Unknown dimensions in the spec are accepted (checked while streaming).
    unknown = batched.map(lambda batch: tf.ensure_shape(batch, [None, None, None, 1]))
    assert validation.check_inputs(unknown, (4, 4, 1), "x_cal") is unknown


def test_check_inputs_refuses_a_dataset_of_integer_images():
    dataset = tf.data.Dataset.from_tensor_slices(np.zeros((4, 3), "uint8")).batch(2)
    with pytest.raises(TypeError, match="floating-point"):
        validation.check_inputs(dataset, (3,), "x_cal")


def test_check_inputs_names_the_argument_for_a_dataset_of_dicts():
    dataset = tf.data.Dataset.from_tensor_slices({"image": np.zeros((4, 3), "float32")}).batch(2)
    with pytest.raises((TypeError, ValueError), match="`x_cal`"):
        validation.check_inputs(dataset, (3,), "x_cal")


def test_check_inputs_handles_a_dataset_of_unknown_rank():
    def generate():
        yield np.zeros((2, 3), "float32")

    spec = tf.TensorSpec(shape=None, dtype=tf.float32)
    dataset = tf.data.Dataset.from_generator(generate, output_signature=spec)
    try:
        validation.check_inputs(dataset, (3,), "x_cal")
    except ValueError as error:
        assert "`x_cal`" in str(error)


def test_check_array_inputs_refuses_datasets():
    dataset = tf.data.Dataset.from_tensor_slices(np.zeros((2, 3), "float32")).batch(1)
    with pytest.raises(TypeError, match=r"`x_test` must be a NumPy array here.*Received: a tf.data.Dataset"):
        validation.check_array_inputs(dataset, (3,), "x_test")
    x = np.ones((2, 3), "float32")
    assert validation.check_array_inputs(x, (3,), "x_test") is x


# --- check_labels -------------------------------------------------------------------------------------------


def test_check_labels_accepts_integers_one_hot_and_columns():
    expected = [2, 0, 1]
    for labels in (
        np.array(expected),
        np.array(expected, "uint8"),
        np.eye(3)[expected],
        np.eye(3, dtype="float32")[expected],
        np.array(expected)[:, None],
        np.array(expected, "float64")[:, None],
        tf.constant(expected),
        expected,
    ):
        result = validation.check_labels(labels, 3, 3)
        assert result.dtype == np.int64 and result.tolist() == expected, labels


def test_check_labels_one_hot_needs_one_column_per_class():
    with pytest.raises(ValueError, match=r"`y_test` must be integer class labels of shape \(N,\) or one-hot of shape "
                       r"\(N, 10\)\. Received: y_test\.shape=\(3, 4\)\."):  # fmt: skip
        validation.check_labels(np.zeros((3, 4)), 3, 10, argument="y_test")
    with pytest.raises(ValueError, match=r"Received: y_test\.shape=\(2, 2, 2\)"):
        validation.check_labels(np.zeros((2, 2, 2)), 2, 2, argument="y_test")


def test_check_labels_refuses_fractions_and_nan():
    with pytest.raises(ValueError, match=r"`y_test` holds non-integer values\. Received: float labels"):
        validation.check_labels(np.array([0.0, 1.5]), 2, 3, argument="y_test")
    with pytest.raises(ValueError, match="`y_val` holds non-integer values"):
        validation.check_labels(np.array([0.0, np.nan]), 2, 3, argument="y_val")
    assert validation.check_labels(np.array([0.0, 2.0]), 2, 3).tolist() == [0, 2]


def test_check_labels_refuses_non_numeric_labels():
    with pytest.raises(TypeError, match=r"`y_test` must be integer class labels\. Received: dtype=<U3\."):
        validation.check_labels(np.array(["cat", "dog"]), 2, 3, argument="y_test")
    with pytest.raises(TypeError, match=r"Received: dtype=bool\."):
        validation.check_labels(np.array([True, False]), 2, 3, argument="y_test")


@pytest.mark.parametrize("labels, low, high", [([0, 3], 0, 3), ([-1, 2], -1, 2), ([7], 7, 7)])
def test_check_labels_refuses_out_of_range(labels, low, high):
    message = f"`y_test` labels must lie in [0, 2] for a model with 3 outputs. Received: min={low}, max={high}."
    with pytest.raises(ValueError, match=re.escape(message)):
        validation.check_labels(labels, None, 3, argument="y_test")


def test_check_labels_count_names_both_arguments():
    message = "`x_test` has 3 samples but `y_test` has 2. Received: len(y_test)=2."
    with pytest.raises(ValueError, match=re.escape(message)):
        validation.check_labels([0, 1], 3, 3, argument="y_test", inputs_argument="x_test")
    with pytest.raises(ValueError, match=re.escape("`x` has 1 samples but `y` has 2.")):
        validation.check_labels([0, 1], 1, 3)
    assert validation.check_labels([0, 1, 2, 0], None, 3).tolist() == [0, 1, 2, 0]


def test_check_labels_default_argument_name_is_y():
    with pytest.raises(ValueError, match=re.escape("`y` labels must lie in [0, 1]")):
        validation.check_labels([2], 1, 2)
