"""Regression tests for the bugs the fuzzing harness found (``xfail(strict=True)`` while one is open).

The crafted inputs are in ``tests/fuzz/crashers/`` (each made by one mutation of a corpus file, named in
its test). A fix turns such a test into an XPASS, which fails the run: remove the ``xfail`` mark then.
"""

from __future__ import annotations

import pathlib

import keras
import numpy as np
import pytest

import spkeras
from tests.fuzz.isolation import run_isolated
from tests.keras_session import _clean_keras_session  # noqa: F401  (cheap per-test Keras reset)

CRASHERS = pathlib.Path(__file__).resolve().parent / "crashers"

_LOAD_IN_A_CHILD = """
import spkeras
try:
    spkeras.load_model({path!r})
    print("LOADED")
except ValueError as error:
    print("VALUEERROR", error)
"""


def _demo_calibration(count: int = 20) -> np.ndarray:
    return spkeras.demo.load_sample()["x_calibration"][:count]


# --- files ---------------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        "hang_attribute_splice.h5",  # corpus dense.h5, 1,909 bytes from offset 0 copied to 18.6 % of the file
        "hang_weight_names_zeroed.h5",  # dense.h5, one group's weight_names shuffled, 757 bytes zeroed at 12.9 %
    ],
)
def test_corrupted_h5_is_refused_without_hanging(name):
    result = run_isolated(_LOAD_IN_A_CHILD.format(path=str(CRASHERS / name)), timeout=45)
    assert result.killed is None, f"load_model was killed ({result.killed}) after {result.seconds:.0f} s"
    assert "VALUEERROR" in result.stdout and name in result.stdout


_MUTATE_IN_A_CHILD = """
from tests.fuzz import mutations
print("NOTES", mutations.mutate_h5_file({source!r}, {target!r}, {ops!r}))
"""


def test_harness_skips_attribute_mutations_of_a_file_whose_heap_is_damaged(tmp_path):
    # Fuzz run seed 0, case 7915 (the only non-ok case of 10,000): bytes zeroed over the global heap, then a
    # layer_names rewrite; h5py hung reading the attribute in the harness, before spkeras saw the file.
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    source = tmp_path / "model.h5"
    model.save(source)
    data = bytearray(source.read_bytes())
    start = data.index(b"GCOL")
    data[start + 16 : start + 32] = bytes(16)  # the heap's first object zeroed: an empty free-space record
    damaged = tmp_path / "damaged.h5"
    damaged.write_bytes(bytes(data))
    ops = [{"op": "group_attr", "value": "<extra>", "index": 0, "name": "layer_names"}]
    result = run_isolated(_MUTATE_IN_A_CHILD.format(source=str(damaged), target=str(tmp_path / "t.h5"), ops=ops), 45)
    assert result.killed is None, f"the mutation was killed ({result.killed}) after {result.seconds:.0f} s"
    assert "skipped: the global heap at byte" in result.stdout, result.stdout + result.stderr
    with pytest.raises(ValueError, match=r"HDF5 would hang reading it"):
        spkeras.load_model(tmp_path / "t.h5")


@pytest.mark.slow
def test_huge_declared_layer_is_refused_before_allocating(tmp_path):
    import h5py

    from tests.fuzz import mutations

    path = tmp_path / "huge_units.h5"
    path.write_bytes((CRASHERS / "huge_units.h5").read_bytes())
    with h5py.File(path, "r+") as handle:  # the crasher declares 10**9 units; 2*10**8 is allocatable here
        handle.attrs["model_config"] = mutations.mutate_config_text(
            handle.attrs["model_config"], {"action": "size", "layer": 1, "value": 200_000_000}
        )
    result = run_isolated(_LOAD_IN_A_CHILD.format(path=str(path)), timeout=120, memory_limit=1.5e9)
    assert result.killed is None, f"killed ({result.killed}), peak {result.peak_rss / 2**30:.1f} GiB resident"
    assert "VALUEERROR" in result.stdout and "'hidden'" in result.stdout


