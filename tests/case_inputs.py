"""Run inside a real stack: every case's declared inputs against the model it builds.

    python tests/case_inputs.py        (from the project root; prints one JSON line per case)

For each case the stack can build: the declared inputs match the model's (count, order, name,
shape, dtype), where the model declares them (a subclassed model does not); the fixed values
are valid for it (ids below the ``input_dim`` of an ``Embedding`` the model has, words its
``StringLookup`` lists); and the model predicts finite numbers from them. A case the stack lacks
an API for says so.
"""

import json
import os
import sys

sys.path.insert(0, os.getcwd())

from runner import compat
from runner.cases import case_inputs, load_case
from runner.ladder import model_input, named_outputs
from runner.samples import fixed_inputs


def problems(keras, model, specs):
    import numpy

    found = []
    outputs = named_outputs(model.predict(model_input(fixed_inputs(specs), by_name=False), verbose=0), [])
    if not all(numpy.isfinite(values).all() for _name, values in outputs):
        found.append("the prediction is not finite")
    declared = getattr(model, "inputs", None) or [None] * len(specs)  # a subclassed model declares none
    if len(specs) != len(declared):
        return [*found, f"{len(specs)} inputs declared, the model has {len(declared)}"]
    layers = list(compat.every_layer(model))
    input_dims = {int(layer.input_dim) for layer in layers if isinstance(layer, keras.layers.Embedding)}
    vocabulary = set()
    for layer in layers:
        if type(layer).__name__ == "StringLookup":
            vocabulary |= {str(word) for word in layer.get_vocabulary()}
    for spec, tensor, (name, array) in zip(specs, declared, fixed_inputs(specs), strict=True):
        if tensor is not None:
            found += declaration_problems(spec, tensor, name)
        if spec.index_limit and (spec.index_limit not in input_dims or array.max() >= spec.index_limit):
            found.append(f"input {name!r}: ids below {spec.index_limit} (max {array.max()}), "
                         f"the model's Embeddings take {sorted(input_dims)}")
        if spec.dtype == "string" and not set(array.ravel().tolist()) <= vocabulary:
            found.append(f"input {name!r}: words outside the lookup's vocabulary")
    return found


def declaration_problems(spec, tensor, name):
    shape = [None if d is None else int(d) for d in tuple(tensor.shape)]
    dtype = getattr(tensor.dtype, "name", tensor.dtype)
    found = []
    if spec.name and tensor.name.split(":")[0] != spec.name:
        found.append(f"input {spec.name!r} is named {tensor.name!r} in the model")
    # past the batch dimension, which a model built by its first call takes from the data
    if list(spec.shape)[1:] != shape[1:] or spec.dtype != dtype:
        found.append(f"input {name!r} declared {spec.dtype} {list(spec.shape)}, the model takes {dtype} {shape}")
    return found


def main():
    keras = compat.import_keras()
    for case_id in sys.argv[1:]:
        case = load_case(case_id)
        missing = compat.unavailable_reason(keras, case)
        if missing:
            print(json.dumps({"case": case_id, "unavailable": missing}))
            continue
        compat.seed_everything(0)
        model = case.build()
        print(json.dumps({"case": case_id, "problems": problems(keras, model, case_inputs(case))}))
        compat.clear_session(keras)


if __name__ == "__main__":
    main()
