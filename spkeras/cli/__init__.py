"""Command-line interface: ``spkeras convert | finetune | evaluate | info | export-nir | demo``.

Standard output carries the results (tables, ``wrote FILE``); progress bars, warnings, log messages and errors go
to standard error. Every argument is checked before any work starts: input files exist and are model or ``.npz``
files, every output folder exists and is writable, every output has a supported extension, and ``--plot`` has
matplotlib. A problem in the user's input ends with one line, ``spkeras: error: ...``, on stderr and exit
status 2 (no traceback, no partial output file). Python warnings print as one line, ``spkeras: warning: ...``
(none with ``--quiet``).

``spkeras --help`` and ``spkeras --version`` do not import TensorFlow. The other commands import it once, with
TensorFlow's start-up log lines (oneDNN notices, "could not find cuda drivers", ``failed call to cuInit`` on
machines without a GPU) filtered out, unless ``TF_CPP_MIN_LOG_LEVEL`` is set in the environment: then
TensorFlow logs exactly as configured.

The package: ``parser`` (the arguments), ``commands`` and ``info`` (the commands), ``support`` (checks and
loading), ``stored`` (a model file's config, read without running code), ``output`` (tables and files),
``messages`` (command-line wording, warnings), ``startup`` (TensorFlow start-up), ``constants``.
"""

from __future__ import annotations

import logging
import sys

from spkeras.cli.commands import convert, demo, evaluate, export_nir, finetune
from spkeras.cli.constants import EXIT_BAD_INPUT, EXIT_INTERRUPTED
from spkeras.cli.info import info
from spkeras.cli.messages import LogFormatter, cli_warnings, cli_wording
from spkeras.cli.parser import build_parser
from spkeras.cli.support import check_positive

HANDLERS = {
    "convert": convert,
    "finetune": finetune,
    "evaluate": evaluate,
    "info": info,
    "export-nir": export_nir,
    "demo": demo,
}


def main(argv=None) -> int:
    """Entry point of the ``spkeras`` command; returns the exit status.

    Args:
        argv: The arguments after ``spkeras`` (default: ``sys.argv[1:]``).

    Examples:
        >>> main(["info", "no-such-model.h5"])
        2
    """
    arguments = build_parser().parse_args(argv)
    handler = logging.StreamHandler()
    handler.setFormatter(LogFormatter())
    quiet = getattr(arguments, "quiet", False)
    level = logging.INFO if arguments.verbose else logging.ERROR if quiet else logging.WARNING
    logging.basicConfig(level=level, handlers=[handler])
    try:
        with cli_warnings(quiet=quiet):
            check_positive(arguments)
            return HANDLERS[arguments.command](arguments)
    except (ValueError, TypeError, OSError) as error:
        print(f"spkeras: error: {cli_wording(error)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("spkeras: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
