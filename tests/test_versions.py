"""`matrix versions`: what PyPI has that the declaration misses, on hand-made release data."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from matrix import versions
from matrix.errors import MatrixError
from matrix.stacks import Stack

NOW = datetime(2026, 11, 25, tzinfo=UTC)


def files(*pythons: str, age_days: float = 30, yanked: bool = False) -> list[dict[str, Any]]:
    uploaded = (NOW - timedelta(days=age_days)).isoformat().replace("+00:00", "Z")
    return [{"filename": f"pkg-1-cp{p.replace('.', '')}-cp{p.replace('.', '')}-manylinux.whl",
             "upload_time_iso_8601": uploaded, "yanked": yanked} for p in pythons]


def test_latest_final_patch_per_minor_skips_young_yanked_and_pre_releases() -> None:
    releases = {"2.9.2": files("3.8"), "2.9.3": files("3.8", "3.10"), "2.9.4": files("3.8", age_days=0.5),
                "2.10.0": files("3.10", yanked=True), "2.10.0rc1": files("3.10"), "2.15.0.post1": files("3.11"),
                "2.15.1": files("3.11")}
    latest = versions.latest_patches(releases, NOW)
    assert {m: r.version for m, r in latest.items()} == {(2, 9): "2.9.3", (2, 15): "2.15.1"}
    assert latest[(2, 9)].pythons == ("3.8", "3.10")


def stack(stack_id: str, *requirements: str) -> Stack:
    return Stack(id=stack_id, python="3.11", requirements=requirements, family="keras2")


def test_missing_stacks_are_ready_to_paste(monkeypatch: pytest.MonkeyPatch) -> None:
    pypi = {"tensorflow-cpu": {"2.15.1": files("3.11"), "2.9.3": files("3.8", "3.10"), "2.21.0": files("3.11"),
                               "2.22.0": files("3.11", "3.12")},
            "keras": {"2.15.0": files("3.11"), "3.15.1": files("3.11"), "3.16.0": files("3.11")},
            "tf-keras": {"2.22.0": files("3.11")}}
    monkeypatch.setattr(versions, "fetch_releases", lambda package: pypi[package])
    declared = [stack("tf2.15-py3.11", "tensorflow-cpu==2.15.1"),
                stack("keras3.15-tf2.21-py3.11", "tensorflow-cpu==2.21.0", "keras==3.15.1")]
    blocks = versions.missing_stacks(declared, NOW)
    ids = [b.splitlines()[1] for b in blocks]
    assert ids == ['id = "tf2.9-py3.10"', 'id = "keras3.16-tf2.22-py3.11"', 'id = "tf2.22-tfkeras-py3.11"']
    assert 'requirements = ["tensorflow-cpu==2.22.0", "keras==3.16.0"]' in blocks[1]
    assert 'env = { TF_USE_LEGACY_KERAS = "1" }' in blocks[2]


def test_unreachable_pypi_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(versions, "PYPI_URL", "http://127.0.0.1:9")
    with pytest.raises(MatrixError, match=r"cannot read http://127\.0\.0\.1:9/keras/json .*MATRIX_PYPI_URL"):
        versions.fetch_releases("keras")


def test_shipped_declaration_has_what_it_pins(monkeypatch: pytest.MonkeyPatch) -> None:
    from matrix.stacks import load_stacks

    declared = load_stacks()
    pypi = {"tensorflow-cpu": {"2.15.1": files("3.11"), "2.21.0": files("3.11")},
            "keras": {"3.15.1": files("3.11")}, "tf-keras": {"2.21.0": files("3.11")}}
    monkeypatch.setattr(versions, "fetch_releases", lambda package: pypi[package])
    assert versions.missing_stacks(declared, NOW) == []
