"""The commands ``convert``, ``finetune``, ``evaluate``, ``export-nir`` and ``demo`` (``info``: :mod:`.info`).

Each takes the parsed arguments, checks every argument before any work, and returns the exit status.
"""

from __future__ import annotations

import importlib
import pathlib

from spkeras.cli.constants import EXIT_OK, PLOT_SUFFIXES
from spkeras.cli.data import labelled_data, model_inputs
from spkeras.cli.loading import default_method, has_qcfs, is_spiking, load
from spkeras.cli.output import dip_note, json_report, measure_ann_accuracy, print_tables, write_json, write_plot
from spkeras.cli.startup import results_stay_on_stdout, start_tensorflow
from spkeras.cli.support import (
    check_calibration,
    check_data_file,
    check_matplotlib,
    check_method,
    check_model_file,
    check_output,
    parse_options,
)
from spkeras.errors import UsageError


def _conversion_method(arguments, model) -> str:
    """The method ``convert`` uses; ``--method qcfs`` needs a model fine-tuned with QCFS activations."""
    method = arguments.method or default_method(model)
    if method == "qcfs" and not has_qcfs(model):
        raise UsageError(
            "--method qcfs converts models fine-tuned with QCFS activations, and MODEL has none (plain ReLUs). "
            f"Fine-tune it first: spkeras finetune {arguments.model} --data train.npz -o tuned.keras (in Python: "
            "spkeras.prepare_for_conversion, then spkeras.finetune), or choose a method for plain ReLU networks "
            f"(the default ecc, or opi). Received: --method qcfs with MODEL='{arguments.model}'."
        )
    return method


def convert(arguments) -> int:
    """``spkeras convert``: converts MODEL, saves the SNN, and with ``--data`` measures the ANN and the SNN.

    Examples:
        >>> from spkeras.cli.parser import build_parser
        >>> convert(build_parser().parse_args(['convert', 'cnn.h5', '-o', 'snn.h5']))
        Traceback (most recent call last):
        ...
        spkeras.errors.UsageError: -o/--output must end in .keras. Received: -o/--output='snn.h5'.
    """
    output_path = check_output(arguments.output, "-o/--output", (".keras",), arguments.overwrite)
    check_model_file(arguments.model, "MODEL")
    if arguments.calibration:
        check_data_file(arguments.calibration, "--calibration")
    if arguments.data:
        check_data_file(arguments.data, "--data")
    options = parse_options(arguments.option)
    if arguments.max_pooling is not None:
        if "max_pooling" in options:
            raise UsageError(
                "--max-pooling and --option max_pooling=... both set the MaxPooling2D policy; give one. Received: "
                f"--max-pooling {arguments.max_pooling} and --option max_pooling={options['max_pooling']}."
            )
        options["max_pooling"] = arguments.max_pooling
    start_tensorflow()
    if arguments.method is not None:
        check_method(arguments.method)
    calibrate = check_calibration(arguments.calibrate)
    import spkeras

    model = load(arguments.model, "MODEL", arguments.unsafe)
    method = _conversion_method(arguments, model)
    x = None
    if arguments.calibration:
        x, _, _, _ = model_inputs(arguments.calibration, "--calibration", model, arguments.limit)
    if arguments.data:
        x_test, y_test = labelled_data(arguments.data, "--data", model, arguments.test_limit)
    if calibrate is not None:
        options.setdefault("calibrate", calibrate)
    with results_stay_on_stdout():
        try:
            snn = spkeras.convert(
                model, x, method=arguments.method, timesteps=arguments.timesteps, verbose=not arguments.quiet, **options
            )
        except ValueError as error:
            if x is None and "x_calibration=None" in str(error):
                with_calibrate = f" with --calibrate {calibrate}" if calibrate else ""
                raise UsageError(
                    f"--method {method}{with_calibrate} needs calibration data for this model: add --calibration "
                    "FILE.npz (a few hundred training images under 'x', scaled as for the ANN). Received: "
                    f"MODEL='{arguments.model}' without --calibration."
                ) from None
            raise
        spkeras.save_model(snn, output_path, overwrite=arguments.overwrite)
    defaults = {} if arguments.method else spkeras.conversion.pipeline.DEFAULT_METHOD_OPTIONS.get(method, {})
    chosen = "".join(f" {name}={value}" for name, value in defaults.items() if name not in options)
    print(f"converted {arguments.model} with method={method}{chosen} -> {output_path}")
    if arguments.data:
        _simulate_and_print(arguments, snn, model, x_test, y_test)
    return EXIT_OK


