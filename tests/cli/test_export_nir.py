"""``spkeras export-nir``: arguments checked before any work (one line, exit 2), then the graph is written."""

import numpy as np
import pytest

import spkeras
from spkeras import cli
from tests.model_zoo import tiny_cnn, tiny_inputs

nir = pytest.importorskip("nir", reason='needs the optional package nir: pip install "spkeras[nir]"')


@pytest.fixture
def snn_file(tmp_path):
    snn = spkeras.convert(tiny_cnn(), tiny_inputs(30), method="robust", timesteps=16)
    path = tmp_path / "snn.keras"
    spkeras.save_model(snn, path)
    return snn, path


def test_export_nir_writes_a_graph_that_reads_back(snn_file, tmp_path, capsys):
    snn, path = snn_file
    output = tmp_path / "model.nir"
    assert cli.main(["export-nir", str(path), "-o", str(output)]) == 0
    assert f"wrote {output}" in capsys.readouterr().out
    graph = nir.read(output)
    assert "readout" in graph.nodes and sorted(graph.edges) == sorted(spkeras.export_nir(snn).edges)
    assert cli.main(["export-nir", str(path), "-o", str(output), "--readout", "current"]) == 0
    assert "readout" not in nir.read(output).nodes


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["-o", "model.h5"], "-o/--output must end in .nir"),
        (["-o", "missing/model.nir"], "The folder 'missing' of -o/--output does not exist"),
    ],
)
def test_export_nir_checks_arguments_first(snn_file, tmp_path, capsys, arguments, message, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _, path = snn_file
    assert cli.main(["export-nir", str(path), *arguments]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1


def test_export_nir_refuses_an_ann_and_untranslatable_layers(tmp_path, capsys):
    ann = tmp_path / "cnn.keras"
    tiny_cnn().save(ann)
    assert cli.main(["export-nir", str(ann), "-o", str(tmp_path / "m.nir")]) == 2
    assert "not a converted spiking model" in capsys.readouterr().err
    snn = spkeras.convert(tiny_cnn(), tiny_inputs(30), method="termapping", timesteps=16)
    spkeras.save_model(snn, tmp_path / "ternary.keras")
    assert cli.main(["export-nir", str(tmp_path / "ternary.keras"), "-o", str(tmp_path / "t.nir")]) == 2
    error = capsys.readouterr().err
    assert "TernaryIntegrateAndFire" in error and error.count("\n") == 1 and not (tmp_path / "t.nir").exists()


def test_spiking_max_pooling_exports_and_its_refusal_gives_the_command_line_fix(tmp_path, capsys):
    import keras

    inputs = keras.Input((10, 10, 2))
    x = keras.layers.MaxPooling2D(2)(keras.layers.Conv2D(4, 3, activation="relu")(inputs))
    keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(x))).save(tmp_path / "pool.keras")
    np_path = tmp_path / "calibration.npz"
    np.savez(np_path, x=tiny_inputs(10))
    convert = ["convert", str(tmp_path / "pool.keras"), "--calibration", str(np_path), "-T", "4", "--quiet"]
    assert cli.main([*convert, "-o", str(tmp_path / "snn.keras")]) == 0  # the default: gated spiking max pooling
    assert cli.main(["export-nir", str(tmp_path / "snn.keras"), "-o", str(tmp_path / "default.nir")]) == 0
    # Spikes that carry their threshold have no exact NIR max-pool motif: refused with the command-line fix.
    threshold = ["-o", str(tmp_path / "threshold.keras"), "--option", "spike_value=threshold"]
    assert cli.main([*convert, *threshold]) == 0
    capsys.readouterr()
    assert cli.main(["export-nir", str(tmp_path / "threshold.keras"), "-o", str(tmp_path / "m.nir")]) == 2
    error = capsys.readouterr().err
    assert "--max-pooling average" in error and "max_pooling=" not in error and error.count("\n") == 1
    assert cli.main([*convert, "-o", str(tmp_path / "average.keras"), "--max-pooling", "average"]) == 0
    assert cli.main(["export-nir", str(tmp_path / "average.keras"), "-o", str(tmp_path / "m.nir")]) == 0
