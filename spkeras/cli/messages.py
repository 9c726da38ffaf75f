"""The command line's messages: library messages in command-line words, Python warnings as one line.

The library speaks Python (``max_pooling='average'``); on the command line the same fix is an option
(``--max-pooling average``). Python warnings become ``spkeras: warning: ...`` lines, without the file name and
source line Python adds; ``--quiet`` silences them. Logged warnings get the same prefix.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import warnings

# Python spellings in library messages -> the command line's (each is an option of spkeras convert).
_SPELLINGS = (
    (re.compile(r"\bmax_pooling='(\w+)'"), r"--max-pooling \1"),
    (re.compile(r"\bcalibrate='(\w+)'"), r"--calibrate \1"),
    (re.compile(r"See help\(spkeras\.methods\.get_method\('(\w+)'\)\)\."), r"docs/methods/\1.md lists its options."),
    (re.compile(r"`timesteps`"), "-T/--timesteps"),
    (re.compile(r"(?<![\w-])timesteps[= ](<= )?(\d+)"), r"-T \1\2"),
    (re.compile(r" \(spkeras\.simulate\.budget\.MAX_TIMESTEPS\)"), ""),
    (re.compile(r"Pass fewer timesteps"), "Pass a smaller -T"),
)


def cli_wording(message) -> str:
    """A library message on one line, with its Python spellings of options replaced by the command line's.

    Examples:
        >>> cli_wording("Pass max_pooling='spiking'\\n  to keep max pooling.")
        'Pass --max-pooling spiking to keep max pooling.'
        >>> cli_wording("Convert with calibrate='per_step' for this T.")
        'Convert with --calibrate per_step for this T.'
        >>> cli_wording("Received: timesteps=10000000. Pass timesteps <= 10 (spkeras.simulate.budget.MAX_TIMESTEPS).")
        'Received: -T 10000000. Pass -T <= 10.'
        >>> cli_wording("-T/--timesteps must be a positive integer. Received: -T/--timesteps=0.")  # already the CLI's
        '-T/--timesteps must be a positive integer. Received: -T/--timesteps=0.'
    """
    text = " ".join(str(message).split())
    for pattern, replacement in _SPELLINGS:
        text = pattern.sub(replacement, text)
    return text


def warning_line(message, category: type[Warning]) -> str:
    """The one line the command line prints for a Python warning (no file name, no source line).

    Examples:
        >>> warning_line(UserWarning("MaxPooling2D layer 'pool' is replaced\\n  by average pooling."), UserWarning)
        "spkeras: warning: MaxPooling2D layer 'pool' is replaced by average pooling."
        >>> warning_line("`__array__` is deprecated.", DeprecationWarning)
        'spkeras: warning: DeprecationWarning: `__array__` is deprecated.'
    """
    text = cli_wording(message)
    kind = "" if issubclass(category, UserWarning) and category.__module__ == "builtins" else f"{category.__name__}: "
    return f"spkeras: warning: {kind}{text}"


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(warning_line(message, category), file=sys.stderr)


@contextlib.contextmanager
def cli_warnings(quiet: bool):
    """Within the block, Python warnings print as :func:`warning_line` on stderr; ``quiet`` silences them.

    ``UserWarning`` (what spkeras warns with when it degrades something) is shown once per place and message,
    as Python does by default, unless the interpreter was given ``-W`` options or ``PYTHONWARNINGS``.

    Examples:
        >>> import warnings
        >>> with cli_warnings(quiet=True):
        ...     warnings.warn("not shown")
    """
    with warnings.catch_warnings():
        if quiet:
            warnings.simplefilter("ignore")
        else:
            if not sys.warnoptions:  # no -W or PYTHONWARNINGS: user warnings show (once each), never raise
                warnings.filterwarnings("default", category=UserWarning)
            warnings.showwarning = _show_warning
        yield


class LogFormatter(logging.Formatter):
    """Log records as the command line prints them: warnings as ``spkeras: warning: ...``, the rest as is.

    Examples:
        >>> record = logging.LogRecord("spkeras", logging.WARNING, "", 0, "Site '%s' never fired.", ("relu",), None)
        >>> LogFormatter().format(record)
        "spkeras: warning: Site 'relu' never fired."
    """

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        return f"spkeras: warning: {cli_wording(message)}" if record.levelno >= logging.WARNING else message
