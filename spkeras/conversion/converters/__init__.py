"""Every built-in layer converter, one module per layer family, registered explicitly here.

Importing this package registers them all: :mod:`.core` (Conv2D, Dense, BatchNormalization, ReLU and
activations, pooling, merges), :mod:`.convolution` (DepthwiseConv2D, SeparableConv2D, Conv1D),
:mod:`.preprocessing` (Rescaling, Normalization), :mod:`.reshaping` (Reshape, Permute, cropping, up-sampling,
1-D padding and pooling), :mod:`.inactive` (layers that are identities at inference: dropout, noise,
augmentation) and :mod:`.qcfs` (the QCFS activation of fine-tuned models). :mod:`.common` holds the helpers
they share; it registers nothing.
"""

from spkeras.conversion.converters import convolution, core, inactive, preprocessing, qcfs, reshaping

BUILT_IN_MODULES = (core, convolution, preprocessing, reshaping, inactive, qcfs)
