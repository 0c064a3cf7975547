"""What a saved artifact really is on disk, and its digest."""

import hashlib
import os

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"


def container_of(path):
    """What is really on disk: ``hdf5``, ``zip``, ``savedmodel``, ``directory`` or ``unknown``.

    Keras 2 before 2.12 writes HDF5 under a ``.keras`` name; this is how the report shows it.
    """
    if os.path.isdir(path):
        if os.path.exists(os.path.join(path, "saved_model.pb")):
            return "savedmodel"
        return "directory"
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(HDF5_MAGIC):
        return "hdf5"
    if head.startswith(ZIP_MAGIC):
        return "zip"
    return "unknown"


def sha256_of(path):
    """Digest of a file, or of a directory's relative paths and contents in a stable order."""
    digest = hashlib.sha256()
    if os.path.isfile(path):
        _feed_file(digest, path)
        return digest.hexdigest()
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(root, name)
            digest.update(os.path.relpath(full, path).replace(os.sep, "/").encode())
            _feed_file(digest, full)
    return digest.hexdigest()


def integrity_problem(cell):
    """Why the artifact or its reference is not what the save recorded, or None when both are."""
    for path, recorded in ((cell["artifact"], cell.get("artifact_sha256")),
                           (cell["reference"], cell.get("reference_sha256"))):
        if recorded is None:
            continue
        if not os.path.exists(path):
            return "{} is gone since it was saved; the next run saves it again".format(path)
        found = sha256_of(path)
        if found != recorded:
            return ("{} changed since it was saved (sha256 {}..., recorded {}...): truncated, corrupted or "
                    "overwritten; the next run saves it again").format(path, found[:12], recorded[:12])
    return None


def size_of(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(
        os.path.getsize(os.path.join(root, name))
        for root, _dirs, files in os.walk(path)
        for name in files
    )


def _feed_file(digest, path):
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
