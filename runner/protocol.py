"""The protocol of host, worker and report: formats, verdicts, records, and how they are written.

This module is the one piece of ``runner`` the host (``matrix/``, ``reports/``) imports. It runs
inside old stacks too (Python 3.7, nothing but TensorFlow installed), so it is stdlib only and
imports no other module of the worker.

Jobs and records, all JSON and written with ``write_json`` (atomic: a reader sees the old file
or the whole new one):

- The host writes one job file per (stack, phase): ``{"schema", "phase", "stack", "heartbeat",
  "cells": [...]}``; each cell names its ``record`` path and ``fingerprint``.
- The worker writes one record per cell, to that path: the cell's fields plus ``schema``,
  ``kind`` (the phase), ``stack``, ``runtime`` (the versions it imported), ``seconds``, and what
  ``saved_artifact`` / ``save_failed`` (a save) or ``loaded_cell`` / ``failed_cell`` (a load)
  return. Before each cell it writes ``{"cell": INDEX}`` to the heartbeat file.
- Every path in a job or a record is relative to the workspace.
- Timings, for the profile (``matrix.profile``): each attempt's ``timings`` splits its seconds
  into ``load``, ``predict``, ``compare`` and ``clear`` (the Keras session cleared after it); a
  load's own ``timings`` holds ``digest`` (the artifact checked against its sha256) and ``read``
  (the reference and the case's code); a save's, ``build``, ``predict``, ``save``, ``reference``,
  ``hash`` and ``clear``. When a
  job names a ``timings`` file, the worker writes there, once its cells are done, its ``pid``,
  ``import_s`` (TensorFlow and Keras), ``cells``, ``cells_s``, ``write_s`` (records and
  heartbeats) and ``wall_s``.
"""

import collections
import glob
import hashlib
import json
import os
import shutil
import time
import traceback

SCHEMA = 1  # of jobs and records; results.json has its own (reports.results)
# A job's "runtime": TUNED for the matrix's save and load workers (runner.compat.tune_runtime
# says what that changes), anything else runs TensorFlow as it ships (STOCK).
TUNED, STOCK = "tuned", "stock"

# -- formats ---------------------------------------------------------------------------------

Format = collections.namedtuple("Format", "name artifact container label preference")
"""``artifact``: the file or folder name it is saved under; ``container``: what such a file
really is on disk when the format's writer made it (``container_of``); ``preference``: which the
report's advisor names first among formats that work equally well (lower first: the one Keras
documents today)."""

FORMATS = (
    Format("h5", "model.h5", "hdf5", ".h5 (legacy HDF5)", 1),
    Format("keras", "model.keras", "zip", ".keras", 0),
    Format("savedmodel", "savedmodel", "savedmodel", "SavedModel", 2),
    # Weights only, in a folder: the file in it is named as the producer's Keras documents
    # (``weights_file_name``), and the consumer builds the model in code to load them into.
    Format("weights-h5", "weights-h5", "directory", "save_weights .h5", 3),
    Format("weights-tf", "weights-tf", "directory", "save_weights checkpoint", 5),
    # ``to_json()`` as model.json, beside the weights file of ``weights-h5``.
    Format("json", "json", "directory", "to_json + weights", 4),
)
FORMAT_NAMES = tuple(f.name for f in FORMATS)
FULL_MODEL_FORMATS = ("h5", "keras", "savedmodel")  # what load_model reads; the others hold weights
CHECKPOINT_PREFIX = "ckpt"  # a weights-tf artifact's files: ckpt.index, ckpt.data-*, checkpoint
ARCHITECTURE_FILE = "model.json"  # a json artifact's to_json()


def weights_file_name(keras_flavor):
    """What ``save_weights`` is given in a weights-h5 or json artifact: Keras 3 takes nothing but
    a ``.weights.h5`` name; Keras 2 users wrote a plain ``.h5`` one (a ``.weights.h5`` name makes
    Keras 2.13+ write Keras 3's layout instead)."""
    return "model.weights.h5" if keras_flavor == "keras3" else "weights.h5"


# The formats of weights without an architecture: the matrix loads them into the case built in
# the consumer's Keras (so a Keras that cannot build it has nothing to load them into), a check into
# the model it builds (``--build``) or reads from a ``to_json()`` (``--architecture``):
# a user's ``weights-h5`` is an HDF5 file from ``save_weights`` (Keras 1 to 3, ``.weights.h5``
# included), ``weights-tf`` a TensorFlow checkpoint (its folder, or its ``.index`` file).
WEIGHTS_FORMATS = ("weights-h5", "weights-tf")


def format_named(name):
    return next(f for f in FORMATS if f.name == name)


def format_of_container(container):
    """The format a file of this container is read as (a user's file), or None."""
    return next((f.name for f in FORMATS if f.container == container), None)


HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"


def container_of(path):
    """What is really on disk: ``hdf5``, ``zip``, ``savedmodel``, ``directory`` or ``unknown``.

    Keras 2 before 2.12 writes HDF5 under a ``.keras`` name; this is how the report shows it.
    """
    if os.path.isdir(path):
        return "savedmodel" if os.path.exists(os.path.join(path, "saved_model.pb")) else "directory"
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


