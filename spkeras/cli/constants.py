"""Constants of the command line, importable without TensorFlow (``spkeras --help`` lists these names).

The library is the authority on the names of methods and calibration modes; it imports TensorFlow, so the
parser's help cannot ask it. ``--method`` and ``--calibrate`` are checked against the library after parsing
(:func:`spkeras.cli.support.calibration_names`, ``spkeras.methods.available_methods``), and tests/cli check that
the names listed here are exactly the library's, and that docs/cli.md lists them.
"""

METHOD_NAMES = ("augmapping", "channelwise", "cos", "ecc", "max", "opi", "qcfs", "robust", "srp", "termapping")
ENCODING_NAMES = ("analog", "poisson", "count", "events")
# Post-conversion calibration: "none", the modes, then the pipelines of spkeras.calibration.modes.
CALIBRATION_NAMES = ("none", "threshold", "bias", "potential", "per_step", "advanced", "light")
# The MaxPooling2D policies of spkeras.convert(max_pooling=...).
MAX_POOLING_NAMES = ("spiking", "average", "error")
# Extensions --plot accepts; matplotlib picks the format by the extension.
PLOT_SUFFIXES = (".png", ".pdf", ".svg")

EXIT_OK, EXIT_REFUSED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130

EXIT_STATUS_TEXT = """exit status:
  0  success
  1  'info' found layers that cannot be converted
  2  bad input: a missing or unreadable file, a wrong extension, an unwritable output folder, a missing
     optional dependency (matplotlib for --plot), bad data or options; one line on stderr, before any work
"""
