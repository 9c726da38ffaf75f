"""Conversion-aware fine-tuning with the quantisation clip-floor-shift (QCFS) activation (Bu et al., ICLR 2022).

The training recipes live here; the activation itself is :class:`spkeras.layers.QuantizedClipFloorShift` and its
converter is in :mod:`spkeras.conversion.converters.qcfs`.
"""

from spkeras.qcfs.finetune import finetune
from spkeras.qcfs.prepare import prepare_for_conversion

__all__ = ["finetune", "prepare_for_conversion"]
