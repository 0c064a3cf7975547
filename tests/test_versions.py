"""`matrix versions`: what PyPI has that the declaration misses, on hand-made release data, and
the index it asks: the one this machine is configured with."""

import http.server
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
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
            "keras": {"2.2.4": files("3.7"), "2.2.5": files("3.7"), "2.3.1": files("3.7"), "2.15.0": files("3.11"),
                      "3.15.1": files("3.11"), "3.16.0": files("3.11")},
            "tf-keras": {"2.22.0": files("3.11")},
            "jax": {"0.10.2": files("3.11"), "0.11.0": files("3.11")}, "torch": {"2.15.0": files("3.11")}}
    monkeypatch.setattr(versions, "fetch_releases", lambda package, index=None: pypi[package])
    declared = [stack("tf2.15-py3.11", "tensorflow-cpu==2.15.1"),
                stack("keras3.15-tf2.21-py3.11", "tensorflow-cpu==2.21.0", "keras==3.15.1"),
                stack("keras2.3-tf1.15-py3.7", "keras==2.3.1", "tensorflow==1.15.5"),
                Stack(id="keras3.16-torch2.15-py3.11", python="3.11", family="keras3", env={"KERAS_BACKEND": "torch"},
                      requirements=("tensorflow-cpu==2.22.0", "keras==3.16.0", "torch==2.15.0"))]
    blocks = versions.missing_stacks(declared, NOW)
    ids = [b.splitlines()[1] for b in blocks]
    assert ids == ['id = "tf2.9-py3.10"', 'id = "keras3.16-tf2.22-py3.11"', 'id = "tf2.22-tfkeras-py3.11"',
                   'id = "keras2.2-tf1.15-py3.7"', 'id = "keras3.16-jax0.11-py3.11"']
    assert 'requirements = ["tensorflow-cpu==2.22.0", "keras==3.16.0"]' in blocks[1]
    assert 'env = { TF_USE_LEGACY_KERAS = "1" }' in blocks[2]
    assert 'requirements = ["keras==2.2.5", "tensorflow==1.15.5", "h5py<3", "protobuf<3.21", "numpy<1.19"]' in blocks[3]
    assert 'family = "standalone-keras2"' in blocks[3]
    assert 'requirements = ["tensorflow-cpu==2.22.0", "keras==3.16.0", "jax[cpu]==0.11.0"]' in blocks[4]
    assert 'env = { KERAS_BACKEND = "jax" }' in blocks[4]


def test_unreachable_index_says_where_it_was_named_and_what_to_do() -> None:
    index = versions.PackageIndex("http://127.0.0.1:9/pypi", "PIP_INDEX_URL")
    with pytest.raises(MatrixError, match=r"cannot read http://127\.0\.0\.1:9/pypi/keras/json .*from PIP_INDEX_URL"
                                          r".*MATRIX_PYPI_URL"):
        versions.fetch_releases("keras", index)


def no_pip_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **variables: str) -> dict[str, str]:
    monkeypatch.setattr(versions, "MACHINE_PIP_CONFIG", tmp_path / "etc-pip.conf")
    return {"HOME": str(tmp_path), "XDG_CONFIG_DIRS": str(tmp_path / "xdg"), **variables}


def test_the_index_is_the_one_uv_or_pip_is_configured_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    environ = no_pip_config(tmp_path, monkeypatch)
    assert versions.package_index(environ) == versions.PackageIndex("https://pypi.org/pypi", "the default, PyPI")
    (tmp_path / ".config" / "pip").mkdir(parents=True)
    (tmp_path / ".config" / "pip" / "pip.conf").write_text(
        "[global]\nindex-url = https://corp.example/api/pypi/remote/simple/\n")
    assert versions.package_index(environ) == versions.PackageIndex(
        "https://corp.example/api/pypi/remote/pypi", str(tmp_path / ".config" / "pip" / "pip.conf"))
    (tmp_path / "chosen.conf").write_text("[install]\nindex-url = https://chosen.example/simple\n")
    assert versions.package_index({**environ, "PIP_CONFIG_FILE": str(tmp_path / "chosen.conf")}).json_api == \
        "https://chosen.example/pypi"
    environ.update(PIP_INDEX_URL="https://pip.example/simple", UV_INDEX_URL="https://uv.example/simple")
    assert versions.package_index(environ) == versions.PackageIndex("https://uv.example/pypi", "UV_INDEX_URL")
    environ["MATRIX_PYPI_URL"] = "https://json.example/pypi/"
    assert versions.package_index(environ) == versions.PackageIndex("https://json.example/pypi", "MATRIX_PYPI_URL")


def test_an_index_whose_json_api_cannot_be_derived_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    environ = no_pip_config(tmp_path, monkeypatch, PIP_INDEX_URL="https://files.example/wheels/")
    with pytest.raises(MatrixError, match=r"the package index https://files\.example/wheels/ \(from PIP_INDEX_URL\) "
                                          r"does not end in /simple.*MATRIX_PYPI_URL"):
        versions.package_index(environ)


def test_a_configured_index_is_asked_for_its_json_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A local index answering PyPI's JSON API under /pypi, named by its /simple URL."""
    asked = []

    class Index(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            body = json.dumps({"releases": {"3.15.1": files("3.11")}}).encode()
            self.send_response(200 if self.path == "/pypi/keras/json" else 404)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Index)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/simple/"
        index = versions.package_index(no_pip_config(tmp_path, monkeypatch, PIP_INDEX_URL=url))
        assert list(versions.fetch_releases("keras", index)) == ["3.15.1"]
    finally:
        server.shutdown()
    assert asked == ["/pypi/keras/json"]


def test_shipped_declaration_has_what_it_pins(monkeypatch: pytest.MonkeyPatch) -> None:
    from matrix.stacks import load_stacks

    declared = load_stacks()
    pypi = {"tensorflow-cpu": {"2.15.1": files("3.11"), "2.21.0": files("3.11")},
            "keras": {"2.1.6": files("3.7"), "2.2.5": files("3.7"), "2.3.1": files("3.7"), "3.15.1": files("3.11")},
            "tf-keras": {"2.21.0": files("3.11")}, "jax": {"0.10.2": files("3.11")}, "torch": {"2.15.0": files("3.11")}}
    monkeypatch.setattr(versions, "fetch_releases", lambda package, index=None: pypi[package])
    assert versions.missing_stacks(declared, NOW) == []
