"""Seed example 2 trained for one epoch, so the file holds optimizer state as well as weights.

Compare with ``custom_loss``, which is never trained: the optimizer's variables are what
differ between the two artifacts.
"""

from runner.cases import custom_loss

TAGS = ("extra",)
REQUIRES = ("tensorflow_ops",)  # the loss it trains with: tf.abs
INPUT_SHAPE = custom_loss.INPUT_SHAPE
EPOCHS = 1
SAMPLES = 32


def build():
    return custom_loss.build()


def training_data():
    import numpy

    features = numpy.linspace(-1.0, 1.0, SAMPLES * INPUT_SHAPE[0], dtype="float32").reshape((SAMPLES,) + INPUT_SHAPE)
    return features, features.sum(axis=1, keepdims=True)


def custom_objects():
    return custom_loss.custom_objects()
