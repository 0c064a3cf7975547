"""The worker loop: import TensorFlow once, run every cell of one job, one record per cell."""

import errno
import faulthandler
import glob
import os
import shutil
import sys
import time

from runner import SCHEMA, faults
from runner.formats import integrity_problem
from runner.records import custom_objects_needed, describe_error, read_json, verdict_of, write_json

SEED = 0
INPUT_ROWS = 4
PHASES = ("save", "load", "verify")


def main(argv):
    if len(argv) != 2 or argv[0] not in PHASES:
        sys.stderr.write("usage: python -m runner save|load|verify JOBFILE\n")
        return 2
    phase, job_path = argv
    # A fatal signal prints the Python stack to the log, whose tail the host keeps for the report.
    faulthandler.enable()
    job = read_json(job_path)
    if job.get("schema") != SCHEMA or job.get("phase") != phase:
        sys.stderr.write("job {} is not a schema {} {} job\n".format(job_path, SCHEMA, phase))
        return 2
    run_job(phase, job)
    return 0


def run_job(phase, job):
    from runner.compat import import_keras, runtime_versions

    host = os.getppid()
    keras = import_keras()
    runtime = runtime_versions()
    run_cell = {"save": save_cell, "load": load_cell, "verify": verify_cell}[phase]
    for index, cell in enumerate(job["cells"]):
        if os.getppid() != host:
            sys.stderr.write("the host is gone (killed?): stopping; its next run resumes here\n")
            return
        # Tells the host which cell is running: the one to blame if this process dies.
        write_json(job["heartbeat"], {"cell": index})
        started = time.time()
        record = {"schema": SCHEMA, "kind": phase, "stack": job["stack"], "runtime": runtime}
        record.update(cell)
        try:
            faults.strike(cell, "start")
            record.update(run_cell(keras, cell))
        except Exception as exc:  # a bug in this worker costs one cell, recorded as a crash
            record.update(worker_bug(phase, exc))
        record["seconds"] = round(time.time() - started, 4)
        write_json(cell["record"], record)
        outcome = record.get("verdict", record.get("status")) or (record.get("attempt") or {}).get("outcome")
        sys.stdout.write("{} {} {} {}\n".format(phase, cell["case"], cell["format"], outcome))
        sys.stdout.flush()


def worker_bug(phase, exc):
    error = describe_error(exc)
    error.update(type="WorkerCrashed",
                 message="the worker's own code raised {}: {}".format(error["type"], error["message"]))
    if phase == "save":
        return {"status": "crashed", "error": error}
    return {"verdict": "crashed", "remedy": None, "max_abs_diff": None, "attempts": [], "error": error}


def fixed_input(shape):
    """The same input in every stack: a deterministic grid of values in [-1, 1)."""
    import numpy

    width = 1
    for dim in shape:
        width *= dim
    values = [((i * 37) % 101) / 50.0 - 1.0 for i in range(INPUT_ROWS * width)]
    return numpy.asarray(values, dtype="float32").reshape((INPUT_ROWS, *tuple(shape)))


def save_cell(keras, cell):
    from runner import compat
    from runner.cases import load_case
    from runner.formats import container_of, sha256_of, size_of

    reason = compat.unsupported_reason(keras, cell["format"])
    if reason:
        return {"status": "unsupported", "reason": reason}
    try:
        case = load_case(cell["case"])
        compat.seed_everything(SEED)
        model = case.build()
        inputs = fixed_input(case.INPUT_SHAPE)
        outputs = model.predict(inputs, verbose=0)
        save_atomically(keras, model, cell)
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            return {"status": "error", "error": describe_error(exc)}
        # Not the producer's fault: retried on the next run, like a crash.
        return {"status": "crashed", "error": {
            "type": "DiskFull", "traceback": describe_error(exc)["traceback"],
            "message": "no space left on the device while saving {}: free some space and run again; "
                       "finished records are kept".format(cell["artifact"])}}
    except Exception as exc:
        return {"status": "error", "error": describe_error(exc)}
    finally:
        compat.clear_session(keras)
    write_json(cell["reference"], {"input": inputs.tolist(), "output": outputs.tolist()})
    return {
        "status": "saved",
        "save_call": compat.save_call(keras, cell["format"]),
        "container": container_of(cell["artifact"]),
        "bytes": size_of(cell["artifact"]),
        "sha256": sha256_of(cell["artifact"]),
        "reference_sha256": sha256_of(cell["reference"]),
    }


def save_atomically(keras, model, cell):
    """Save into a staging folder, then move into place: no half-written artifact is visible."""
    from runner.compat import save

    artifact = cell["artifact"]
    for left_over in glob.glob(glob.escape(artifact) + ".staging-*"):  # from a killed run
        remove(left_over)
    staging = "{}.staging-{}".format(artifact, os.getpid())
    os.makedirs(staging)
    staged = os.path.join(staging, os.path.basename(artifact))
    try:
        faults.strike(cell, "save", staged)
        save(keras, model, cell["format"], staged)
        remove(artifact)
        os.replace(staged, artifact)
    finally:  # a failed save leaves nothing behind, like a good one
        remove(staging)


def remove(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)


def load_cell(keras, cell):
    from runner.cases import load_case
    from runner.ladder import run_ladder

    faults.strike(cell, "load", cell["artifact"])
    problem = integrity_problem(cell)
    if problem:
        return {"verdict": "corrupt-artifact", "remedy": None, "max_abs_diff": None, "attempts": [],
                "error": {"type": "CorruptArtifact", "message": problem}}
    inputs, expected = saved_sample(cell)
    try:
        case = load_case(cell["case"])
    except Exception as exc:  # the case's own code does not import in this Keras: nothing can load
        return {"verdict": "error", "remedy": None, "max_abs_diff": None, "attempts": [],
                "error": describe_error(exc)}
    attempts = run_ladder(keras, case, cell["artifact"], inputs, expected)
    verdict, remedy, max_abs_diff = verdict_of(attempts)
    return {
        "verdict": verdict,
        "remedy": remedy,
        "max_abs_diff": max_abs_diff,
        "custom_objects_needed": custom_objects_needed(attempts),
        "attempts": attempts,
    }


def verify_cell(keras, cell):
    """One recorded attempt, run again as the only attempt of this fresh process (the host
    starts one per cell): ``{"attempt": ...}`` for the host to compare with the recorded one."""
    from runner.cases import load_case
    from runner.ladder import rung_named, try_rung

    faults.strike(cell, "load", cell["artifact"])
    problem = integrity_problem(cell)
    if problem:
        return {"attempt": None, "error": {"type": "CorruptArtifact", "message": problem}}
    inputs, expected = saved_sample(cell)
    recorded = cell["recorded"]
    rung = rung_named(recorded["mode"], recorded["call"])
    attempt = try_rung(keras, load_case(cell["case"]), cell["artifact"], rung, inputs, expected)
    return {"attempt": dict(attempt, probe=bool(recorded.get("probe")))}


def saved_sample(cell):
    """The fixed input the producer saved and the predictions it gave."""
    import numpy

    reference = read_json(cell["reference"])
    return numpy.asarray(reference["input"], dtype="float32"), reference["output"]
