"""A Debian base image for the stack images where no container registry is reachable:
``python -m matrix base-image`` bootstraps it with debootstrap from the Debian mirror this
machine's apt already uses (its sources files), and imports it into Docker.

Root only (debootstrap and chroot), with ``debootstrap`` and the ``docker`` command installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from matrix.errors import MatrixError

APT_DIR = Path("/etc/apt")
MIRROR_VARIABLE = "MATRIX_DEBIAN_MIRROR"
DEFAULT_SUITE = "bookworm"
DEFAULT_TAG = "local/debian:bookworm"


def debian_mirror(override: str | None = None, apt_dir: Path = APT_DIR) -> tuple[str, Path | None]:
    """The mirror to bootstrap from, and the sources file that names it: ``override``
    (``--mirror``), else $MATRIX_DEBIAN_MIRROR (no file), else the first ``deb`` source of a
    release suite (``bookworm``, not ``bookworm-security``) in apt's sources files:
    ``sources.list.d/*.sources`` (deb822), then ``*.list`` and ``sources.list`` (a line each)."""
    if override or os.environ.get(MIRROR_VARIABLE):
        return str(override or os.environ[MIRROR_VARIABLE]), None
    files = [*sorted((apt_dir / "sources.list.d").glob("*.sources")),
             *sorted((apt_dir / "sources.list.d").glob("*.list")), apt_dir / "sources.list"]
    read = [path for path in files if path.is_file()]
    for path in read:
        text = path.read_text(errors="replace")
        entries = deb822_entries(text) if path.suffix == ".sources" else one_line_entries(text)
        for uri, suites in entries:
            if any("-" not in suite and "/" not in suite for suite in suites):
                return uri, path
    where = ", ".join(str(path) for path in read) or f"no sources files under {apt_dir}"
    raise MatrixError(f"no Debian mirror found in apt's sources ({where}): pass --mirror URL "
                      f"or set {MIRROR_VARIABLE}")


def deb822_entries(text: str) -> list[tuple[str, list[str]]]:
    """``(URI, suites)`` of each enabled ``Types: deb`` stanza of a ``.sources`` file."""
    entries: list[tuple[str, list[str]]] = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[0].isspace():
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes").lower() != "no":
            entries.extend((uri, fields.get("suites", "").split()) for uri in fields.get("uris", "").split())
    return entries


def one_line_entries(text: str) -> list[tuple[str, list[str]]]:
    """``(URI, [suite])`` of each ``deb`` line of a ``sources.list`` file (options in [...] skipped)."""
    entries = []
    for line in text.splitlines():
        words = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0]).split()
        if len(words) >= 3 and words[0] == "deb":
            entries.append((words[1], [words[2]]))
    return entries


def build_base_image(tag: str = DEFAULT_TAG, suite: str = DEFAULT_SUITE, mirror: str | None = None) -> str:
    """Bootstrap SUITE from the mirror, keep the sources file that names it, import it as TAG;
    the mirror's URL is returned."""
    url, sources = debian_mirror(mirror)
    for tool in ("debootstrap", "docker", "tar"):
        if shutil.which(tool) is None:
            raise MatrixError(f"{tool} is not installed: `apt-get install debootstrap docker.io`")
    rootfs = Path(tempfile.mkdtemp(prefix="matrix-rootfs."))
    try:
        run(["debootstrap", "--variant=minbase", suite, str(rootfs), url], f"debootstrap of {suite} from {url}")
        if sources is not None and sources.suffix == ".sources":  # its security suite too
            shutil.copy(sources, rootfs / "etc" / "apt" / "sources.list.d" / sources.name)
            (rootfs / "etc" / "apt" / "sources.list").unlink(missing_ok=True)
        run(["chroot", str(rootfs), "apt-get", "clean"], "apt-get clean in the new root")
        shutil.rmtree(rootfs / "var" / "lib" / "apt" / "lists", ignore_errors=True)
        tar = subprocess.Popen(["tar", "--numeric-owner", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(["docker", "import", "-c", 'CMD ["bash"]', "-", tag], stdin=tar.stdout,
                                  capture_output=True, text=True)
        if tar.stdout:
            tar.stdout.close()  # a docker that gave up early must not leave tar blocked on the pipe
        tar.wait()
        if imported.returncode != 0 or tar.returncode != 0:
            raise MatrixError(f"docker import of {tag} failed: {imported.stderr.strip()[-500:]}")
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)
    return url


def run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-10:])
        raise MatrixError(f"{what} failed (exit {result.returncode}):\n{tail}")
