"""The base image's Debian mirror, read from apt's sources files as this machine keeps them."""

from pathlib import Path

import pytest

from matrix.baseimage import MIRROR_VARIABLE, debian_mirror
from matrix.errors import MatrixError

# /etc/apt/sources.list.d/debian.sources of these machines, with a mirror in place of its host
DEB822 = """Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
"""


def apt(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_the_mirror_is_the_release_suites_source_in_apts_files(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MIRROR_VARIABLE, raising=False)
    security_first = "Types: deb\nURIs: http://security.example/\nSuites: bookworm-security\n\n" + DEB822
    folder = apt(tmp_path, {"sources.list.d/debian.sources": security_first,
                            "sources.list.d/other.sources.disabled": "Types: deb\nURIs: http://off/\nSuites: x\n"})
    assert debian_mirror(apt_dir=folder) == ("http://mirror.example/debian", folder / "sources.list.d/debian.sources")


def test_a_one_line_sources_list_works_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MIRROR_VARIABLE, raising=False)
    text = ("# deb http://commented.example/debian bookworm main\ndeb-src http://src.example/debian bookworm main\n"
            "deb [arch=amd64 signed-by=/k.gpg] http://list.example/debian bookworm main\n")
    folder = apt(tmp_path, {"sources.list": text})
    assert debian_mirror(apt_dir=folder) == ("http://list.example/debian", folder / "sources.list")


def test_the_option_or_the_variable_overrides_the_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = apt(tmp_path, {"sources.list.d/debian.sources": DEB822})
    monkeypatch.setenv(MIRROR_VARIABLE, "http://variable.example/debian")
    assert debian_mirror(apt_dir=folder) == ("http://variable.example/debian", None)
    assert debian_mirror("http://option.example/debian", apt_dir=folder) == ("http://option.example/debian", None)


def test_no_mirror_names_the_files_it_read_and_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MIRROR_VARIABLE, raising=False)
    folder = apt(tmp_path, {"sources.list": "# nothing enabled\n"})
    with pytest.raises(MatrixError, match=rf"no Debian mirror found in apt's sources \({folder}/sources.list\): "
                                          rf"pass --mirror URL or set {MIRROR_VARIABLE}"):
        debian_mirror(apt_dir=folder)
    with pytest.raises(MatrixError, match="no sources files under"):
        debian_mirror(apt_dir=tmp_path / "none")
