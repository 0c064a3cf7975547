"""What a model file declares, read without loading it: its config, its inputs and outputs, and
what wrote it (a format's own metadata). For ``runner.check``; the matrix's workers never import
it, so editing it leaves the matrix's records fresh.

Stdlib at module level (``h5py`` and TensorFlow only inside the functions that read HDF5 files
and serving signatures), like the rest of the worker.
"""

import json
import os

from runner.samples import InputSpec

INDEX_LAYERS = ("Embedding",)  # layers whose input must be integer indices below their input_dim
TEXT_LAYERS = ("StringLookup", "TextVectorization")  # layers that read strings: a word, or a sentence

NOT_RECORDED = "not recorded"
ORIGIN_FIELDS = {  # what each format can record of what wrote it
    "h5": ("keras_version", "backend"),
    "keras": ("keras_version", "date_saved"),
    "savedmodel": ("tensorflow_version", "keras_metadata", "keras_version", "backend"),
    "weights-h5": ("keras_version", "backend"),
    "weights-tf": (),  # a TensorFlow checkpoint records no versions
}


def file_origin(path, fmt):
    """What the file records of what wrote it: ``keras_version`` and ``backend`` (HDF5 attributes,
    a SavedModel's Keras metadata), ``date_saved`` (a .keras file's metadata.json),
    ``tensorflow_version`` and ``keras_metadata`` (a SavedModel's: whether Keras 2 kept its own
    beside TensorFlow's); ``not recorded`` for each thing it does not say."""
    origin = dict.fromkeys(ORIGIN_FIELDS[fmt], NOT_RECORDED)
    try:
        recorded = recorded_origin(path, fmt)
    except Exception:  # a damaged or foreign file: the ladder says what is wrong with it
        recorded = {}
    origin.update((key, str(value)) for key, value in recorded.items() if key in origin and value not in (None, ""))
    return origin


def recorded_origin(path, fmt):
    if fmt == "weights-tf":
        return {}
    if fmt == "savedmodel":
        with open(os.path.join(path, "saved_model.pb"), "rb") as handle:
            version = protobuf_field(handle.read(), 2, 1, 5)  # meta_graphs, meta_info_def, tensorflow_version
        keras = keras_metadata_config(path)
        recorded = {"tensorflow_version": version.decode("utf-8") if version else None,
                    "keras_metadata": "yes" if keras else "no"}
        if keras:
            recorded.update(keras_version=keras.get("keras_version"), backend=keras.get("backend"))
        return recorded
    if fmt == "keras":
        import zipfile

        with zipfile.ZipFile(path) as archive:
            metadata = json.loads(archive.read("metadata.json").decode("utf-8"))
        return {"keras_version": metadata.get("keras_version"), "date_saved": metadata.get("date_saved")}
    import h5py

    with h5py.File(path, "r") as handle:
        return {key: text_of(handle.attrs.get(key)) for key in ("keras_version", "backend")}


def text_of(value):
    return value.decode("utf-8") if isinstance(value, bytes) else value


def read_config(path, fmt):
    if fmt == "keras":
        import zipfile

        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("config.json").decode("utf-8"))
    import h5py

    with h5py.File(path, "r") as handle:
        text = handle.attrs.get("model_config")
    if text is None:
        raise ValueError("this HDF5 file holds no model_config: weights only? Load it into its model's code")
    return json.loads(text.decode("utf-8") if isinstance(text, bytes) else text)


def model_layers(config):
    """The layer configs of a model config (a Sequential's old list form too)."""
    inner = config.get("config")
    if isinstance(inner, list):  # old standalone Keras (1.2.2, 2.1.6; not 2.2.4) wrote its list of layers
        return inner
    return (inner.get("layers") if isinstance(inner, dict) else None) or []


def config_specs(config):
    """One InputSpec per model input: from InputLayers in ``input_layers`` order, else the
    shape a Sequential's first layer or a subclassed model was built with."""
    inner = config.get("config") if isinstance(config.get("config"), dict) else {}
    layers = model_layers(config)
    limits, texts = index_limits(layers), text_feeds(layers)
    input_layers, first_shaped = {}, []
    for layer in layers:
        layer_config = layer.get("config") or {}
        shape = plain_shape(layer_config.get("batch_input_shape") or layer_config.get("batch_shape"))
        if shape is None:
            continue
        name = layer_config.get("name", layer.get("name"))
        if layer.get("class_name") == "InputLayer":
            input_layers[name] = InputSpec(name, shape, dtype_name(layer_config), limits.get(name),
                                           *texts.get(name, ()))
        elif not first_shaped:  # a Sequential's first layer, given input_shape=
            first_shaped.append(InputSpec(None, shape, dtype_name(layer_config), limits.get(name),
                                          *texts.get(name, ())))
    declared = inner.get("input_layers") or []
    if declared and isinstance(declared[0], str):  # Keras 3 writes one input as [name, 0, 0]
        declared = [declared]
    order = [entry[0] for entry in declared]
    if input_layers:
        return [input_layers[name] for name in order if name in input_layers] or list(input_layers.values())
    if first_shaped:
        return first_shaped
    built = plain_shape((config.get("build_config") or {}).get("input_shape") or inner.get("build_input_shape"))
    if built and all(isinstance(item, (list, dict)) for item in built):  # built with several inputs
        return [InputSpec(None, plain_shape(item), "float32", None) for item in built if plain_shape(item)]
    return [InputSpec(None, built, "float32", None)] if built else []


