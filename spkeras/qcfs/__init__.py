"""Conversion-aware fine-tuning with the quantisation clip-floor-shift (QCFS) activation (Bu et al., ICLR 2022)."""

from spkeras.qcfs.layer import QuantizedClipFloorShift, floor_straight_through  # noqa: I001  (before the converter)
from spkeras.qcfs.converter import convert_qcfs
from spkeras.qcfs.finetune import finetune
from spkeras.qcfs.prepare import prepare_for_conversion

__all__ = ["QuantizedClipFloorShift", "convert_qcfs", "finetune", "floor_straight_through", "prepare_for_conversion"]
