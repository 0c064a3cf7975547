"""The worker loop: import TensorFlow once, run every cell of one job, one record per cell.

    python -m runner save JOBFILE      build each case and save it in one format
    python -m runner load JOBFILE      climb the load ladder over each artifact
    python -m runner verify JOBFILE    one recorded attempt again (the host starts one per cell)

``runner.check`` runs a user's files through the same loop (``main`` with its own commands).
"""

import errno
import faulthandler
import os
import sys
import time

from runner import faults
from runner.limits import ATTEMPT_S, AttemptLimits
from runner.protocol import (
    FULL_MODEL_FORMATS,
    SCHEMA,
    TUNED,
    WEIGHTS_FORMATS,
    Laps,
    describe_error,
    failed_cell,
    loaded_cell,
    place,
    read_json,
    save_failed,
    saved_artifact,
    sha256_of,
    write_json,
)
from runner.samples import fixed_inputs, read_reference, read_resumed, reference_data, tolerance_for

SEED = 0
ATTEMPT_LIMITS = AttemptLimits()  # this worker process's: what hung here shortens the next limits


def main(argv, commands=None, program="runner"):
    """``commands``: the word on the command line -> (the job's phase, the function of a cell)."""
    commands = commands or COMMANDS
    if len(argv) != 2 or argv[0] not in commands:
        sys.stderr.write("usage: python -m {} {} JOBFILE\n".format(program, "|".join(commands)))
        return 2
    word, job_path = argv
    phase, run_cell = commands[word]
    # A fatal signal prints the Python stack to the log, whose tail the host keeps for the report.
    faulthandler.enable()
    job = read_json(job_path)
    if job.get("schema") != SCHEMA or job.get("phase") != phase:
        sys.stderr.write("job {} is not a schema {} {} job\n".format(job_path, SCHEMA, phase))
        return 2
    run_job(job, run_cell)
    return 0


def run_job(job, run_cell):
    """Every cell of the job in order, one record each; a bug of the worker costs its cell."""
    from runner.compat import import_keras, runtime_versions, tune_runtime

    host, laps = os.getppid(), Laps()
    keras = import_keras()
    if job.get("runtime") == TUNED:
        tune_runtime()
    runtime = runtime_versions()
    laps("import_s")
    for index, cell in enumerate(job["cells"]):
        if os.getppid() != host:
            sys.stderr.write("the host is gone (killed?): stopping; its next run resumes here\n")
            return
        # Tells the host which cell is running: the one to blame if this process dies. Only
        # the live host reads it, so it need not survive a power cut (an fsync a cell, saved).
        write_json(job["heartbeat"], {"cell": index}, durable=False)
        laps("write_s")
        started = time.time()
        record = {"schema": SCHEMA, "kind": job["phase"], "stack": job["stack"], "runtime": runtime}
        record.update(cell)
        try:
            faults.strike(cell, "start")
            record.update(run_cell(keras, cell))
        except Exception as exc:  # a bug in this worker costs one cell, recorded as a crash
            record.update(worker_bug(job["phase"], exc))
        record["seconds"] = round(time.time() - started, 4)
        laps("cells_s")
        write_json(cell["record"], record)
        laps("write_s")
        outcome = record.get("verdict") or record.get("status") or (record.get("attempt") or {}).get("outcome")
        sys.stdout.write("{} {} {}\n".format(job["phase"], os.path.basename(cell["record"]), outcome))
        sys.stdout.flush()
    if job.get("timings"):
        wall = round(sum(laps.seconds.values()), 4)
        write_json(job["timings"], dict(laps.seconds, pid=os.getpid(), cells=len(job["cells"]), wall_s=wall))


def worker_bug(phase, exc):
    error = describe_error(exc)
    error.update(type="WorkerCrashed",
                 message="the worker's own code raised {}: {}".format(error["type"], error["message"]))
    return save_failed("crashed", error) if phase == "save" else failed_cell("crashed", error)


def save_cell(keras, cell):
    from runner import compat
    from runner.cases import load_case, resume_batch, resumes

    reason = compat.unsupported_reason(keras, cell["format"])
    if reason:
        return save_failed("unsupported", reason=reason)
    laps = Laps()
    try:
        case = load_case(cell["case"])
        missing = compat.unavailable_reason(keras, case)
        if missing:
            return save_failed("unavailable", reason=missing)
        kept = KEPT_REFERENCE.pop(cell["case"], None) if cell["format"] not in FULL_MODEL_FORMATS else None
        model, inputs, outputs, tolerance = kept or reference_model(case, laps)
        try:
            place(cell["artifact"], lambda staged: save_staged(keras, model, cell, staged))
        except Exception as exc:
            reason = compat.export_refused(keras, cell["format"], exc)
            if reason is None:
                raise
            return save_failed("unsupported", reason=reason)
        laps("save")
        # what one more step gives, for the loads that say whether training resumes as saved
        resumed = None
        if resumes(case):
            model.train_on_batch(*resume_batch(case))
            resumed = reference_outputs(model, inputs)
        elif cell["format"] not in FULL_MODEL_FORMATS and compat.keeps_models():
            KEPT_REFERENCE[cell["case"]] = model, inputs, outputs, tolerance
        laps("resume")
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            return save_failed("error", describe_error(exc))
        # Not the producer's fault: retried on the next run, like a crash.
        return save_failed("crashed", {
            "type": "DiskFull", "traceback": describe_error(exc)["traceback"],
            "message": "no space left on the device while saving {}: free some space and run again; "
                       "finished records are kept".format(cell["artifact"])})
    except Exception as exc:
        return save_failed("error", describe_error(exc))
    finally:
        compat.clear_session(keras)
        laps("clear")
    write_json(cell["reference"], reference_data(inputs, outputs, tolerance, resumed))
    laps("reference")
    saved = saved_artifact(compat.save_call(keras, cell["format"]), cell["artifact"], cell["reference"])
    laps("hash")
    return dict(saved, timings=laps.seconds)