def _collection(*objects: tuple[int, int], size: int = 4096) -> bytes:
    """A global heap collection: header, then (index, size) objects with zero data, then the bytes left."""
    body = b""
    for index, length in objects:
        padded = length if index == 0 else -(-length // 8) * 8
        body += (
            index.to_bytes(2, "little")
            + bytes(6)
            + length.to_bytes(8, "little")
            + bytes(max(padded - 16, 0) if index == 0 else padded)
        )
    return b"GCOL\x01\x00\x00\x00" + size.to_bytes(8, "little") + body + bytes(max(size - 16 - len(body), 0))


def test_global_heap_walk_matches_hdf5():
    from spkeras.io.hdf5 import _heap_collection_damage

    assert _heap_collection_damage(_collection((1, 6), (2, 10), (0, 4096 - 16 - 24 - 32)), 0, 8) is None
    assert "empty free-space record" in _heap_collection_damage(_collection((1, 6), (0, 0)), 0, 8)
    assert "runs past the end of the heap" in _heap_collection_damage(_collection((1, 10**6)), 0, 8)
    assert "past the end of the file" in _heap_collection_damage(_collection((1, 6), size=2**20)[:40], 0, 8)


def test_heap_signature_inside_the_weights_is_not_mistaken_for_a_heap(tmp_path):
    """Weights whose bytes spell a damaged heap collection (a chance match) still load."""
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, name="hidden"), keras.layers.Dense(2)])
    kernel = np.frombuffer(_collection((1, 6), (0, 0), size=4096)[:384], "float32").reshape(6, 16)
    model.get_layer("hidden").kernel.assign(kernel)
    for suffix in (".h5", ".keras"):
        model.save(tmp_path / f"chance{suffix}")
        loaded = spkeras.load_model(tmp_path / f"chance{suffix}")
        np.testing.assert_array_equal(loaded.get_layer("hidden").get_weights()[0], kernel)


@pytest.mark.parametrize("suffix", [".h5", ".keras"])
def test_huge_declared_layer_is_refused_by_the_file_check(tmp_path, suffix):
    """check_model_file refuses it without Keras (so a regression fails here instead of allocating)."""
    import json
    import zipfile

    import h5py

    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, name="hidden"), keras.layers.Dense(2)])
    path = tmp_path / f"huge{suffix}"
    model.save(path)
    if suffix == ".h5":
        with h5py.File(path, "r+") as handle:
            config = json.loads(handle.attrs["model_config"])
            config["config"]["layers"][1]["config"]["units"] = 2**31
            handle.attrs["model_config"] = json.dumps(config)
    else:
        with zipfile.ZipFile(path) as archive:
            entries = {name: archive.read(name) for name in archive.namelist()}
        config = json.loads(entries["config.json"])
        config["config"]["layers"][1]["config"]["units"] = 2**31
        entries["config.json"] = json.dumps(config).encode()
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in entries.items():
                archive.writestr(name, data)
    with pytest.raises(ValueError, match=r"layer 'hidden' \(Dense\).*Received: units=2147483648"):
        spkeras.io.check_model_file(path)


def test_keras_file_whose_config_does_not_decompress_is_a_value_error(tmp_path):
    """Found by the fuzz run: a bit flip inside the deflated config.json raised zlib.error out of the check."""
    import zipfile

    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, name="hidden"), keras.layers.Dense(2)])
    model.save(tmp_path / "model.keras")
    with zipfile.ZipFile(tmp_path / "model.keras") as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    path = tmp_path / "damaged.keras"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("config.json")
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + 2 : start + 10] = b"\xff" * 8  # the deflate stream no longer decodes
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="damaged.keras.*Received|Received.*damaged.keras"):
        spkeras.load_model(path)


def test_h5_with_an_unreadable_object_is_a_value_error():
    path = CRASHERS / "keyerror_object_type.h5"  # dense.h5: a config value replaced, a block spliced, 219 bytes zeroed
    with pytest.raises(ValueError, match="Received"):
        spkeras.load_model(path)


def test_flatten_of_unknown_spatial_dimensions_is_refused_by_name():
    model = spkeras.load_model(CRASHERS / "unknown_spatial_dims.keras")  # conv_bn.keras, input shape set to None
    x = np.random.default_rng(0).uniform(0, 1, (4, 8, 8, 1)).astype("float32")
    with pytest.raises(ValueError, match="flatten"):
        spkeras.convert(model, x, timesteps=4)


# --- arrays and arguments ------------------------------------------------------------------------------------


@pytest.mark.parametrize("index", [0, -2], ids=["first-conv-kernel", "last-dense-kernel"])
def test_nan_weights_in_the_source_model_are_refused(index):
    model = spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH)
    weights = [np.array(w) for w in model.get_weights()]
    weights[index].reshape(-1)[0] = np.nan
    model.set_weights(weights)
    try:
        snn = spkeras.convert(model, _demo_calibration(), timesteps=8)
    except ValueError as error:
        assert "Received" in str(error)
        return
    assert all(np.all(np.isfinite(w)) for w in snn.get_weights()), "converted network holds NaN/inf"


