"""tests/corpus.py's models as a user of standalone Keras wrote them (``import keras`` on a
TensorFlow 1.x backend, before Keras moved into TensorFlow):

    python tests/corpus_standalone.py OUTDIR

- ``text_lstm``: a ``Sequential`` without an ``Input``: the ``Embedding``'s ``input_length``
  declares the input, so the file's config holds only the first layer's ``batch_input_shape``.
  Keras 1.2.2 and 2.1.6 write a ``Sequential``'s config in its old form, a bare list of layers.
- ``two_tower`` (Keras 2 only): two named inputs, two named outputs.

Saved as ``model.h5``, its weights alone (``model.weights.h5``) and ``model.json``.
``STANDALONE_STACKS`` are the environments that write them: not matrix stacks, but pinned like
``matrix/stacks.toml``'s TF 1.15 (Keras 1.2 also imports ``pkg_resources``; TF 1.8 needs numpy < 1.15).
"""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

STANDALONE_STACKS = {  # id: (Python, requirements)
    "keras1.2-tf1.8-py3.6": ("3.6", ("keras==1.2.2", "tensorflow==1.8.0", "h5py<3", "protobuf<3.21", "numpy<1.15",
                                     "setuptools<60")),
    "keras2.1-tf1.8-py3.6": ("3.6", ("keras==2.1.6", "tensorflow==1.8.0", "h5py<3", "protobuf<3.21", "numpy<1.15")),
}


def main(out):
    import keras
    import numpy as np
    import tensorflow as tf
    from keras.layers import LSTM, Dense, Embedding, GlobalAveragePooling1D, Input
    from keras.models import Model, Sequential

    keras2 = int(keras.__version__.split(".")[0]) >= 2
    np.random.seed(7)
    tf.set_random_seed(7)
    models = {"text_lstm": Sequential([Embedding(1000, 16, input_length=20), LSTM(8),
                                       Dense(1, activation="sigmoid")], name="text_lstm")}
    if keras2:
        from keras.layers import Concatenate

        text, meta = Input(shape=(12,), dtype="int32", name="text"), Input(shape=(4,), name="meta")
        pooled = GlobalAveragePooling1D()(Embedding(500, 8)(text))
        joined = Concatenate()([pooled, Dense(8, activation="relu")(meta)])
        outputs = [Dense(1, name="score")(joined), Dense(3, activation="softmax", name="tags")(joined)]
        models["two_tower"] = Model(inputs=[text, meta], outputs=outputs, name="two_tower")
    for name, model in models.items():
        folder = os.path.join(out, name)
        os.makedirs(folder)
        model.compile(optimizer="adam", loss="mse")
        model.save(os.path.join(folder, "model.h5"))
        model.save_weights(os.path.join(folder, "model.weights.h5"))
        with open(os.path.join(folder, "model.json"), "w") as handle:
            handle.write(model.to_json())


if __name__ == "__main__":
    main(sys.argv[1])
