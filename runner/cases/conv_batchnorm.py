"""A small image classifier: ``Conv2D``, ``BatchNormalization``, ``Dropout`` and pooling, trained
for a few steps with ``SGD(momentum=0.9, nesterov=True)`` so the moving mean and variance are no
longer their initial values and the file holds a momentum slot per weight; predictions are in
inference mode (the moving statistics, no dropout)."""

from tensorflow import keras

TAGS = ("layers",)
INPUT_SHAPE = (8, 8, 3)
SAMPLES, CLASSES = 32, 3
EPOCHS = 2
# Measured: one more step after a TF 2.15 .h5 round trip differed by 6.4e-4 from the producer's.
RANDOM_STEP = "its Dropout draws a new mask at every training step, another one in each process"


def build():
    model = keras.Sequential(
        [
            keras.layers.Conv2D(8, 3, padding="same", input_shape=INPUT_SHAPE),
            keras.layers.BatchNormalization(),
            keras.layers.Activation("relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Dropout(0.25),
            keras.layers.Conv2D(8, 3, padding="same"),
            keras.layers.BatchNormalization(),
            keras.layers.Activation("relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(CLASSES, activation="softmax"),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True),
                  loss="sparse_categorical_crossentropy")
    return model


def training_data():
    import numpy

    images = numpy.linspace(0.0, 4.0, SAMPLES * 8 * 8 * 3, dtype="float32").reshape((SAMPLES,) + INPUT_SHAPE)
    return images, numpy.arange(SAMPLES) % CLASSES


def custom_objects():
    return {}