def plain_shape(shape):
    """A shape as a list: a SavedModel's Keras metadata writes ``{"class_name": "__tuple__",
    "items": [...]}`` where a config file has the list."""
    if isinstance(shape, dict):
        shape = shape.get("items")
    return list(shape) if isinstance(shape, (list, tuple)) else None


def index_limits(layers):
    """``{input name: input_dim}`` for each input an Embedding reads directly (the smallest)."""
    limits = {}
    for name, config in input_readers(layers, INDEX_LAYERS):
        if isinstance(config.get("input_dim"), int):
            limits[name] = min(config["input_dim"], limits.get(name, config["input_dim"]))
    return limits


def text_feeds(layers):
    """``{input name: (words, sentences)}`` for each input a lookup layer reads directly."""
    feeds = {}
    for name, config in input_readers(layers, TEXT_LAYERS):
        vocabulary = config.get("vocabulary")
        words = tuple(str(word) for word in vocabulary) if isinstance(vocabulary, list) and vocabulary else None
        feeds.setdefault(name, (words, "output_sequence_length" in config))  # only TextVectorization has it
    return feeds


def input_readers(layers, classes):
    """``(input name, layer config)`` for each layer of CLASSES that reads a model input: an
    InputLayer it is connected to, or (a Sequential, whose layers have no links) the layer before
    it when it is the model's first; the first layer's own name when it is that layer itself."""
    sequential = not any(layer.get("inbound_nodes") for layer in layers)
    for index, layer in enumerate(layers):
        if layer.get("class_name") not in classes:
            continue
        config = layer.get("config") or {}
        if sequential:
            before = [other for other in layers[:index] if other.get("class_name") == "InputLayer"]
            if index != len(before):  # a layer before it that is not an InputLayer: it reads no input
                continue
            names = [(other.get("config") or {}).get("name", other.get("name")) for other in before]
            names.append(config.get("name", layer.get("name")))
        else:
            names = inbound_names(layer.get("inbound_nodes"))
        for name in names:
            yield name, config


def inbound_names(nodes):
    """The layer names a functional config's ``inbound_nodes`` point to, in either Keras' form:
    ``[[name, node, tensor, kwargs]]`` lists (Keras 2) or ``keras_history`` (Keras 3)."""
    names = []
    if isinstance(nodes, dict):
        history = (nodes.get("config") or {}).get("keras_history") if nodes.get("class_name") == "__keras_tensor__" \
            else None
        if history:
            names.append(history[0])
        for value in nodes.values():
            names.extend(inbound_names(value))
    elif isinstance(nodes, list):
        if len(nodes) >= 3 and isinstance(nodes[0], str) and isinstance(nodes[1], int):
            names.append(nodes[0])
        else:
            for value in nodes:
                names.extend(inbound_names(value))
    return names


def output_names(config):
    """The output layers' names of a functional config, in order; a Sequential's last layer's."""
    inner = config.get("config") if isinstance(config.get("config"), dict) else {}
    declared = inner.get("output_layers") or []
    if declared and isinstance(declared[0], str):
        declared = [declared]
    if declared:
        return tuple(entry[0] for entry in declared)
    layers = model_layers(config)
    last = (layers[-1].get("config") or {}).get("name") if layers else None
    return (last,) if last else ()


def config_compute_dtypes(config):
    """The dtypes a model config's layers name, each policy as the dtype it computes in
    (``mixed_float16``: float16), nested models' layers included."""
    found, pending = set(), [config]
    while pending:
        item = pending.pop()
        if isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, dict):
            for key, value in item.items():
                if key == "dtype":
                    found.add(policy_compute_dtype(value))
                else:
                    pending.append(value)
    return found


def policy_compute_dtype(dtype):
    """``float16`` of ``mixed_float16``, as a string or as a Keras 2 / Keras 3 policy config."""
    name = str(policy_name(dtype))
    return name[len("mixed_"):] if name.startswith("mixed_") else name


