"""Bad input through the real command line: one clear line each, the rest still reported."""

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from matrix import cli
from matrix.run import RecordCheck
from matrix.store import SCHEMA, Workspace

ROOT = Path(__file__).resolve().parent.parent

BAD_STACKS = """
[[stack]]
id = "tf2.15-py3.5"
python = "3.5"
requirements = ["tensorflow-cpu==2.15.1"]
family = "keras2"

[[stack]]
id = "tf9.9-py3.11"
python = "3.11"
requirements = ["tensorflow-cpu==9.9.9"]
family = "keras2"
"""


def matrix(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "matrix", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=None if env is None else {**os.environ, **env})


def test_unknown_pattern_names_the_known_stacks() -> None:
    result = matrix("list", "--stacks", "tf9*")
    assert result.returncode == 2
    assert "no stack matches 'tf9*'; known stacks: tf1.15-py3.7, tf2.0-py3.7" in result.stderr


def test_missing_python_and_missing_release_are_reported_not_fatal(tmp_path: Path) -> None:
    declaration = tmp_path / "stacks.toml"
    declaration.write_text(BAD_STACKS)
    result = matrix("run", "--stacks-file", str(declaration), "--workspace", str(tmp_path / "ws"),
                    "--site", str(tmp_path / "site"))
    assert result.returncode == 1  # nothing could run, but the report is written
    assert "tf2.15-py3.5: unavailable: needs Python 3.5" in result.stdout
    assert "tf9.9-py3.11: install-failed" in result.stdout
    stacks = {s["id"]: s for s in json.loads((tmp_path / "site" / "results.json").read_text())["stacks"]}
    assert stacks["tf2.15-py3.5"]["status"] == "unavailable"
    assert "pyenv install 3.5" in stacks["tf2.15-py3.5"]["reason"]
    assert stacks["tf9.9-py3.11"]["status"] == "install-failed"
    assert "no release matches `tensorflow-cpu==9.9.9`: fix the pin" in stacks["tf9.9-py3.11"]["reason"]


def test_broken_declaration_is_one_line(tmp_path: Path) -> None:
    declaration = tmp_path / "stacks.toml"
    declaration.write_text(BAD_STACKS.replace('python = "3.5"', 'python = "three"'))
    result = matrix("list", "--stacks-file", str(declaration))
    assert result.returncode == 2
    assert result.stderr.strip().endswith("""stack 'tf2.15-py3.5': python = 'three'; write it as "3.X", e.g. "3.11\"""")


SMALL = """
[[stack]]
id = "six-py3.11"
python = "3.11"
requirements = ["six==1.16.0"]
family = "keras2"
"""


def test_an_unreachable_package_index_is_named(tmp_path: Path) -> None:
    declaration = tmp_path / "stacks.toml"
    declaration.write_text(SMALL)
    result = matrix("run", "--stacks-file", str(declaration), "--workspace", str(tmp_path / "ws"),
                    "--site", str(tmp_path / "site"), env={"UV_INDEX_URL": "http://127.0.0.1:9/simple"})
    assert result.returncode == 1
    assert "six-py3.11: install-failed" in result.stdout
    assert "the package index could not be reached" in result.stdout
    assert (tmp_path / "site" / "results.json").exists()  # the report still says what happened


def test_a_second_run_on_a_busy_workspace_is_refused(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws")
    with workspace.locked():
        result = matrix("run", "--workspace", str(workspace.root), "--site", str(tmp_path / "site"),
                        "--stacks", "tf2.15*")
    assert result.returncode == 2
    assert f"{workspace.root} is in use by matrix run pid {os.getpid()}" in result.stderr
    assert "give this one its own --workspace DIR" in result.stderr
    with workspace.locked():  # released when the holder is done
        pass


def test_a_full_disk_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    def fill_disk(*_args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "ws" / "run.json"))

    monkeypatch.setattr(cli, "run_matrix", fill_disk)
    assert cli.main(["run", "--workspace", str(tmp_path / "ws"), "--stacks", "tf2.15*"]) == 2
    err = capsys.readouterr().err
    assert "the disk is full (writing" in err and "every record written so far is kept" in err


def test_records_of_another_schema_are_recomputed_and_counted(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    workspace = Workspace(tmp_path)
    workspace.write("records/old.json", {"fingerprint": "f"})
    (tmp_path / "records" / "old.json").write_text(json.dumps({"schema": SCHEMA - 1, "fingerprint": "f"}))
    workspace.write("records/crashed.json", {"schema": SCHEMA, "fingerprint": "f", "verdict": "crashed"})
    workspace.write("records/ok.json", {"schema": SCHEMA, "fingerprint": "f", "verdict": "ok"})
    check = RecordCheck(workspace)
    assert [check.fingerprint_at(f"records/{n}.json") for n in ("old", "crashed", "ok", "none")] == [
        None, None, "f", None]
    check.report()
    out = capsys.readouterr().out
    assert f"1 records were written by another version (not schema {SCHEMA}): computing them again" in out
    assert "1 cells crashed, hung or met a corrupt artifact last time: computing them again" in out


def test_an_artifact_changed_since_its_save_is_saved_again(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "model.h5").write_bytes(b"weights")
    (tmp_path / "a" / "ref.json").write_text("{}")
    from runner.protocol import sha256_of

    record = {"schema": SCHEMA, "kind": "save", "status": "saved", "fingerprint": "f",
              "artifact": "a/model.h5", "reference": "a/ref.json",
              "sha256": sha256_of(str(tmp_path / "a" / "model.h5")),
              "reference_sha256": sha256_of(str(tmp_path / "a" / "ref.json"))}
    workspace.write("records/save.json", record)
    assert RecordCheck(workspace).fingerprint_at("records/save.json") == "f"
    (tmp_path / "a" / "model.h5").write_bytes(b"weigh")  # truncated
    check = RecordCheck(workspace)
    assert check.fingerprint_at("records/save.json") is None and check.changed == ["a/model.h5"]
