"""The version of spkeras (its own module, so that subpackages can read it without importing ``spkeras``)."""

__version__ = "0.1.0"
