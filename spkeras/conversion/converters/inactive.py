"""Converters for layers that are identities at inference: they are removed from the spiking network.

``INACTIVE_AT_INFERENCE`` lists them: dropout and noise layers (active only in training), the activity
regulariser (adds a loss, passes values through), ``Identity``, and the random augmentation layers of
``keras.layers`` (active only in training). ``RandomCrop`` is removed only when its crop size equals its input
size: at inference it otherwise resizes and centre-crops, which changes the image.
"""

from __future__ import annotations

import keras

from spkeras.conversion.registry import register_converter
from spkeras.errors import UnsupportedLayerError

INACTIVE_AT_INFERENCE = (
    "Dropout",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
    "GaussianDropout",
    "GaussianNoise",
    "AlphaDropout",
    "ActivityRegularization",
    "Identity",
    "RandomFlip",
    "RandomRotation",
    "RandomZoom",
    "RandomTranslation",
    "RandomContrast",
    "RandomBrightness",
    "RandomShear",
    "RandomPerspective",
    "RandomElasticTransform",
    "RandomErasing",
    "RandomGaussianBlur",
    "RandomGrayscale",
    "RandomHue",
    "RandomSaturation",
    "RandomSharpness",
    "RandomInvert",
    "RandomPosterization",
    "RandomColorDegeneration",
    "RandomColorJitter",
    "Solarization",
    "AugMix",
    "CutMix",
    "MixUp",
    "RandAugment",
)
"""Names of the ``keras.layers`` classes removed at conversion (those this Keras version has are registered)."""

_classes = tuple(getattr(keras.layers, name) for name in INACTIVE_AT_INFERENCE if hasattr(keras.layers, name))


@register_converter(*_classes)
def convert_inference_identity(layer, context):
    # Inference-time identities: they vanish from the spiking network.
    return []


@register_converter(keras.layers.RandomCrop)
def convert_random_crop(layer, context):
    size = tuple(int(d) for d in layer.input.shape[1:3])
    if size == (int(layer.height), int(layer.width)) and getattr(layer, "data_format", "channels_last") == (
        "channels_last"
    ):
        return []
    raise UnsupportedLayerError(
        layer,
        f"at inference RandomCrop resizes and centre-crops its input to {layer.height}×{layer.width}, which is not "
        f"an identity for inputs of size {size[0]}×{size[1]}. Received: height={layer.height}, width={layer.width}. "
        "Crop or resize the data before the model, or replace the layer by Cropping2D.",
    )
