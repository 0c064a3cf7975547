"""A stock architecture: ``keras.applications.MobileNetV2`` built with ``weights=None`` at
``alpha=0.35`` on 32x32 images, as a user fine-tunes one: dozens of depthwise convolutions,
batch normalizations and residual adds whose configs every Keras writes its own way."""

from tensorflow import keras

TAGS = ("layers",)
MEASURED_ON = "eras"  # 10 to 20 s a load: its full cross product would take hours
INPUT_SHAPE = (32, 32, 3)
CLASSES = 4


def build():
    model = keras.applications.MobileNetV2(input_shape=INPUT_SHAPE, alpha=0.35, weights=None, classes=CLASSES)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def custom_objects():
    return {}
