"""The argument parser of the ``spkeras`` command (imports neither TensorFlow nor Keras)."""

from __future__ import annotations

import argparse

from spkeras.cli.constants import (
    CALIBRATION_NAMES,
    ENCODING_NAMES,
    EXIT_STATUS_TEXT,
    MAX_POOLING_NAMES,
    METHOD_NAMES,
)

# The commands in the order --help lists them, with their one-line help (docs/cli.md's table is generated from it).
COMMAND_HELP = {
    "convert": "convert a .h5/.keras CNN into a spiking .keras model",
    "finetune": "fine-tune a CNN with QCFS activations for ultra-low latency (T <= 4)",
    "evaluate": "simulate a converted model and report accuracy per step",
    "info": "list a model's layers and whether each converts (and why not)",
    "export-nir": "write a converted spiking model as a NIR graph (.nir; needs spkeras[nir])",
    "demo": "convert and simulate the bundled MNIST CNN",
}
QUIET_HELP = "no progress bars, no warnings"
UNSAFE_HELP = (
    "load a model that stores Python code (Lambda layers) with safe_mode=False: the code runs; only for files you "
    "trust (a Lambda layer itself cannot be converted)"
)
NO_OVERWRITE_HELP = "refuse to replace an existing output file (by default outputs are replaced, like model.save)"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``spkeras`` command (imports neither TensorFlow nor Keras).

    Examples:
        >>> parser = build_parser()
        >>> parser.parse_args(["demo", "-T", "16"]).timesteps
        16
    """
    from spkeras import __version__

    methods = ", ".join(METHOD_NAMES)
    calibrations = ", ".join(CALIBRATION_NAMES)
    parser = argparse.ArgumentParser(
        prog="spkeras",
        description="Convert trained Keras CNNs into spiking neural networks and simulate them.",
        epilog="example:\n  spkeras convert cnn.h5 --calibration data.npz --method ecc -T 64 -o snn.keras\n\n"
        + EXIT_STATUS_TEXT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"spkeras {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens (INFO level)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    raw = argparse.RawDescriptionHelpFormatter

    convert = commands.add_parser(
        "convert",
        help=COMMAND_HELP["convert"],
        epilog=EXIT_STATUS_TEXT,
        formatter_class=raw,
    )
    convert.add_argument("model", metavar="MODEL", help="source model (.h5, .hdf5 or .keras)")
    convert.add_argument(
        "--calibration",
        metavar="FILE.npz",
        help=".npz with calibration inputs under 'x' (or x_train); needed by every method but qcfs",
    )
    convert.add_argument(
        "--method",
        metavar="NAME",
        help=f"conversion method: {methods} (default: ecc with percentile=99.9; qcfs for models from finetune)",
    )
    convert.add_argument(
        "--max-pooling",
        choices=MAX_POOLING_NAMES,
        help="MaxPooling2D policy: spiking (gated spiking max pooling, the default), average (replaced, with a "
        "warning; exportable to NIR) or error (refused)",
    )
    convert.add_argument("-T", "--timesteps", type=int, default=64, help="time steps the SNN is meant for (64)")
    convert.add_argument("-o", "--output", required=True, help="output .keras file (written atomically)")
    convert.add_argument("--limit", type=int, help="use only the first N calibration samples")
    convert.add_argument(
        "--option", action="append", metavar="NAME=VALUE", help="method option, e.g. --option percentile=99.99"
    )
    convert.add_argument(
        "--calibrate",
        default="none",
        metavar="NAME",
        help=f"post-conversion calibration for T: {calibrations} (per_step = per-step biases; light = threshold + "
        "bias, advanced = threshold + potential) (none)",
    )
    convert.add_argument(
        "--data", help=".npz with test inputs and labels: also measure the ANN and simulate the SNN for T steps"
    )
    convert.add_argument("--test-limit", type=int, help="use only the first N samples of --data")
    convert.add_argument("--batch-size", type=int, default=100, help="images per batch for --data (100)")
    convert.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    convert.add_argument("--no-overwrite", dest="overwrite", action="store_false", help=NO_OVERWRITE_HELP)
    convert.add_argument("--unsafe", action="store_true", help=UNSAFE_HELP)

    finetune = commands.add_parser(
        "finetune",
        help=COMMAND_HELP["finetune"],
        epilog=EXIT_STATUS_TEXT,
        formatter_class=raw,
    )
    finetune.add_argument("model", metavar="MODEL", help="trained model (.h5, .hdf5 or .keras)")
    finetune.add_argument("--data", required=True, help=".npz with training inputs 'x' and labels 'y'")
    finetune.add_argument("--levels", type=int, default=4, help="quantisation levels L = the T to convert for (4)")
    finetune.add_argument("--epochs", type=int, default=10, help="passes over the data (10)")
    finetune.add_argument("--batch-size", type=int, default=64, help="training batch size (64)")
    finetune.add_argument("--learning-rate", type=float, default=1e-4, help="initial Adam learning rate (1e-4)")
    finetune.add_argument("--augment", action="store_true", help="random flip + translation (natural images)")
    finetune.add_argument("--limit", type=int, help="use only the first N samples")
    finetune.add_argument("-o", "--output", required=True, help="output .keras file (written atomically)")
    finetune.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    finetune.add_argument("--no-overwrite", dest="overwrite", action="store_false", help=NO_OVERWRITE_HELP)
    finetune.add_argument("--unsafe", action="store_true", help=UNSAFE_HELP)

    evaluate = commands.add_parser(
        "evaluate",
        help=COMMAND_HELP["evaluate"],
        epilog=EXIT_STATUS_TEXT,
        formatter_class=raw,
    )
    evaluate.add_argument("model", metavar="MODEL", help="converted model (.keras)")
    evaluate.add_argument("--data", required=True, help=".npz with inputs 'x'/'x_test' and labels 'y'/'y_test'")
    evaluate.add_argument("--ann", help="the source ANN (.h5/.keras): measure its accuracy on the same data")
    evaluate.add_argument("-T", "--timesteps", type=int, default=64, help="number of time steps (64)")
    evaluate.add_argument("--encoding", default="analog", choices=ENCODING_NAMES, help="input encoding (analog)")
    evaluate.add_argument("--batch-size", type=int, default=100, help="images simulated together (100)")
    evaluate.add_argument("--limit", type=int, help="evaluate only the first N samples")
    evaluate.add_argument("--json", help="write the result, ANN baseline and metrics to this .json file")
    evaluate.add_argument(
        "--plot",
        help="save an accuracy-vs-time-steps plot here (.png, .pdf or .svg, by extension; needs matplotlib)",
    )
    evaluate.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    evaluate.add_argument("--no-overwrite", dest="overwrite", action="store_false", help=NO_OVERWRITE_HELP)
    evaluate.add_argument("--unsafe", action="store_true", help=UNSAFE_HELP)

    info = commands.add_parser(
        "info",
        help=COMMAND_HELP["info"],
        epilog="exit status:\n  0  every layer converts\n  1  some layer cannot be converted\n  2  bad input\n",
        formatter_class=raw,
    )
    info.add_argument("model", metavar="MODEL", help="model file (.h5, .hdf5 or .keras)")
    info.add_argument(
        "--max-pooling", default="spiking", choices=MAX_POOLING_NAMES, help="MaxPooling2D policy (spiking)"
    )
    info.add_argument("--unsafe", action="store_true", help=UNSAFE_HELP)

    export = commands.add_parser(
        "export-nir",
        help=COMMAND_HELP["export-nir"],
        epilog=EXIT_STATUS_TEXT,
        formatter_class=raw,
    )
    export.add_argument("model", metavar="MODEL", help="converted model (.keras)")
    export.add_argument("-o", "--output", required=True, help="output .nir file (written atomically)")
    export.add_argument(
        "--readout",
        default="integrator",
        choices=["integrator", "current"],
        help="integrator: the output is the readout summed over steps (argmax = prediction); current: each "
        "step's readout current (integrator)",
    )
    export.add_argument("--no-overwrite", dest="overwrite", action="store_false", help=NO_OVERWRITE_HELP)

    demo = commands.add_parser("demo", help=COMMAND_HELP["demo"], epilog=EXIT_STATUS_TEXT, formatter_class=raw)
    demo.add_argument("--method", default="ecc", metavar="NAME", help=f"conversion method: {methods} (ecc)")
    demo.add_argument("-T", "--timesteps", type=int, default=64, help="number of time steps (64)")
    demo.add_argument(
        "--calibrate",
        default="advanced",
        metavar="NAME",
        help=f"post-conversion calibration for T: {calibrations} (advanced: the best low-T curve here; none: the "
        "plain method)",
    )
    demo.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    return parser
