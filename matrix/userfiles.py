"""What a user's file really is, read from its content (never its name), before any stack sees it.

A model is an HDF5 file (legacy ``.h5``), a zip with ``config.json`` (native ``.keras``) or a
directory with ``saved_model.pb`` (SavedModel). Weights without an architecture are told apart:
an HDF5 file without ``model_config`` (``save_weights``) and a TensorFlow checkpoint (a folder
with an ``.index`` file, or that file). Anything else, or a file cut short or damaged in a way
the bytes show, gets a one-line problem that says what it is and what to pass instead.
"""

from __future__ import annotations

import glob
import mmap
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

from runner.protocol import ZIP_MAGIC, container_of, format_of_container, sha256_of, size_of

NUMPY_MAGIC = b"\x93NUMPY"


@dataclass(frozen=True)
class UserFile:
    path: Path
    name: str
    format: str | None = None  # h5, keras or savedmodel; None when the file cannot be checked
    container: str | None = None
    problem: str | None = None
    sha256: str | None = None
    bytes: int = 0

    @property
    def key(self) -> str:
        """What a check of this file depends on: its content, and the name Keras sees (the
        extension picks the loader: Keras 2.9 writes the same HDF5 bytes to .h5 and .keras)."""
        safe_name = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in self.path.name)
        return f"{str(self.sha256)[:16]}-{safe_name}"


def inspect_files(paths: list[Path]) -> list[UserFile]:
    """Each file inspected once (a path given twice, or by two spellings, is one file), named by
    its base name (its path as given when two share one)."""
    unique: dict[Path, Path] = {}
    for path in paths:
        unique.setdefault(path.resolve(), path)  # the first spelling, in the order given
    paths = list(unique.values())
    base_names = [path.name or str(path) for path in paths]
    return [inspect_file(path, name if base_names.count(name) == 1 else str(path))
            for path, name in zip(paths, base_names, strict=True)]


def inspect_file(path: Path, name: str) -> UserFile:
    if path.name.endswith(".index") and path.is_file():  # a checkpoint is checked as its folder
        if checkpoint_index(path.parent) != path:
            return UserFile(path, name, container="checkpoint", problem=(
                "a TensorFlow checkpoint's .index file in a folder with others: pass a folder that holds "
                "this one checkpoint (its .index and .data-* files)"))
        path = path.parent
    try:
        problem, container = model_problem(path)
        fmt = None if problem else file_format(path, container)
    except OSError as exc:
        return UserFile(path, name, problem=f"cannot read it: {exc.strerror or exc}")
    if problem:
        return UserFile(path, name, container=container, problem=problem)
    return UserFile(path, name, fmt, container, None, sha256_of(str(path)), size_of(str(path)))


def file_format(path: Path, container: str) -> str | None:
    """The format a check reads the file as: a model's, or weights alone (``weights-h5``, ``weights-tf``)."""
    if container == "checkpoint":
        return "weights-tf"
    if container == "hdf5" and not hdf5_holds_model(path):
        return "weights-h5"
    fmt: str | None = format_of_container(container)
    return fmt


def hdf5_holds_model(path: Path) -> bool:
    """Whether an HDF5 file holds a model (its root's ``model_config`` attribute, whose name is in
    the file's bytes) rather than only weights (``save_weights``: ``layer_names`` or, in Keras 3's
    ``.weights.h5``, ``vars`` groups). Read without h5py, which the host does not install."""
    if path.stat().st_size == 0:
        return False
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return data.find(b"model_config") >= 0


CHECKPOINT_INDEX_MAGIC = struct.pack("<Q", 0xDB4775248B80FB57)  # the last 8 bytes of TensorFlow's table files


def checkpoint_index(folder: Path) -> Path | None:
    """The ``.index`` file of the one TensorFlow checkpoint a folder holds (a table file, with its
    ``.data-*`` shards beside it), or None."""
    indexes = sorted(folder.glob("*.index")) if folder.is_dir() else []
    if len(indexes) != 1:
        return None
    index = indexes[0]
    prefix = index.name[:-len(".index")]
    with open(index, "rb") as handle:
        handle.seek(max(0, index.stat().st_size - 8))
        whole = handle.read(8) == CHECKPOINT_INDEX_MAGIC
    return index if whole and any(folder.glob(f"{glob.escape(prefix)}.data-*")) else None


def model_problem(path: Path) -> tuple[str | None, str]:
    """(why this is not a model we can check, or None; what the bytes are)."""
    if not path.exists():
        return "no such file or directory", "missing"
    container = container_of(str(path))
    if container == "directory" and checkpoint_index(path):
        return None, "checkpoint"
    if container == "directory":
        return ("a directory without saved_model.pb, so not a SavedModel: pass the folder that "
                "model.save(dir) or model.export(dir) wrote"), container
    if container == "hdf5":
        return hdf5_problem(path), container
    if container == "zip":
        return keras_zip_problem(path), container
    if container == "unknown":
        return unknown_problem(path), container
    return None, container


def unknown_problem(path: Path) -> str:
    with open(path, "rb") as handle:
        head = handle.read(8)
    if not head:
        return "an empty file"
    if path.name == "saved_model.pb":
        return f"a SavedModel's graph alone: pass its folder ({path.parent}) instead"
    if head.startswith(NUMPY_MAGIC):
        return "a NumPy array, not a model: pass it as --input or --expected"
    return (f"not a Keras model (it starts with {head!r}): expected an HDF5 file (.h5), a .keras zip or a "
            "SavedModel folder")


def hdf5_problem(path: Path) -> str | None:
    """A file shorter than the end-of-file address its HDF5 superblock records was cut short."""
    with open(path, "rb") as handle:
        head = handle.read(96)
    end = hdf5_end_of_file(head)
    size = path.stat().st_size
    if end is not None and size < end:
        return (f"a truncated HDF5 file: {size} bytes, its header says {end}; copy or download it again "
                "(an interrupted transfer or a full disk does this)")
    return None


def hdf5_end_of_file(head: bytes) -> int | None:
    """The end-of-file address of an HDF5 superblock at offset 0 (versions 0 to 3), else None."""
    if len(head) < 16:
        return None
    version = head[8]
    if version in (0, 1):
        offset_size, first_address = head[13], 24 if version == 0 else 28
        at = first_address + 2 * offset_size  # base address, free-space address, then end of file
    elif version in (2, 3):
        offset_size = head[9]
        at = 12 + 2 * offset_size  # base address, superblock extension, then end of file
    else:
        return None
    formats = {4: "<I", 8: "<Q"}
    if offset_size not in formats or len(head) < at + offset_size:
        return None
    end = int(struct.unpack_from(formats[offset_size], head, at)[0])
    return None if end == (1 << (8 * offset_size)) - 1 else end  # all ones: undefined


def keras_zip_problem(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            damaged = archive.testzip()
    except (zipfile.BadZipFile, EOFError) as exc:
        return f"a damaged zip archive ({exc}); copy or download it again"
    if "config.json" not in names:
        return "a zip archive without config.json, so not a .keras model"
    if damaged:
        return f"a damaged .keras archive: {damaged} fails its checksum; copy or download it again"
    return None


def sample_problem(path: Path) -> str | None:
    """Why a --input / --expected file is not a .npy or .npz array file, or None."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except OSError as exc:
        return f"cannot read it: {exc.strerror or exc}"
    if head.startswith(NUMPY_MAGIC) or head.startswith(ZIP_MAGIC):
        return None
    return "not a NumPy .npy or .npz file (save one with numpy.save or numpy.savez)"
