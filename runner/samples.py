"""What a model is fed and what it gave back: input specs, the fixed values for them, and the
reference file (the inputs a producer fed and the outputs it predicted).

The same input in every stack: one deterministic grid of values in [-1, 1), cast or mapped to
what each input takes (indices below an ``Embedding``'s ``input_dim``, small integer ids, words).
Inputs and outputs cross the process boundary as named lists: every input in the model's order,
every output by name. Numpy only inside the functions, like the rest of the worker.
"""

import collections

INPUT_ROWS = 4  # the batch every model predicts on
SEQUENCE_STEPS = 8  # the length given to an input dimension the model leaves open
INTEGER_VALUES = 10  # integer inputs no layer bounds take values below this
# the words of a string input whose lookup layer lists no vocabulary (an adapted one keeps it elsewhere)
COMMON_WORDS = ("the", "a", "good", "bad", "movie", "great", "is", "not", "and", "it")
SENTENCE_WORDS = 3  # the words in each value of an input that feeds a TextVectorization

ATOL = 1e-5  # the largest difference from a reference output that still counts as equal (float32)
# A model computing in a 16-bit float is held to its precision: four epsilons of the dtype.
# Measured: the mixed_float16 case's outputs differ by up to 4.7e-4 between TF 2.9 / 2.15 and
# Keras 3, every load mode alike: rounding, not a wrong model.
LOW_PRECISION_ATOL = {"float16": 4 * 2.0 ** -10, "bfloat16": 4 * 2.0 ** -7}

InputSpec = collections.namedtuple("InputSpec", "name shape dtype index_limit words sentences")
InputSpec.__new__.__defaults__ = (None, None, False)
"""One model input: ``name`` (None when unnamed), ``shape`` with its batch dimension first (None
for an open dimension), ``dtype``, ``index_limit``: the ``input_dim`` of an ``Embedding`` it
feeds, so its values are indices below it whatever dtype it has (None: no such layer); for a
string input, ``words``: the vocabulary the lookup layer it feeds lists (None: none listed), and
``sentences``: that layer is a ``TextVectorization``, which reads sentences, not single words."""


def grid(shape):
    """INPUT_ROWS rows of SHAPE (without the batch dimension), float32 values in [-1, 1)."""
    import numpy

    width = 1
    for dim in shape:
        width *= dim
    values = [((i * 37) % 101) / 50.0 - 1.0 for i in range(INPUT_ROWS * width)]
    return numpy.asarray(values, dtype="float32").reshape((INPUT_ROWS, *tuple(shape)))


def fixed_array(spec):
    """The fixed input in the spec's shape (SEQUENCE_STEPS for open dimensions): indices below
    the ``index_limit`` (in the declared dtype) for an input that feeds an Embedding; small
    integers from the same grid for other integer inputs (ids); words for a string input."""
    import numpy

    values = grid([SEQUENCE_STEPS if d is None else int(d) for d in list(spec.shape)[1:]])
    if spec.index_limit:
        indices = numpy.floor((values + 1.0) / 2.0 * spec.index_limit)  # the grid reaches 1.0: clip
        return numpy.minimum(indices, spec.index_limit - 1).astype(spec.dtype)
    if "int" in spec.dtype:
        return (numpy.rint((values + 1.0) * 50.0) % INTEGER_VALUES).astype(spec.dtype)
    if spec.dtype == "string":
        return text_array(values, spec.words or COMMON_WORDS, SENTENCE_WORDS if spec.sentences else 1)
    return values.astype(spec.dtype)


def text_array(values, words, count):
    """Values of COUNT words each, picked from WORDS by the grid's values."""
    import numpy

    picks = numpy.minimum(numpy.floor((values + 1.0) / 2.0 * len(words)).astype(int), len(words) - 1)
    texts = [" ".join(words[(pick + step) % len(words)] for step in range(count)) for pick in picks.ravel()]
    return numpy.array(texts).reshape(values.shape)


def fixed_inputs(specs):
    """``[(name, array)]``: one fixed array per spec, in order."""
    return [(spec.name, fixed_array(spec)) for spec in specs]


def tolerance_for(compute_dtypes):
    """The tolerance for a model whose layers compute in COMPUTE_DTYPES: the loosest they need."""
    return max([LOW_PRECISION_ATOL.get(str(dtype), ATOL) for dtype in compute_dtypes] + [ATOL])


def reference_data(inputs, outputs, tolerance=ATOL, resumed=None):
    """The reference file's content: named inputs (with their dtype), named outputs, and the
    tolerance a load's outputs are compared with; for a trained case, ``resumed``: the outputs
    after one more training step (``runner.ladder.resumed_step``)."""
    data = {"inputs": [{"name": name, "dtype": str(array.dtype), "values": array.tolist()} for name, array in inputs],
            "outputs": named_values(outputs), "tolerance": tolerance}
    if resumed is not None:
        data["resumed"] = named_values(resumed)
    return data


def named_values(outputs):
    return [{"name": name, "values": values.tolist()} for name, values in outputs]


def read_named_values(entries):
    """``named_values`` read back: ``[(name, values)]``."""
    return [(entry["name"], entry["values"]) for entry in entries]


def read_resumed(reference):
    """``[(name, values)]`` predicted after one more training step, or None (an untrained case)."""
    resumed = reference.get("resumed")
    return None if resumed is None else read_named_values(resumed)


def read_reference(reference):
    """``(inputs, expected, tolerance)`` of a reference file's content: ``[(name, array)]`` as
    fed, ``[(name, values)]`` as predicted, and the largest difference that counts as equal."""
    import numpy

    inputs = [(entry["name"], numpy.asarray(entry["values"], dtype=entry["dtype"])) for entry in reference["inputs"]]
    return inputs, read_named_values(reference["outputs"]), reference.get("tolerance", ATOL)