def size_of(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(root, name)) for root, _dirs, files in os.walk(path) for name in files)


def _feed_file(digest, path):
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)


# -- verdicts --------------------------------------------------------------------------------

Verdict = collections.namedtuple("Verdict", "name mark meaning rank severity retried loaded colour ink")
"""``rank``: how good for someone loading a model, lower is better (None: not measured);
``severity``: which one a heatmap square shows, worst first (a file the producer could not save
says nothing about the consumer, so it comes last); ``retried``: the next run computes the cell
again (the failure says nothing about compatibility); ``loaded``: whether a rung loaded the
file (None: there was no file to load); ``colour`` and ``ink``: its square in the report."""

VERDICTS = (
    Verdict("ok", "✓", "loads the documented way; predictions equal", 0, 9, False, True, "#009E73", "#fff"),
    Verdict("remedy", "R", "loads only with the named remedy; predictions equal", 1, 8, False, True, "#56B4E9", "#000"),
    Verdict("mismatch", "≠", "loads, but predicts something else", 3, 0, False, True, "#CC79A7", "#000"),
    Verdict("resume-mismatch", "↻", "loads compiled and predicts right, but after one more training step it "
            "predicts otherwise than the producer's model did (or the step fails): its optimizer state or "
            "training configuration came back otherwise",
            2, 0.5, False, True, "#882255", "#fff"),
    Verdict("predict-error", "P", "loads, but predicting fails in every mode that loads it", 2, 3, False, True,
            "#332288", "#fff"),
    Verdict("error", "✗", "no load mode works", 2, 4, False, False, "#D55E00", "#fff"),
    Verdict("crashed", "C", "the worker process died on this cell", 2, 1, True, False, "#000", "#fff"),
    Verdict("timeout", "T", "the cell ran past its time limit", 2, 2, True, False, "#F0E442", "#000"),
    Verdict("corrupt-artifact", "!", "the saved file changed after it was saved (checksum); saved again next run",
            2, 5, True, False, "#fff", "#D55E00"),
    Verdict("blocked", "B", "the producer failed to save this artifact", 2, 10, False, None, "#999", "#000"),
    Verdict("unsupported", "–", "the producer cannot write this format", 2, 11, False, None, "#e4e4e4", "#333"),
    Verdict("unavailable", "∅", "the producer's Keras lacks a layer or API the case uses: nothing was built (for "
            "weights, the consumer's: nothing to load them into)",
            2, 12, False, None, "#f4f4f4", "#777"),
    Verdict("missing", "?", "no record (the run was interrupted)", None, 6, False, False, "#fff", "#000"),
    Verdict("not-measured", "·", "not measured in this run: the case runs on fewer stacks than the run has "
            "(its MEASURED_ON tag; --every-stack measures it everywhere)", None, 13, False, None, "#fafafa", "#999"),
    Verdict("not-predicted", "L", "loads; not predicted: no input could be built for the model (check: pass --input)",
            None, 7, False, True, "#cfe8dc", "#000"),
)
VERDICT_NAMES = tuple(v.name for v in VERDICTS)
RETRIED = frozenset(v.name for v in VERDICTS if v.retried)  # save statuses "crashed" and "timeout" too


# -- fidelity: what a load gives back ---------------------------------------------------------

Fidelity = collections.namedtuple("Fidelity", "name rank label meaning")
"""``rank``: lower keeps more; the advisor names the path that keeps the most first. ``label``:
the advisor's words."""

FIDELITIES = (
    Fidelity("full", 0, "the full model", "a Keras model compiled as it was saved, its optimizer state with it"),
    Fidelity("recompile", 1, "compile it again", "a Keras model without its training configuration: compile it again"),
    Fidelity("rebuilt", 2, "needs the model's code",
             "the model built again from its code, the file's weights loaded into it"),
    Fidelity("inference-only", 3, "inference only",
             "a SavedModel's serving endpoint: predictions, no layers, no training"),
)
FIDELITY_NAMES = tuple(f.name for f in FIDELITIES)


# -- records ---------------------------------------------------------------------------------

TRACEBACK_TAIL_LINES = 12
MESSAGE_LIMIT = 2000


def describe_error(exc):
    """An exception as plain data: type, message and the last lines of its traceback."""
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    tail = "".join(lines).splitlines()[-TRACEBACK_TAIL_LINES:]
    return {"type": type(exc).__name__, "message": str(exc)[:MESSAGE_LIMIT], "traceback": "\n".join(tail)}


def saved_artifact(save_call, artifact, reference):
    """A save that worked: what was written, and the digests each load checks first."""
    return {"status": "saved", "save_call": save_call, "container": container_of(artifact),
            "bytes": size_of(artifact), "sha256": sha256_of(artifact), "reference_sha256": sha256_of(reference)}


def save_failed(status, error=None, reason=None):
    """A save that did not happen: ``unsupported`` (the format) or ``unavailable`` (the case), with
    the reason, ``error``, ``crashed`` or ``timeout``."""
    record = {"status": status}
    if reason is not None:
        record["reason"] = reason
    if error is not None:
        record["error"] = error
    return record


