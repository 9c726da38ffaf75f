"""The commands of the ``spkeras`` command line (``convert``, ``finetune``, ``evaluate``, ``info``, ``export-nir``,
``demo``); :mod:`spkeras.cli` builds the parser and re-exports them."""

from __future__ import annotations

import importlib
import pathlib

from spkeras.cli_constants import (  # noqa: F401
    CALIBRATION_NAMES,
    ENCODING_NAMES,
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_STATUS_TEXT,
    METHOD_NAMES,
    PLOT_SUFFIXES,
)
from spkeras.cli_support import (  # noqa: F401
    _ABSL_LINE,
    _HARMLESS_ERRORS,
    _POSITIVE_OPTIONS,
    _STARTUP_NOISE,
    UsageError,
    _ann_accuracy,
    _calibration,
    _check_data_file,
    _check_matplotlib,
    _check_method,
    _check_model_file,
    _check_output,
    _check_positive,
    _fit_channels,
    _is_spiking,
    _labelled_data,
    _labels,
    _load,
    _load_arrays,
    _parse_options,
    _report,
    _results_stay_on_stdout,
    _startup_line_is_noise,
    _write_json,
    _write_plot,
    start_tensorflow,
)


def _convert(arguments) -> int:
    output = _check_output(arguments.output, "-o/--output", (".keras",), arguments.overwrite)
    _check_model_file(arguments.model, "MODEL")
    if arguments.calibration:
        _check_data_file(arguments.calibration, "--calibration")
    if arguments.data:
        _check_data_file(arguments.data, "--data")
    options = _parse_options(arguments.option)
    start_tensorflow()
    if arguments.method is not None:
        _check_method(arguments.method)
    calibrate = _calibration(arguments.calibrate)
    import spkeras

    model = _load(arguments.model, "MODEL")
    x = None
    if arguments.calibration:
        x, _ = _load_arrays(arguments.calibration, "--calibration")
        x = _fit_channels(x, model)
        if arguments.limit:
            x = x[: arguments.limit]
    if arguments.data:
        x_test, y_test = _labelled_data(arguments.data, "--data", model, arguments.test_limit)
    with _results_stay_on_stdout():
        if calibrate is not None:
            options.setdefault("calibrate", calibrate)
        snn = spkeras.convert(
            model, x, method=arguments.method, timesteps=arguments.timesteps, verbose=not arguments.quiet, **options
        )
        spkeras.save_model(snn, output, overwrite=arguments.overwrite)
    from spkeras.conversion.pipeline import default_method

    method = arguments.method or default_method(model)
    print(f"converted {arguments.model} with method={method} -> {output}")
    if arguments.data:
        with _results_stay_on_stdout():
            ann_accuracy = _ann_accuracy(model, x_test, y_test, arguments.batch_size)
            result = spkeras.evaluate(
                snn,
                x_test,
                y_test,
                timesteps=arguments.timesteps,
                batch_size=arguments.batch_size,
                verbose=not arguments.quiet,
            )
        print(f"{arguments.data}: {result.num_images} images")
        print(result.table(reference_accuracy=ann_accuracy))
    return EXIT_OK


def _finetune(arguments) -> int:
    output = _check_output(arguments.output, "-o/--output", (".keras",), arguments.overwrite)
    _check_model_file(arguments.model, "MODEL")
    _check_data_file(arguments.data, "--data")
    start_tensorflow()
    import spkeras

    model = _load(arguments.model, "MODEL")
    x, y = _labelled_data(arguments.data, "--data", model, arguments.limit)
    with _results_stay_on_stdout():
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
        spkeras.save_model(tuned, output, overwrite=arguments.overwrite)
    accuracy = tuned.finetune_history.get("accuracy", [float("nan")])[-1]
    print(
        f"fine-tuned {arguments.model} with QCFS (L={arguments.levels}, {arguments.epochs} epochs, "
        f"{tuned.finetune_seconds:.0f} s, training accuracy {accuracy:.4f}) -> {output}"
    )
    print(f"next: spkeras convert {output} -T {arguments.levels} -o snn.keras")
    return EXIT_OK


