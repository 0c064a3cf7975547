"""A small image classifier: ``Conv2D``, ``BatchNormalization``, ``Dropout`` and pooling, trained
for a few steps with ``SGD(momentum=0.9, nesterov=True)`` so the moving mean and variance are no
longer their initial values and the file holds a momentum slot per weight; predictions are in
inference mode (the moving statistics, no dropout)."""

from tensorflow import keras

TAGS = ("layers",)
INPUT_SHAPE = (8, 8, 3)
SAMPLES, CLASSES = 32, 3


def build():
    import numpy

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
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9, nesterov=True),
                  loss="sparse_categorical_crossentropy")
    images = numpy.linspace(0.0, 4.0, SAMPLES * 8 * 8 * 3, dtype="float32").reshape((SAMPLES,) + INPUT_SHAPE)
    labels = numpy.arange(SAMPLES) % CLASSES
    model.fit(images, labels, epochs=2, batch_size=8, shuffle=False, verbose=0)
    return model


def custom_objects():
    return {}