def loaded_cell(attempts):
    """A load that climbed the ladder: its verdict, from the attempts."""
    verdict, remedy, max_abs_diff = verdict_of(attempts)
    deciding = deciding_attempt(attempts)
    return {"verdict": verdict, "remedy": remedy, "max_abs_diff": max_abs_diff,
            "fidelity": deciding.get("fidelity") if deciding else None,
            "custom_objects_needed": custom_objects_needed(attempts), "attempts": attempts}


def deciding_attempt(attempts):
    """The attempt an ``ok``, ``remedy`` or ``not-predicted`` verdict names: the first rung that
    loaded and predicted right (or, with nothing to predict on, loaded); None for the others."""
    return next((a for a in attempts if not a.get("probe") and a["outcome"] in ("ok", "loaded")), None)


def failed_cell(verdict, error):
    """A cell no rung was tried for: the artifact failed its checksum, the case's code or the
    worker broke, or there was nothing to load."""
    return {"verdict": verdict, "remedy": None, "max_abs_diff": None, "fidelity": None,
            "custom_objects_needed": None, "attempts": [], "error": error}


def verdict_of(attempts):
    """``(verdict, remedy, max_abs_diff)`` of a cell from its attempts, the documented way first.

    The remedy is the first rung that loads and predicts the saved outputs (None when that is
    the documented way). The verdict is ``mismatch`` when any rung before it, or every rung,
    predicted something else: a silent wrong answer outranks a later fix. When no rung
    predicted at all, it is ``predict-error`` if one of them loaded, else ``error``; with no
    input to predict on (a check), ``not-predicted`` names the rung that loaded. A rung that
    predicts right but whose model does not train on as the producer's did is a
    ``resume-mismatch``. The diff is the first predicting rung's. Probes never count.
    """
    rungs = [a for a in attempts if not a.get("probe")]
    unpredicted = [index for index, a in enumerate(rungs) if a["outcome"] == "loaded"]
    if unpredicted:
        return "not-predicted", (rungs[unpredicted[0]]["mode"] if unpredicted[0] > 0 else None), None
    predicted = [a for a in rungs if a["outcome"] != "error"]
    if not predicted:
        return ("predict-error" if any(map(attempt_loaded, rungs)) else "error"), None, None
    diff = predicted[0].get("max_abs_diff")
    matched = [index for index, a in enumerate(rungs) if a["outcome"] == "ok"]
    remedy = rungs[matched[0]]["mode"] if matched and matched[0] > 0 else None
    if not matched or predicted[0]["outcome"] == "mismatch":
        return "mismatch", remedy, diff
    if (rungs[matched[0]].get("resume") or {}).get("outcome", "ok") != "ok":
        return "resume-mismatch", remedy, diff
    return ("ok" if matched[0] == 0 else "remedy"), remedy, diff


def attempt_loaded(attempt):
    """Whether the attempt's load call worked, whatever its prediction did: an attempt fails
    at its ``stage``, ``load`` or ``predict``."""
    return attempt["outcome"] != "error" or attempt.get("stage") == "predict"


def custom_objects_needed(attempts):
    """What the probe answered: True, False, or None when no probe ran."""
    for attempt in attempts:
        if attempt.get("probe"):
            return attempt["outcome"] != "ok"
    return None


class Laps:
    """Seconds spent on each step, each measured from the end of the one before."""

    def __init__(self):
        self.seconds = {}
        self.last = time.time()

    def __call__(self, step):
        now = time.time()
        self.seconds[step] = round(self.seconds.get(step, 0.0) + now - self.last, 4)
        self.last = now


# -- writing ---------------------------------------------------------------------------------

def write_json(path, data, durable=True, compact=False):
    """Write ``data`` to ``path`` so that a reader sees the old file or the whole new one;
    ``durable``: on the disk before the rename, so a power cut leaves one of the two too;
    ``compact``: one line, for files too large to read by eye (Python's fast encoder, which an
    indent would turn off: 217 MB of run.json took 10 s indented)."""
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    tmp = "{}.tmp-{}".format(path, os.getpid())
    with open(tmp, "w") as handle:
        if compact:
            handle.write(json.dumps(data, sort_keys=True, separators=(",", ":")))
        else:
            json.dump(data, handle, indent=1, sort_keys=True)
        if durable:
            handle.flush()
            os.fsync(handle.fileno())
    os.replace(tmp, path)


def read_json(path):
    with open(path) as handle:
        return json.load(handle)


def place(target, fill):
    """Make ``target`` (a file or a folder) with ``fill(staged)``, then a rename: an interrupted
    write never passes for a whole one. ``staged`` has the target's base name (Keras picks the
    format by the name), in a staging folder beside it that is always removed."""
    for left_over in glob.glob(glob.escape(target) + ".staging-*"):  # from a killed run
        remove(left_over)
    staging = "{}.staging-{}".format(target, os.getpid())
    os.makedirs(staging)
    staged = os.path.join(staging, os.path.basename(target))
    try:
        fill(staged)
        remove(target)
        os.replace(staged, target)
    finally:
        remove(staging)


def remove(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)
