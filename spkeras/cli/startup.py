"""The command line's streams: a quiet TensorFlow start-up, and results alone on stdout.

TensorFlow's C++ start-up lines (oneDNN notices, "could not find cuda drivers", ``failed call to cuInit`` on
machines without a GPU) are dropped; everything printed during the work (Keras progress bars) goes to stderr.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile

# TensorFlow's C++ start-up lines (absl format, e.g. "I0000 00:00:1796... 123 port.cc:153] oneDNN ...").
_ABSL_LINE = re.compile(r"^[IWEF]\d{4} [\d:.]+\s+\d+ [\w.\-]+:\d+\] ")
_HARMLESS_ERRORS = re.compile(r"cuInit|cuda|CUDA|cuDNN|cuFFT|cuBLAS|TensorRT|Unable to register")
_STARTUP_NOISE = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "To enable the following instructions:",
)


def startup_line_is_noise(line: str) -> bool:
    """Whether ``line`` (of TensorFlow's standard error at import) is start-up noise the command line drops.

    Examples:
        >>> startup_line_is_noise("I0000 00:00:1796226706.141165    3789 port.cc:153] oneDNN custom operations.")
        True
        >>> startup_line_is_noise("spkeras: error: a line of our own")
        False
    """
    if line.startswith(_STARTUP_NOISE):
        return True
    if _ABSL_LINE.match(line):
        return line[0] in "IW" or (line[0] == "E" and bool(_HARMLESS_ERRORS.search(line)))
    return False


def start_tensorflow() -> None:
    """Imports TensorFlow and initialises its devices, dropping TensorFlow's start-up log lines.

    TensorFlow writes those lines from C++ straight to file descriptor 2, before its log level is read, so
    ``TF_CPP_MIN_LOG_LEVEL`` alone cannot silence them: standard error is redirected to a temporary file for
    the import and the first operation, and every line that is not start-up noise is written back. When the
    user set ``TF_CPP_MIN_LOG_LEVEL``, nothing is filtered.

    Examples:
        >>> start_tensorflow()  # once TensorFlow is imported, a no-op
        >>> import sys
        >>> "tensorflow" in sys.modules
        True
    """
    if "tensorflow" in sys.modules:
        return
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ:  # the user decided: log exactly as configured
        import tensorflow as tf

        tf.zeros(())
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    sys.stderr.flush()
    saved = os.dup(2)
    ok = False
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import tensorflow as tf

            tf.zeros(())  # the first operation initialises the devices (and logs about CUDA)
            ok = True
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode("utf-8", errors="replace")
            lines = text.splitlines(keepends=True)
            kept = [line for line in lines if not startup_line_is_noise(line)] if ok else lines
            sys.stderr.write("".join(kept))
            sys.stderr.flush()


@contextlib.contextmanager
def results_stay_on_stdout():
    """Sends everything printed during the work (Keras progress bars) to stderr; stdout keeps the results.

    Examples:
        >>> with results_stay_on_stdout():
        ...     print("progress")  # written to stderr
    """
    with contextlib.redirect_stdout(sys.stderr):
        yield
