"""Signatures: masking, the catalog's matching, and the grouping the report shows."""

from pathlib import Path

import pandas as pd
import pytest

from reports.catalog import CatalogError, load_catalog, match_error
from reports.signatures import describe_seen, normalize, signature_of, summarize


def test_masks_paths_numbers_addresses_and_layer_suffixes() -> None:
    message = ("File format not supported: filepath=artifacts/tf2.15-py3.11/custom_layer/savedmodel. "
               "Layer dense_3 at 0x7f3a2b1c has 64 units")
    assert normalize(message) == "File format not supported: filepath=<path>. Layer dense_N at 0x? has N units"


def test_keeps_the_keras_major_version() -> None:
    message = "Keras 3 only supports V3 `.keras` files, found 2"
    assert normalize(message) == "Keras 3 only supports V3 `.keras` files, found N"


def test_same_failure_in_two_cells_has_one_signature() -> None:
    prefix = "Error when deserializing class 'InputLayer' using config="
    a = {"type": "TypeError", "message": prefix + "{'batch_shape': [None, 10]}."}
    b = {"type": "TypeError", "message": prefix + "{'batch_shape': [4, 10]}."}
    assert signature_of(a) == signature_of(b) == f"TypeError: {prefix}{{...}}."


def test_no_error_no_signature() -> None:
    assert signature_of(None) is None and match_error(None) is None


@pytest.mark.parametrize(
    ("error_type", "message", "expected"),
    [
        ("TypeError", "'module' object is not callable", "module-not-callable"),
        ("TypeError", "Error when deserializing class 'InputLayer' using config={}. Exception encountered: "
                      "Unrecognized keyword arguments: ['batch_shape', 'optional']", "keras3-batch-shape"),
        # the wrapper names the inner cause: the narrow entry must win over the wrapper's
        ("TypeError", "<class 'Sequential'> could not be deserialized properly. ... Could not locate class "
                      "'MovableLayer'.", "could-not-locate"),
        ("TypeError", "<class 'Sequential'> could not be deserialized properly. Exception: foo",
         "could-not-be-deserialized"),
        ("OSError", "Unable to synchronously open file (file signature not found)", "zip-read-as-hdf5"),
        # weights: a subclassed model with no layers yet, weights that fit another model, and a
        # .weights.h5 name read as the new layout (Keras 3 says "received 0" only for the last)
        ("ValueError", "Layer count mismatch when loading weights from file. Model expected 0 layers, found 2 "
                       "saved layers.", "h5-layer-count"),
        ("ValueError", "Layer count mismatch when loading weights from file. Model expected 3 layers, found 4 "
                       "saved layers.", "weights-do-not-fit"),
        ("ValueError", "A total of 3 objects could not be loaded. Example error message for object <Embedding "
                       "name=embedding, built=True>:\n\nThe shape of the target variable and the shape of the "
                       "target value in `variable.assign(value)` must match.", "weights-do-not-fit"),
        ("ValueError", "A total of 3 objects could not be loaded. Example error message for object <Embedding "
                       "name=embedding, built=True>:\n\nLayer 'embedding' expected 1 variables, but received 0 "
                       "variables during loading.", "legacy-weights-new-name"),
        # standalone Keras' files (tests/corpus_standalone.py) in Keras 2 and 3
        ("TypeError", "Error when deserializing class 'Embedding' using config={'input_dtype': 'int32'}. "
                      "Exception encountered: ('Keyword argument not understood:', 'input_dtype')", "keras1-config"),
        ("TypeError", "pop expected at most 1 argument, got 2", "keras3-list-sequential"),
        ("TypeError", "Could not locate class 'Model'. Make sure custom classes ...", "keras2-json-in-keras3"),
        # the layers cases' errors, as the full run gave them (the wrapper names the inner cause)
        ("ValueError", "Unknown layer: 'NotEqual'. Please ensure you are using a `keras.utils.custom_object_scope`",
         "keras3-h5-op-layer"),
        ("ValueError", "Unknown layer: 'MyCustomLayer'. Please ensure ...", "unknown-layer"),
        ("ValueError", "Unknown layer: Functional", "old-keras-functional-class"),
        ("TypeError", "Error when deserializing class 'Conv2D' using config={'filters': 8}.\n\nException encountered: "
                      "<class 'keras.src.initializers.random_initializers.GlorotUniform'> could not be deserialized "
                      "properly. ... Exception encountered: GlorotUniform.__init__() got an unexpected keyword "
                      "argument 'dtype'", "keras3-old-initializer-config"),
        ("TypeError", "Error when deserializing class 'MultiHeadAttention' using config={'seed': None}.\n\nException "
                      "encountered: Unrecognized keyword arguments passed to MultiHeadAttention: {'seed': None}",
         "keras3-dropped-layer-argument"),
        ("TypeError", "<class 'keras.src.models.functional.Functional'> could not be deserialized properly. ... "
                      "Unrecognized keyword arguments passed to Embedding: {'input_length': None}",
         "keras3-dropped-layer-argument"),
        ("TypeError", "('Keyword argument not understood:', 'keepdims')", "newer-layer-argument"),
        ("TypeError", "Error when deserializing class 'Dense' using config={'activation': {'module': 'builtins', "
                      "'class_name': 'function', 'config': 'Custom>scaled_tanh', 'registered_name': 'function'}}.\n\n"
                      "Exception encountered: Unknown activation function: 'function'. Please ensure ...",
         "h5-registered-function"),
        ("ValueError", "Unknown activation function:Custom>scaled_tanh", "registered-name-unknown"),
        ("AttemptTimeout", "no result within 60 s: interrupted (the attempt's time limit)", "load-never-returns"),
        ("TypeError", "Could not deserialize class 'Functional' because its parent module "
                      "tf_keras.src.models.functional cannot be imported.", "keras-module-path"),
        ("ValueError", "NodeDef mentions attr 'validate_shape' not in Op<name=AssignVariableOp; ...>",
         "savedmodel-newer-op-attr"),
        ("KeyError", "'optimizer'", "mixed-precision-optimizer"),
        ("KeyError", "'name'", "mixed-precision-optimizer"),
        ("ValueError", "Something nobody has seen", None),
    ],
)
def test_catalog_matches_the_narrowest_entry(error_type: str, message: str, expected: str | None) -> None:
    entry = match_error({"type": error_type, "message": message})
    assert (entry.id if entry else None) == expected


