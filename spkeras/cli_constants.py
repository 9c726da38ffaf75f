"""Constants of the command line, importable without TensorFlow."""

# Names listed here so that building the parser imports no TensorFlow. --method and --calibrate are checked
# against the library after parsing (so a new method or calibration mode works before it is listed here);
# tests/cli check that every listed name exists there.
METHOD_NAMES = ("augmapping", "channelwise", "ecc", "max", "opi", "qcfs", "robust", "termapping")
ENCODING_NAMES = ("analog", "poisson", "count", "events")
# Post-conversion calibration: the modes and pipelines of spkeras.calibration.modes, and "none".
CALIBRATION_NAMES = ("none", "threshold", "bias", "potential", "per_step", "light", "advanced")
# Extensions --plot accepts; matplotlib picks the format by the extension.
PLOT_SUFFIXES = (".png", ".pdf", ".svg")

EXIT_OK, EXIT_REFUSED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130

EXIT_STATUS_TEXT = """exit status:
  0  success
  1  'info' found layers that cannot be converted
  2  bad input: a missing or unreadable file, a wrong extension, an unwritable output folder, a missing
     optional dependency (matplotlib for --plot), bad data or options; one line on stderr, before any work
"""
