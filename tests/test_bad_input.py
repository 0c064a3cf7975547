"""Bad input through the real command line: one clear line each, the rest still reported."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BAD_STACKS = """
[[stack]]
id = "tf2.15-py3.5"
python = "3.5"
requirements = ["tensorflow-cpu==2.15.1"]

[[stack]]
id = "tf9.9-py3.11"
python = "3.11"
requirements = ["tensorflow-cpu==9.9.9"]
"""


def matrix(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "matrix", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


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
    assert "tensorflow-cpu==9.9.9" in stacks["tf9.9-py3.11"]["reason"]


def test_broken_declaration_is_one_line(tmp_path: Path) -> None:
    declaration = tmp_path / "stacks.toml"
    declaration.write_text(BAD_STACKS.replace('python = "3.5"', 'python = "three"'))
    result = matrix("list", "--stacks-file", str(declaration))
    assert result.returncode == 2
    assert result.stderr.strip().endswith("""stack 'tf2.15-py3.5': python = 'three'; write it as "3.X", e.g. "3.11\"""")
