"""A layer registered with Keras under a package name, imported by its case like a user's library.

Importing this module is what registers the class; a load then needs no ``custom_objects``.
"""

from tensorflow import keras

PACKAGE = "compat_matrix"


class RegisteredScale(keras.layers.Layer):
    def build(self, input_shape):
        self.scale = self.add_weight(
            name="scale", shape=(int(input_shape[-1]),), initializer="random_normal", trainable=True
        )
        super(RegisteredScale, self).build(input_shape)

    def call(self, inputs):
        return inputs * self.scale


# A Keras without the registry (standalone Keras 2) still imports this module; its case is unavailable there.
if hasattr(keras.utils, "register_keras_serializable"):
    RegisteredScale = keras.utils.register_keras_serializable(package=PACKAGE)(RegisteredScale)
