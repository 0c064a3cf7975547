"""The self-check's choices: which attempts it draws, and what counts as agreeing."""

from collections import Counter
from pathlib import Path

import pytest

from matrix.errors import SelectionError
from matrix.plan import LoadCell
from matrix.store import Workspace
from matrix.verify import (
    Candidate,
    VerifyRequest,
    agrees,
    choose,
    draw,
    measured_attempts,
    verification_entry,
    verify_fingerprint,
    verify_job_cell,
)


def attempt(mode: str, error_type: str | None, outcome: str = "error", message: str = "boom") -> dict:
    error = {"type": error_type, "message": message} if error_type else None
    return {"mode": mode, "call": f"call of {mode}", "probe": False, "outcome": outcome, "stage": "load",
            "error": error, "max_abs_diff": None}


def candidate(consumer: str, mode: str, error_type: str, n: int = 0, message: str = "boom") -> Candidate:
    cell = LoadCell("producer", consumer, f"case{n}", "h5", f"fp-{consumer}-{n}", "a" * 64, "b" * 64)
    return Candidate(cell, 0, attempt(mode, error_type, message=message))


def test_every_stratum_is_drawn_once_before_any_twice() -> None:
    common = [candidate("tf2.3", "documented", "ValueError", n) for n in range(50)]
    rare = [candidate("tf2.3", "tf.saved_model.load", "FailedPreconditionError"),
            candidate("keras3.15", "documented", "ValueError")]
    chosen = draw(common + rare, 3, seed=7)
    assert Counter(c.stratum for c in chosen) == Counter({c.stratum: 1 for c in (common[0], *rare)})
    assert len(draw(common + rare, 10, seed=7)) == 10
    assert len(draw(common + rare, 100, seed=7)) == 52  # no more than there are


def test_a_seed_repeats_the_draw_and_another_seed_changes_it() -> None:
    pool = [candidate(f"c{k}", "documented", "ValueError", n) for k in range(3) for n in range(20)]
    first = [c.cell for c in draw(pool, 6, seed=1)]
    assert first == [c.cell for c in draw(pool, 6, seed=1)]
    assert any([c.cell for c in draw(pool, 6, seed=seed)] != first for seed in range(2, 6))


def test_a_signature_selects_every_matching_attempt_by_catalog_id_or_regex() -> None:
    batch_shape = "Unrecognized keyword arguments: ['batch_shape']"
    pool = [candidate("tf2.15", "documented", "ValueError", n, message=batch_shape) for n in range(4)]
    pool += [candidate("tf2.15", "documented", "TypeError", 9, message="'module' object is not callable")]
    by_id = choose(pool, VerifyRequest(signatures=("keras3-batch-shape",)), seed=0)
    assert [c.cell.case for c in by_id] == ["case0", "case1", "case2", "case3"]
    by_regex = choose(pool, VerifyRequest(sample=1, signatures=("^TypeError: 'module'",)), seed=0)
    assert by_regex[0].cell.case == "case9" and len(by_regex) == 2
    with pytest.raises(SelectionError, match="neither a catalog id"):
        choose(pool, VerifyRequest(signatures=("([unclosed",)), seed=0)


def test_agreement_is_outcome_stage_exception_type_and_resume_outcome() -> None:
    resumed = {**attempt("documented", None, outcome="ok"), "resume": {"outcome": "ok", "max_abs_diff": 0.0}}
    assert agrees(resumed, {**resumed, "resume": {"outcome": "ok", "max_abs_diff": 1e-7}})
    assert not agrees(resumed, {**resumed, "resume": {"outcome": "mismatch", "max_abs_diff": 0.3}})
    recorded = attempt("documented", "ValueError")
    assert agrees(recorded, attempt("documented", "ValueError", message="another uid_123"))
    assert not agrees(recorded, attempt("documented", "KeyError"))
    assert not agrees(recorded, attempt("documented", None, outcome="ok"))
    assert not agrees(recorded, {**recorded, "stage": "predict"})
    assert agrees(recorded, None) is None


def test_measured_attempts_skip_passed_stale_and_verified_ones(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    cell = LoadCell("p", "c", "case", "h5", "fp-now", "a" * 64, "b" * 64)
    stale = LoadCell("p", "c", "old", "h5", "fp-now", "a" * 64, "b" * 64)
    workspace.write(workspace.load_record("p", "c", "case", "h5"), {"schema": 1, "fingerprint": "fp-now", "attempts": [
        attempt("documented", "ValueError"), attempt("compile=False", None, outcome="ok"),
        attempt("probe: no custom_objects", "ValueError"), attempt("tf_keras", None, outcome="mismatch")]})
    workspace.write(workspace.load_record("p", "c", "old", "h5"),
                    {"schema": 1, "fingerprint": "fp-before", "attempts": [attempt("documented", "ValueError")]})
    assert [(c.index, c.verified) for c in measured_attempts([cell, stale], workspace)] == [
        (0, False), (1, False), (2, False), (3, False)]
    job = verify_job_cell(Candidate(cell, 2, attempt("probe: no custom_objects", "ValueError")), workspace)
    assert job["fingerprint"] == verify_fingerprint(cell, 2) and job["stack"] == "c"
    workspace.write(job["record"], {**job, "schema": 1, "attempt": attempt("probe: no custom_objects", "ValueError")})
    found = list(measured_attempts([cell], workspace))
    assert [(c.index, c.verified) for c in found] == [(0, False), (1, False), (2, True), (3, False)]
    assert sorted(c.index for c in choose(found, VerifyRequest(sample=5), seed=0)) == [0, 1, 3]
    assert [c.index for c in choose(found, VerifyRequest(signatures=("ValueError",)), seed=0)] == [0, 2]


def test_a_verification_whose_worker_died_is_neither_agreement_nor_disagreement(tmp_path: Path) -> None:
    cell = LoadCell("p", "c", "case", "h5", "fp", "a" * 64, "b" * 64)
    job = verify_job_cell(Candidate(cell, 0, attempt("documented", "ValueError")), Workspace(tmp_path))
    crashed = {**job, "verdict": "crashed", "error": {"type": "WorkerCrashed", "message": "signal SIGSEGV"}}
    entry = verification_entry(crashed)
    assert entry["agrees"] is None and entry["fresh"]["error"]["type"] == "WorkerCrashed"
    assert verification_entry({**job, "attempt": attempt("documented", "ValueError")})["agrees"] is True