def policy_name(dtype):
    """A config's dtype as written: a string, or the name in a Keras 2 ``Policy`` / Keras 3
    ``DTypePolicy`` config."""
    return (dtype.get("config") or {}).get("name") if isinstance(dtype, dict) else dtype


def dtype_name(layer_config):
    dtype = policy_name(layer_config.get("dtype")) or "float32"
    return dtype if dtype in ("float16", "float32", "float64", "int32", "int64", "string") else "float32"


def saved_model_specs(path, keras_config=None):
    """The serving signature's inputs (it lists them by name), in the order of the Keras config
    beside it when there is one, with what that config says they feed (by input name; for a model
    of one input, its one input's)."""
    import tensorflow as tf

    serving = tf.saved_model.load(path).signatures["serving_default"]
    args, kwargs = serving.structured_input_signature
    named = list(kwargs.items()) or [(None, spec) for spec in args]
    declared = config_specs(keras_config) if keras_config else []
    order = [spec.name for spec in declared]
    if set(order) == set(name for name, _spec in named):  # the model's order, which Keras' calls take
        named.sort(key=lambda item: order.index(item[0]))
    feeds = {spec.name: spec[3:] for spec in declared}  # index_limit, words, sentences
    if len(named) == 1 and len(declared) == 1:
        feeds = {named[0][0]: declared[0][3:]}
    return [InputSpec(name, spec.shape.as_list(), spec.dtype.name, *feeds.get(name, ())) for name, spec in named]


def saved_model_dtypes(path):
    """The dtypes a SavedModel's graph computes in (every op's type attributes, functions' too):
    a Keras 3 export of a ``mixed_float16`` model has no Keras config, only float16 ops."""
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as handle:
        saved.ParseFromString(handle.read())
    found = set()
    for graph in (meta.graph_def for meta in saved.meta_graphs):
        nodes = list(graph.node) + [node for function in graph.library.function for node in function.node_def]
        for node in nodes:
            for value in node.attr.values():
                types = list(value.list.type) + ([value.type] if value.HasField("type") else [])
                found.update(tf.dtypes.as_dtype(kind).name for kind in types)
    return found


def keras_metadata_config(path):
    """The model's config as Keras 2 keeps it in a SavedModel (``keras_metadata.pb``: the root
    object's metadata is the first JSON in it with layers), or None (Keras 3's ``export`` and
    TensorFlow's own SavedModels keep none)."""
    metadata = os.path.join(path, "keras_metadata.pb")
    if not os.path.isfile(metadata):
        return None
    with open(metadata, "rb") as handle:
        data = handle.read()
    try:
        for chunk in protobuf_strings(data):
            entry = json_object(chunk)
            if entry and model_layers(entry):
                return entry
    except ValueError:  # not the message it should be: as if it kept none
        pass
    return None


def json_object(chunk):
    if not chunk.startswith(b"{"):
        return None
    try:
        entry = json.loads(chunk.decode("utf-8"))
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None


def protobuf_strings(data, depth=0):
    """Every length-delimited field of a serialized protobuf message, nested ones too, in order
    (the wire format, so no generated code of any TensorFlow version is needed)."""
    for _number, value in protobuf_fields(data):
        if not isinstance(value, bytes):
            continue
        yield value
        if depth < 4 and not value.startswith(b"{"):
            try:
                nested = list(protobuf_strings(value, depth + 1))
            except ValueError:  # not a message: a string or bytes
                nested = []
            for inner in nested:
                yield inner


def protobuf_field(data, *numbers):
    """The first value at a path of field numbers (``2, 1, 5``: field 5 of field 1 of field 2), or None."""
    for number, value in protobuf_fields(data):
        if number == numbers[0]:
            return value if len(numbers) == 1 else protobuf_field(value, *numbers[1:])
    return None


def protobuf_fields(data):
    """``(field number, value)`` of a message's fields: bytes when length-delimited, else an int
    (a varint; fixed-width values are skipped as None)."""
    position = 0
    while position < len(data):
        key, position = read_varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = read_varint(data, position)
        elif wire in (1, 5):
            value, position = None, position + (8 if wire == 1 else 4)
        elif wire == 2:
            length, position = read_varint(data, position)
            value, position = data[position:position + length], position + length
        else:
            raise ValueError("not a protobuf message (wire type {})".format(wire))
        if position > len(data):
            raise ValueError("not a protobuf message (a field runs past its end)")
        yield number, value


def read_varint(data, position):
    value, shift = 0, 0
    while True:
        if position >= len(data) or shift > 63:
            raise ValueError("not a protobuf message (a cut varint)")
        byte = data[position]
        value |= (byte & 0x7F) << shift
        position += 1
        shift += 7
        if not byte & 0x80:
            return value, position
