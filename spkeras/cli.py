"""Command-line interface: ``spkeras demo``."""

from __future__ import annotations

import argparse
import sys


def _demo(arguments) -> int:
    from spkeras.demo import run_demo

    report = run_demo(method=arguments.method, timesteps=arguments.timesteps, verbose=not arguments.quiet)
    result = report["result"]
    print(f"spkeras demo: bundled MNIST CNN, {result.num_images} test images, method={report['method']}")
    print(result.table(reference_accuracy=report["ann_accuracy"]))
    print(
        f"conversion {report['conversion_time_s']:.1f} s, simulation {report['simulation_time_s']:.1f} s "
        f"({result.timesteps} steps)"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    from spkeras import __version__
    from spkeras.methods import available_methods

    parser = argparse.ArgumentParser(prog="spkeras", description="Convert Keras CNNs into spiking networks.")
    parser.add_argument("--version", action="version", version=f"spkeras {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="convert and simulate the bundled MNIST CNN")
    demo.add_argument("--method", default="ecc", choices=available_methods(), help="conversion method")
    demo.add_argument("-T", "--timesteps", type=int, default=64, help="number of time steps (default 64)")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(handler=_demo)
    return parser


def main(argv=None) -> int:
    """Entry point of the ``spkeras`` command."""
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        return arguments.handler(arguments)
    except (ValueError, TypeError, OSError) as error:
        print(f"spkeras: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