def _simulate_and_print(arguments, snn, ann, x, y):
    """Measures the ANN, simulates the SNN and prints the tables of ``evaluate --ann`` (for ``convert --data``)."""
    import spkeras

    with results_stay_on_stdout():
        ann_accuracy = measure_ann_accuracy(ann, x, y, arguments.batch_size, verbose=not arguments.quiet)
        result = spkeras.evaluate(
            snn, x, y, timesteps=arguments.timesteps, batch_size=arguments.batch_size, verbose=not arguments.quiet
        )
    print(f"{arguments.data}: {result.num_images} images")
    content = json_report(result, snn, ann_accuracy)
    print_tables(content, result, ann_accuracy)


def finetune(arguments) -> int:
    """``spkeras finetune``: fine-tunes MODEL with QCFS activations and saves it for ``convert --method qcfs``.

    Examples:
        >>> from spkeras.cli.parser import build_parser
        >>> finetune(build_parser().parse_args(['finetune', 'cnn.h5', '--data', 'train.npz', '-o', 'tuned.h5']))
        Traceback (most recent call last):
        ...
        spkeras.errors.UsageError: -o/--output must end in .keras. Received: -o/--output='tuned.h5'.
    """
    output_path = check_output(arguments.output, "-o/--output", (".keras",), arguments.overwrite)
    check_model_file(arguments.model, "MODEL")
    check_data_file(arguments.data, "--data")
    start_tensorflow()
    import spkeras

    model = load(arguments.model, "MODEL", arguments.unsafe)
    x, y = labelled_data(arguments.data, "--data", model, arguments.limit)
    with results_stay_on_stdout():
        tuned = spkeras.finetune(
            model,
            x,
            y,
            levels=arguments.levels,
            epochs=arguments.epochs,
            batch_size=arguments.batch_size,
            learning_rate=arguments.learning_rate,
            augment=arguments.augment,
            verbose=not arguments.quiet,
        )
        spkeras.save_model(tuned, output_path, overwrite=arguments.overwrite)
    accuracy = tuned.finetune_history.get("accuracy", [float("nan")])[-1]
    print(
        f"fine-tuned {arguments.model} with QCFS (L={arguments.levels}, {arguments.epochs} epochs, "
        f"{tuned.finetune_seconds:.0f} s, training accuracy {accuracy:.4f}) -> {output_path}"
    )
    print(f"next: spkeras convert {output_path} -T {arguments.levels} -o snn.keras")
    return EXIT_OK


def evaluate(arguments) -> int:
    """``spkeras evaluate``: simulates a converted model; prints the accuracy and cost tables, writes JSON and plot.

    Examples:
        >>> from spkeras.cli.parser import build_parser
        >>> evaluate(build_parser().parse_args(['evaluate', 'snn.keras', '--data', 'test.npz', '--json', 'result.txt']))
        Traceback (most recent call last):
        ...
        spkeras.errors.UsageError: --json must end in .json. Received: --json='result.txt'.
    """
    overwrite = arguments.overwrite
    json_path = check_output(arguments.json, "--json", (".json",), overwrite) if arguments.json else None
    plot_path = check_output(arguments.plot, "--plot", PLOT_SUFFIXES, overwrite) if arguments.plot else None
    if plot_path:
        check_matplotlib()
    check_model_file(arguments.model, "MODEL")
    if arguments.ann:
        check_model_file(arguments.ann, "--ann")
    check_data_file(arguments.data, "--data")
    start_tensorflow()
    import spkeras

    snn = load(arguments.model, "MODEL", arguments.unsafe)
    if not is_spiking(snn):
        raise UsageError(
            f"MODEL is not a converted spiking model (it has no spiking layers): convert it first with "
            f"'spkeras convert', or pass it as --ann. Received: MODEL='{arguments.model}'."
        )
    ann = load(arguments.ann, "--ann", arguments.unsafe) if arguments.ann else None
    if ann is not None and is_spiking(ann):
        raise UsageError(f"--ann must be the source ANN, not a converted model. Received: --ann='{arguments.ann}'.")
    events = arguments.encoding == "events"
    if events and ann is not None:
        raise UsageError(
            "--ann cannot be measured on event sequences (the ANN takes one static input, not a bin per step). "
            f"Received: --encoding events with --ann='{arguments.ann}'. Leave out --ann, or evaluate static images."
        )
    x, y = labelled_data(arguments.data, "--data", snn, arguments.limit, events=events)
    verbose = not arguments.quiet
    with results_stay_on_stdout():
        ann_accuracy = None if ann is None else measure_ann_accuracy(ann, x, y, arguments.batch_size, verbose)
        result = spkeras.evaluate(
            snn,
            x,
            y,
            timesteps=arguments.timesteps,
            encoding=arguments.encoding,
            batch_size=arguments.batch_size,
            verbose=verbose,
        )
    content = {"model": str(arguments.model), "ann_model": arguments.ann, "data": str(arguments.data)}
    content.update(json_report(result, snn, ann_accuracy))
    print_tables(content, result, ann_accuracy)
    if json_path:
        write_json(json_path, content, arguments.overwrite)
    if plot_path:
        title = f"{pathlib.Path(arguments.model).name}: {result.num_images} images, {result.encoding} input"
        chance = content["chance_accuracy"]
        write_plot(plot_path, result, ann_accuracy, chance, title, arguments.overwrite)
    return EXIT_OK