# case -> (model, inputs, outputs, tolerance) of its last save, for its next format, where
# compat.keeps_models. Only between saves that read the model and nothing more (the weights and
# the JSON): a full model save can change it (Keras 3.15's .h5 save drops the optimizer from the
# compile config, so a .keras saved after it has none; measured, keras-team/keras#23475), so every full model file is
# saved from a model of its own. A model that took the resume step is not kept either. The save
# worker gets every format of a case in a row (matrix.plan.plan_saves), so the one kept is the
# one the next cell wants, or none is.
KEPT_REFERENCE = {}


def reference_model(case, laps):
    """``(model, inputs, outputs, tolerance)``: the case built (and trained) from the fixed seed,
    and what it predicts for the fixed input."""
    from runner import compat
    from runner.cases import case_inputs, is_trained, train

    KEPT_REFERENCE.clear()
    compat.seed_everything(SEED)
    model = case.build()
    if is_trained(case):
        train(case, model)
    inputs = fixed_inputs(case_inputs(case))
    laps("build")
    outputs = reference_outputs(model, inputs)
    tolerance = tolerance_for(compat.compute_dtypes(model))
    laps("predict")
    return model, inputs, outputs, tolerance


def reference_outputs(model, inputs):
    """What ``predict`` gives for the fixed input, untuned, every output by name."""
    from runner.ladder import model_input, named_outputs

    return named_outputs(model.predict(model_input(inputs, by_name=False), verbose=0), output_names(model))


def output_names(model):
    """The model's output names as Keras lists them (a dict of outputs names its own)."""
    return list(getattr(model, "output_names", None) or ())


def save_staged(keras, model, cell, staged):
    from runner.compat import save

    faults.strike(cell, "save", staged)
    save(keras, model, cell["format"], staged)


def load_cell(keras, cell):
    from runner import compat
    from runner.cases import load_case
    from runner.ladder import ladder_for, named_probes, named_rungs, run_ladder

    faults.strike(cell, "load", cell["artifact"])
    laps = Laps()
    problem = integrity_problem(cell)
    laps("digest")
    if problem:
        return failed_cell("corrupt-artifact", {"type": "CorruptArtifact", "message": problem})
    reference = read_json(cell["reference"])
    inputs, expected, tolerance = read_reference(reference)
    try:
        case = load_case(cell["case"])
        missing = compat.unavailable_reason(keras, case)
        # the step runs the case's own loss, which this Keras may not (TensorFlow ops on JAX)
        resume = resume_of(case, reference) if not missing else None
    except Exception as exc:  # the case's own code does not import in this Keras: nothing can load
        return failed_cell("error", describe_error(exc))
    laps("read")
    if missing and cell["format"] in WEIGHTS_FORMATS:  # weights go into the model built here: it cannot be
        return failed_cell("unavailable", {"type": "LoadUnavailable", "message": missing})
    names = [name for name, _values in expected]
    rungs, probes = ladder_for(cell["format"])
    attempts = run_ladder(keras, case, cell["artifact"], inputs, expected, named_rungs(rungs, names),
                          named_probes(probes, names), tolerance, ATTEMPT_LIMITS.bound(cell["case"], cell["format"]),
                          resume)
    return dict(loaded_cell(attempts), tolerance=tolerance, timings=laps.seconds)


def resume_of(case, reference):
    """``(batch, outputs after the step)`` for a load of a trained case to compare with, or None."""
    from runner.cases import resume_batch

    resumed = read_resumed(reference)
    return None if resumed is None else (resume_batch(case), resumed)


def verify_cell(keras, cell):
    """One recorded attempt, run again as the only attempt of this fresh process (the host
    starts one per cell): ``{"attempt": ...}`` for the host to compare with the recorded one."""
    from runner.cases import load_case
    from runner.ladder import naming, rung_named, try_rung

    faults.strike(cell, "load", cell["artifact"])
    problem = integrity_problem(cell)
    if problem:
        return {"attempt": None, "error": {"type": "CorruptArtifact", "message": problem}}
    reference = read_json(cell["reference"])
    inputs, expected, tolerance = read_reference(reference)
    recorded = cell["recorded"]
    rung = rung_named(recorded["mode"], recorded["call"])
    rung = rung._replace(load=naming(rung, [name for name, _values in expected]))
    case = load_case(cell["case"])
    resume = None if recorded.get("probe") else resume_of(case, reference)
    # the full limit, whatever the recorded attempt had: a shortened one that cut a load short shows here
    attempt = try_rung(keras, case, cell["artifact"], rung, inputs, expected, tolerance, ATTEMPT_S, resume)
    return {"attempt": dict(attempt, probe=bool(recorded.get("probe")))}


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


COMMANDS = {"save": ("save", save_cell), "load": ("load", load_cell), "verify": ("verify", verify_cell)}
