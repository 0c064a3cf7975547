"""A subclassed ``keras.Model``: its architecture is Python code, not a layer graph, so only
formats that keep the class name and config (or traced functions) can bring it back."""

from tensorflow import keras

TAGS = ("extra",)
INPUT_SHAPE = (10,)
REQUIRES = ("model_subclassing",)


class TwoLayerModel(keras.Model):
    def __init__(self, units=8, **kwargs):
        super(TwoLayerModel, self).__init__(**kwargs)
        self.units = units
        self.hidden = keras.layers.Dense(units, activation="relu")
        self.head = keras.layers.Dense(1)

    def call(self, inputs):
        return self.head(self.hidden(inputs))

    def get_config(self):
        return {"units": self.units, "name": self.name}


def build():
    model = TwoLayerModel(units=8)
    model.compile(optimizer="adam", loss="mse")
    return model


def custom_objects():
    return {"TwoLayerModel": TwoLayerModel}