def export_nir(arguments) -> int:
    """``spkeras export-nir``: writes a converted model as a NIR graph.

    Examples:
        >>> from spkeras.cli.parser import build_parser
        >>> export_nir(build_parser().parse_args(['export-nir', 'snn.keras', '-o', 'model.json']))
        Traceback (most recent call last):
        ...
        spkeras.errors.UsageError: -o/--output must end in .nir. Received: -o/--output='model.json'.
    """
    output_path = check_output(arguments.output, "-o/--output", (".nir",), arguments.overwrite)
    check_model_file(arguments.model, "MODEL")
    try:
        importlib.import_module("nir")
    except ImportError as error:
        raise UsageError(
            f'export-nir needs the optional package nir, which is not installed: pip install "spkeras[nir]" '
            f"(or pip install nir). ({error})"
        ) from None
    start_tensorflow()
    import spkeras

    snn = load(arguments.model, "MODEL")
    if not is_spiking(snn):
        raise UsageError(
            f"MODEL is not a converted spiking model (it has no spiking layers): convert it first with "
            f"'spkeras convert'. Received: MODEL='{arguments.model}'."
        )
    graph = spkeras.export_nir(snn, output_path, readout=arguments.readout, overwrite=arguments.overwrite)
    print(f"wrote {output_path}: {len(graph.nodes)} NIR nodes, {len(graph.edges)} edges, readout={arguments.readout}")
    return EXIT_OK


def demo(arguments) -> int:
    """``spkeras demo``: converts and simulates the bundled MNIST CNN and prints the table.

    Examples:
        >>> from spkeras.cli.parser import build_parser
        >>> demo(build_parser().parse_args(["demo", "--calibrate", "None"]))
        Traceback (most recent call last):
        ...
        spkeras.errors.UsageError: Unknown --calibrate name. Received: --calibrate None. Use one of: none, ...
    """
    start_tensorflow()
    if arguments.method is not None:
        check_method(arguments.method)
    if arguments.method == "qcfs":
        raise UsageError(
            "--method qcfs converts models fine-tuned with QCFS activations, and the bundled CNN has none. Try "
            "'spkeras finetune' on it, then 'spkeras convert --method qcfs'. Received: --method qcfs."
        )
    calibrate = check_calibration(arguments.calibrate)
    from spkeras.demo import run_demo

    with results_stay_on_stdout():
        report = run_demo(
            method=arguments.method, timesteps=arguments.timesteps, verbose=not arguments.quiet, calibrate=calibrate
        )
    result = report["result"]
    print(
        f"spkeras demo: bundled MNIST CNN, {result.num_images} test images, method={report['method']}, "
        f"calibrate={arguments.calibrate}"
    )
    print(result.table(reference_accuracy=report["ann_accuracy"]))
    note = dip_note(result, hint="--calibrate advanced removes it" if arguments.calibrate == "none" else "")
    if note:
        print(note)
    print(
        f"conversion {report['conversion_time_s']:.1f} s, simulation {report['simulation_time_s']:.1f} s "
        f"({result.timesteps} steps)"
    )
    return EXIT_OK