def _evaluate(arguments) -> int:
    json_path = _check_output(arguments.json, "--json", (".json",), arguments.overwrite) if arguments.json else None
    plot_path = _check_output(arguments.plot, "--plot", PLOT_SUFFIXES, arguments.overwrite) if arguments.plot else None
    if plot_path:
        _check_matplotlib()
    _check_model_file(arguments.model, "MODEL")
    if arguments.ann:
        _check_model_file(arguments.ann, "--ann")
    _check_data_file(arguments.data, "--data")
    start_tensorflow()
    import spkeras

    snn = _load(arguments.model, "MODEL")
    if not _is_spiking(snn):
        raise UsageError(
            f"MODEL is not a converted spiking model (it has no spiking layers): convert it first with "
            f"'spkeras convert', or pass it as --ann. Received: MODEL='{arguments.model}'."
        )
    ann = _load(arguments.ann, "--ann") if arguments.ann else None
    if ann is not None and _is_spiking(ann):
        raise UsageError(f"--ann must be the source ANN, not a converted model. Received: --ann='{arguments.ann}'.")
    events = arguments.encoding == "events"
    if events and ann is not None:
        raise UsageError(
            "--ann cannot be measured on event sequences (the ANN takes one static input, not a bin per step). "
            f"Received: --encoding events with --ann='{arguments.ann}'. Leave out --ann, or evaluate static images."
        )
    x, y = _labelled_data(arguments.data, "--data", snn, arguments.limit, events=events)
    with _results_stay_on_stdout():
        ann_accuracy = None if ann is None else _ann_accuracy(ann, x, y, arguments.batch_size)
        result = spkeras.evaluate(
            snn,
            x,
            y,
            timesteps=arguments.timesteps,
            encoding=arguments.encoding,
            batch_size=arguments.batch_size,
            verbose=not arguments.quiet,
        )
    report = {"model": str(arguments.model), "ann_model": arguments.ann, "data": str(arguments.data)}
    report.update(_report(result, snn, ann_accuracy))
    print(result.table(reference_accuracy=ann_accuracy))
    print(report["metrics"].table())
    if json_path:
        _write_json(json_path, report, arguments.overwrite)
    if plot_path:
        title = f"{pathlib.Path(arguments.model).name}: {result.num_images} images, {result.encoding} input"
        _write_plot(plot_path, result, ann_accuracy, report["chance_accuracy"], title, arguments.overwrite)
    return EXIT_OK


def _info(arguments) -> int:
    _check_model_file(arguments.model, "MODEL")
    start_tensorflow()
    from spkeras.conversion import layer_report

    model = _load(arguments.model, "MODEL")
    report = layer_report(model, max_pooling=arguments.max_pooling)
    width = max(len(name) for name, _, _ in report) if report else 10
    print(f"model '{model.name}': input {tuple(model.inputs[0].shape[1:])}, {len(report)} layers")
    for name, kind, reason in report:
        status = "converts" if reason is None else f"REFUSED: {reason}"
        print(f"  {name:<{width}}  {kind:<24} {status}")
    refused = sum(reason is not None for _, _, reason in report)
    print("all layers convert" if not refused else f"{refused} layer(s) cannot be converted")
    return EXIT_OK if not refused else EXIT_REFUSED


def _export_nir(arguments) -> int:
    output = _check_output(arguments.output, "-o/--output", (".nir",), arguments.overwrite)
    _check_model_file(arguments.model, "MODEL")
    try:
        importlib.import_module("nir")
    except ImportError as error:
        raise UsageError(
            f'export-nir needs the optional package nir, which is not installed: pip install "spkeras[nir]" '
            f"(or pip install nir). ({error})"
        ) from None
    start_tensorflow()
    import spkeras

    snn = _load(arguments.model, "MODEL")
    if not _is_spiking(snn):
        raise UsageError(
            f"MODEL is not a converted spiking model (it has no spiking layers): convert it first with "
            f"'spkeras convert'. Received: MODEL='{arguments.model}'."
        )
    graph = spkeras.export_nir(snn, output, readout=arguments.readout, overwrite=arguments.overwrite)
    print(f"wrote {output}: {len(graph.nodes)} NIR nodes, {len(graph.edges)} edges, readout={arguments.readout}")
    return EXIT_OK


def dip_note(result, tolerance: float = 0.01, hint: str = "") -> str | None:
    """One line explaining a dip of the accuracy between two reported steps, or ``None`` when it only rises.

    Args:
        result: A :class:`~spkeras.simulate.SimulationResult`.
        tolerance: Drops smaller than this (e.g. one image in a hundred) are not called a dip.
        hint: Added in parentheses at the end, e.g. what removes the dip.

    Examples:
        >>> import numpy as np
        >>> from spkeras.simulate import SimulationResult
        >>> result = SimulationResult(4, np.array([0.2, 0.9, 0.8, 0.8]), ["relu"], np.ones((4, 1)), 10, 1.0)
        >>> print(dip_note(result))
        note: the dip from t = 2 to t = 4 is low-T quantisation of max-normalised ReLU rates; it fades as t grows.
    """
    steps = result.report_steps()
    best_step = steps[0]
    for step in steps[1:]:
        if result.accuracy_at(step) < result.accuracy_at(best_step) - tolerance:
            return (
                f"note: the dip from t = {best_step} to t = {step} is low-T quantisation of max-normalised ReLU "
                f"rates; it fades as t grows{f' ({hint})' if hint else ''}."
            )
        if result.accuracy_at(step) > result.accuracy_at(best_step):
            best_step = step
    return None


def _demo(arguments) -> int:
    start_tensorflow()
    if arguments.method is not None:
        _check_method(arguments.method)
    calibrate = _calibration(arguments.calibrate)
    from spkeras.demo import run_demo

    with _results_stay_on_stdout():
        report = run_demo(
            method=arguments.method,
            timesteps=arguments.timesteps,
            verbose=not arguments.quiet,
            calibrate=calibrate,
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
