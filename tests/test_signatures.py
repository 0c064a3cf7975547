from reports.signatures import normalize, signature_of


def test_masks_paths_numbers_addresses_and_layer_suffixes() -> None:
    message = ("File format not supported: filepath=artifacts/tf2.15-py3.11/custom_layer/savedmodel. "
               "Layer dense_3 at 0x7f3a2b1c has 64 units")
    assert normalize(message) == "File format not supported: filepath=<path>. Layer dense_N at 0x? has N units"


def test_same_failure_in_two_cells_has_one_signature() -> None:
    prefix = "Error when deserializing class 'InputLayer' using config="
    a = {"type": "TypeError", "message": prefix + "{'batch_shape': [None, 10]}."}
    b = {"type": "TypeError", "message": prefix + "{'batch_shape': [4, 10]}."}
    assert signature_of(a) == signature_of(b) == f"TypeError: {prefix}{{...}}."


def test_no_error_no_signature() -> None:
    assert signature_of(None) is None
