"""A third-party layer and its spkeras converter, in one file outside spkeras.

``BorderCrop2D(margin)`` drops ``margin`` rows and columns at each border of a channels-last feature map. It has
no weights and keeps channels, so it converts to a ``"structural"`` step: the spiking network applies the same
layer to the spikes, and the per-channel scales pass through unchanged. Importing this file registers both the
Keras layer (so converted models save and load) and its converter.
"""

import keras

from spkeras.conversion import register_converter
from spkeras.conversion.ir import Step
from spkeras.errors import UnsupportedLayerError


@keras.saving.register_keras_serializable(package="spkeras_test_plugins")
class BorderCrop2D(keras.layers.Layer):
    """Crops ``margin`` pixels from every border of a ``(batch, height, width, channels)`` tensor."""

    def __init__(self, margin=1, **kwargs):
        super().__init__(**kwargs)
        self.margin = int(margin)

    def call(self, inputs):
        m = self.margin
        return inputs[:, m:-m, m:-m, :] if m else inputs

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        m = 2 * self.margin
        return (batch, None if height is None else height - m, None if width is None else width - m, channels)

    def get_config(self):
        return {**super().get_config(), "margin": self.margin}


@register_converter(BorderCrop2D)
def convert_border_crop(layer, context):
    if len(layer.input.shape) != 4:
        raise UnsupportedLayerError(layer, f"expects a 4-D feature map. Received input shape: {layer.input.shape}.")
    config = layer.get_config()

    def make_layer(name):
        return BorderCrop2D.from_config({**config, "name": name})

    return [Step(kind="structural", source=layer, make_layer=make_layer)]
