"""The separate module of seed example 3, imported as ``my_module`` like a user's own file.

The seed document elides the layer's body; this one is the smallest that has weights: a
learned per-feature scale and shift, so a wrong load shows in the predictions.
"""

from tensorflow import keras


class MyLayerFromModule(keras.layers.Layer):
    def build(self, input_shape):
        features = int(input_shape[-1])
        self.scale = self.add_weight(
            name="scale", shape=(features,), initializer="random_normal", trainable=True
        )
        self.shift = self.add_weight(
            name="shift", shape=(features,), initializer="random_normal", trainable=True
        )
        super(MyLayerFromModule, self).build(input_shape)

    def call(self, inputs):
        return inputs * self.scale + self.shift