def test_huge_calibration_values_never_give_a_non_finite_network():
    model = spkeras.load_model(spkeras.demo.DEMO_MODEL_PATH)
    x = (np.random.default_rng(640).uniform(0, 1, (6, 28, 28, 1)) * 1e30).astype("float32")
    try:
        snn = spkeras.convert(model, x, calibrate="threshold")
    except ValueError as error:
        assert "Received" in str(error)
        return
    bad = [f"{layer.name}/{w.name}" for layer in snn.layers for w in layer.weights if not np.all(np.isfinite(w))]
    assert not bad, f"non-finite weights: {bad}"


@pytest.fixture
def tiny_snn():
    inputs = keras.Input((6,))
    hidden = keras.layers.Dense(4, activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3)(hidden))
    x = np.random.default_rng(0).uniform(0, 1, (8, 6)).astype("float32")
    return spkeras.convert(model, x, timesteps=4), x


def test_out_of_range_seed_is_refused_by_name(tiny_snn):
    snn, x = tiny_snn
    with pytest.raises(ValueError, match="seed.*Received|Received.*seed"):
        spkeras.evaluate(snn, x, np.zeros(len(x), int), timesteps=2, seed=2**63)


def test_ragged_list_of_inputs_names_the_argument():
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="x_calibration.*Received|Received.*x_calibration"):
        spkeras.convert(model, [np.zeros(6, "float32"), np.zeros(1, "float32")])


def test_unsupported_layer_error_says_what_was_received():
    model = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, activation="relu"), keras.layers.MaxPooling2D()]
        + [keras.layers.Flatten(), keras.layers.Dense(2)]
    )
    x = np.random.default_rng(0).uniform(0, 1, (4, 8, 8, 1)).astype("float32")
    with pytest.raises(ValueError, match="Received"):
        spkeras.convert(model, x, max_pooling="error")


# --- command line --------------------------------------------------------------------------------------------


def test_cli_convert_with_a_scalar_calibration_array_exits_2(tmp_path, capsys):
    from spkeras import cli

    data = tmp_path / "calibration.npz"
    np.savez(data, x=np.float32(0.5))
    argv = ["convert", str(spkeras.demo.DEMO_MODEL_PATH), "--calibration", str(data), "-o", str(tmp_path / "s.keras")]
    assert cli.main(argv + ["--limit", "3", "--quiet"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1].startswith("spkeras: error:") and "--calibration" in lines[-1]


def test_signed_bit_on_a_residual_model_converts_or_names_signed_bit():
    inputs = keras.Input((8, 8, 2))
    x = keras.layers.Conv2D(3, 3, padding="same", activation="relu")(inputs)
    y = keras.layers.Conv2D(3, 3, padding="same")(x)
    x = keras.layers.ReLU()(keras.layers.Add(name="add")([x, y]))
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(x))
    x = np.random.default_rng(417).uniform(0, 1, (6, 8, 8, 2))
    try:
        spkeras.convert(model, x, signed_bit=4)
    except ValueError as error:
        assert "signed_bit" in str(error) and "Received" in str(error), str(error)


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".h5", ".keras"])
def test_huge_declared_weight_dataset_is_refused_before_reading(tmp_path, suffix):
    """A weight dataset declaring 40,000 x 40,000 float32 (6.4 GB in a few KB of chunks) is refused unread.

    (Keras's loader refuses it as a shape bomb; the fuzz run's memory kills on such files came from the harness
    reading the dataset while mutating it twice, since fixed.)
    """
    from tests.fuzz import mutations

    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(2)])
    source, target = tmp_path / f"model{suffix}", tmp_path / f"huge{suffix}"
    model.save(source)
    mutate = mutations.mutate_keras_file if suffix == ".keras" else mutations.mutate_h5_file
    notes = mutate(source, target, [{"op": "dataset", "index": 0, "action": "large_declared"}])
    assert notes == ["ok"]
    result = run_isolated(_LOAD_IN_A_CHILD.format(path=str(target)), timeout=120, memory_limit=1.5e9)
    assert result.killed is None, f"killed ({result.killed}), peak {result.peak_rss / 2**30:.1f} GiB resident"
    assert "VALUEERROR" in result.stdout
