"""Converters for the Keras layer families added beyond the core set, one module per family.

Importing this package registers them: :mod:`.convolution` (DepthwiseConv2D, SeparableConv2D, Conv1D),
:mod:`.preprocessing` (Rescaling, Normalization), :mod:`.reshaping` (Reshape, Permute, cropping, up-sampling,
1-D padding and pooling) and :mod:`.inactive` (layers that are identities at inference: dropout, noise,
augmentation). The core converters (Conv2D, Dense, BatchNormalization, ReLU, pooling, merges) are in
:mod:`spkeras.conversion.layers`; shared helpers in :mod:`.common`.
"""

from spkeras.conversion.converters import convolution, inactive, preprocessing, reshaping  # noqa: F401
