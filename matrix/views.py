"""Typed views of what crosses from the host to the report: the records' parts and run.json.

Records are JSON the worker wrote (``runner.protocol`` says what is in them); these are the
shapes the host assembles from them into run.json and the report reads, so mypy checks every
field on the way.
"""

from __future__ import annotations

from typing import Any, TypedDict


class ErrorData(TypedDict, total=False):
    type: str
    message: str
    traceback: str  # the traceback's tail, or a dead worker's log tail


class OutputDiff(TypedDict):
    name: str
    max_abs_diff: float | None
    outcome: str  # ok, mismatch


class Resume(TypedDict):
    outcome: str  # ok, mismatch, error
    max_abs_diff: float | None
    error: ErrorData | None


class AttemptData(TypedDict, total=False):
    """One rung of the ladder as the worker recorded it (run.json leaves out its error's traceback)."""

    mode: str
    call: str
    outcome: str  # ok, mismatch, error; loaded: a check's, with no input to predict on
    stage: str  # load, predict, done
    unsafe: bool
    probe: bool
    max_abs_diff: float | None
    fidelity: str | None  # runner.protocol.FIDELITY_NAMES: what it gave back, where it loaded
    resume: Resume  # a trained case's model that came back compiled: the next training step
    outputs: list[OutputDiff]  # a check's: each output compared, by name
    seconds: float
    error: ErrorData | None


class Outline(TypedDict):
    """What an attempt gave, as the self-check compares it."""

    outcome: str | None
    stage: str | None
    error: ErrorData | None


class Verified(TypedDict):
    """One attempt of a cell, run again alone in a fresh worker (``matrix.verify``)."""

    attempt: int
    mode: str
    agrees: bool | None  # None: its worker died
    recorded: Outline
    fresh: Outline


class Verification(TypedDict):
    attempts: int
    agreed: int
    disagreed: int
    unverified: int


class Cell(TypedDict):
    """One producer x consumer x case x format, from its records."""

    producer: str
    consumer: str
    case: str
    format: str
    container: str | None  # what the producer really wrote
    save_error: ErrorData | None
    verdict: str  # runner.protocol.VERDICT_NAMES
    remedy: str | None
    max_abs_diff: float | None
    tolerance: float | None  # the largest diff that counted as equal (the model's compute dtype's)
    fidelity: str | None  # what the load the verdict names gives back (runner.protocol.FIDELITY_NAMES)
    custom_objects_needed: bool | None
    error: ErrorData | None
    attempts: list[AttemptData]
    seconds: float | None
    verified: list[Verified]


class StackEntry(TypedDict):
    """A stack as the report shows it: the versions its worker imported, when it ran."""

    id: str
    python: str
    tensorflow: str | None
    keras: str | None
    keras_flavor: str | None
    keras_backend: str  # what runs its models: tensorflow, jax, torch
    numpy: str | None
    h5py: str | None
    family: str
    backend: str  # where it runs: venv or docker
    status: str  # ok, unavailable, install-failed, missing
    reason: str
    requirements: list[str]
    env: dict[str, str]
    tags: list[str]  # the family first, then the declared tags


class FamilyEntry(TypedDict):
    name: str
    title: str
    colour: str


class CaseEntry(TypedDict):
    id: str
    tags: list[str]
    summary: str
    measured_on: str | None  # the stack tag the run measured it on (None: every stack)


class RunFile(TypedDict, total=False):
    """run.json: what a matrix run (or a check) did and every cell."""

    schema: int
    generated_at: str
    seconds: float
    computed: dict[str, int]
    workers: dict[str, Any]
    verification: Verification
    host: dict[str, Any]
    stacks: list[StackEntry]
    families: list[FamilyEntry]
    cases: list[CaseEntry]
    cells: list[Cell]
    files: list[dict[str, Any]]  # a check's files (matrix.check.file_entry)