def test_shipped_catalog_is_complete() -> None:
    catalog = load_catalog()
    assert len(catalog) >= 15
    assert all(e.title and e.explanation and e.remedy for e in catalog)


def test_broken_catalog_names_the_entry_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "catalog.toml"
    bad.write_text('[[signature]]\nid = "x"\nmatch = "("\ntitle = "t"\nexplanation = "e"\nremedy = "r"\n')
    with pytest.raises(CatalogError, match="signature 'x': match is not a valid regular expression"):
        load_catalog(bad)
    bad.write_text('[[signature]]\nid = "y"\nmatch = "a"\n')
    with pytest.raises(CatalogError, match=r"signature 'y': field\(s\) \['title', 'explanation', 'remedy'\]"):
        load_catalog(bad)


def row(producer: str, consumer: str, case: str, fmt: str, verdict: str, remedy: str | None,
        message: str) -> dict:
    error = {"type": "TypeError", "message": message}
    entry = match_error(error)
    return {"producer": producer, "consumer": consumer, "case": case, "format": fmt, "verdict": verdict,
            "remedy": remedy, "signature": signature_of(error), "signature_id": entry.id if entry else None,
            "error_type": "TypeError", "error_message": message}


def test_groups_by_catalog_entry_and_says_where_it_was_seen() -> None:
    frame = pd.DataFrame([
        row("k3", "k2", "a", "h5", "error", None, "Unrecognized keyword arguments: ['batch_shape']"),
        row("k3", "tfk", "b", "keras", "error", None, "x: Unrecognized keyword arguments: ['batch_shape', 'optional']"),
        row("k2", "k2", "a", "h5", "error", None, "'module' object is not callable"),
        row("k2", "k3", "a", "h5", "remedy", "compile=False", "never seen before 42"),
    ])
    groups = summarize(frame, {"k2": "keras2", "k3": "keras3", "tfk": "tf_keras"})
    assert [(g["id"], g["cells"]) for g in groups] == [("keras3-batch-shape", 2), ("module-not-callable", 1),
                                                       (None, 1)]
    batch = groups[0]
    assert len(batch["variants"]) == 2
    assert batch["seen"]["flavor_pairs"] == ["keras3 -> keras2", "keras3 -> tf_keras"]
    assert batch["seen"]["same_stack"] is False and groups[1]["seen"]["same_stack"] is True
    assert groups[2]["remedies_that_worked"] == {"compile=False": 1} and groups[2]["title"] is None
    assert "including producer and consumer on the same stack" in describe_seen(groups[1]["seen"], 2)


def test_a_broken_catalog_stops_the_report_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from reports import catalog
    from reports.__main__ import main as report_main

    bad = tmp_path / "catalog.toml"
    bad.write_text('[[signature]]\nid = "y"\nmatch = "a"\n')
    monkeypatch.setattr(catalog, "CATALOG", bad)
    load_catalog.cache_clear()
    try:
        assert report_main([str(Path(__file__).with_name("data") / "run-golden.json"), str(tmp_path / "site")]) == 2
    finally:
        load_catalog.cache_clear()
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and f"{bad}: signature 'y': field(s) ['title', 'explanation', 'remedy']" in error
