"""The workspace: where environments, artifacts, jobs, logs and records live.

Every path handed to a worker is relative to the workspace root, so a job means the same
thing in a venv and in a container that mounts the workspace.
"""

from __future__ import annotations

import fcntl
import gc
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matrix.errors import WorkspaceError
from runner.protocol import SCHEMA, format_named, write_json

Record = dict[str, Any]


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def envs(self) -> Path:
        return self.root / "envs"

    @property
    def run_file(self) -> Path:
        return self.root / "run.json"

    def job_file(self, stack_id: str, phase: str) -> str:
        return f"jobs/{stack_id}.{phase}.json"

    def heartbeat_file(self, stack_id: str, phase: str) -> str:
        return f"jobs/{stack_id}.{phase}.heartbeat"

    def timings_file(self, stack_id: str, phase: str, process: int) -> str:
        """What the job's ``process``-th worker says of its time (runner.protocol: timings)."""
        return f"jobs/{stack_id}.{phase}.timings-{process}.json"

    def timings_files(self, stack_id: str, phase: str) -> list[Path]:
        return sorted((self.root / "jobs").glob(f"{stack_id}.{phase}.timings-*.json"))

    def log_file(self, stack_id: str, phase: str) -> str:
        return f"logs/{stack_id}.{phase}.log"

    def records_of(self, kind: str, stack_id: str | None = None) -> Path:
        """The folder of the records of a kind (``save``, ``load``, ``verify``), or of one stack's:
        as the producer for saves, as the consumer for loads and verifications."""
        folder = self.root / "records" / kind
        return folder / stack_id if stack_id else folder

    def stack_record(self, stack_id: str) -> str:
        return f"records/stacks/{stack_id}.json"

    def save_record(self, producer: str, case: str, fmt: str) -> str:
        return f"records/save/{producer}/{case}.{fmt}.json"

    def load_record(self, producer: str, consumer: str, case: str, fmt: str) -> str:
        return f"records/load/{consumer}/{producer}/{case}.{fmt}.json"

    def verify_record(self, producer: str, consumer: str, case: str, fmt: str, attempt: int) -> str:
        return f"records/verify/{consumer}/{producer}/{case}.{fmt}.{attempt}.json"

    def artifact(self, producer: str, case: str, fmt: str) -> str:
        return f"artifacts/{producer}/{case}/{format_named(fmt).artifact}"

    def reference(self, producer: str, case: str, fmt: str) -> str:
        return f"artifacts/{producer}/{case}/{fmt}.reference.json"

    # `matrix check`: a user's files and what their check depends on, under check/

    @property
    def check_run_file(self) -> Path:
        return self.root / "check" / "run.json"

    def check_record(self, stack_id: str, file_key: str, step: str) -> str:
        """``step``: ``predict`` (the reference search) or ``load``."""
        return f"check/records/{stack_id}/{file_key}.{step}.json"

    def check_records_of(self, stack_id: str) -> Path:
        return self.root / "check" / "records" / stack_id

    def check_copy(self, kind: str, digest: str, name: str) -> str:
        """A copy of a user's file (``kind`` files) or sample (``samples``), by content and name."""
        return f"check/{kind}/{digest[:16]}/{name}"

    def check_code(self, digest: str) -> str:
        return f"check/code/{digest[:16]}"

    def check_reference(self, file_key: str) -> str:
        return f"check/references/{file_key}.json"

    def read(self, relative: str) -> Record | None:
        """A record of this schema, or None when it is missing, unreadable or of another schema."""
        record = self.read_any(relative)
        return record if record is not None and record.get("schema") == SCHEMA else None

    def read_any(self, relative: str) -> Record | None:
        """A record of any schema, or None when it is missing or unreadable."""
        try:
            record = json.loads((self.root / relative).read_text())
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the workspace for one run; a second run at the same time gets a clear error.

        flock: the kernel releases it when the holder dies, even by SIGKILL."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "lock", "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another matrix run"
                raise WorkspaceError(f"{self.root} is in use by {holder}: wait for that run to finish, "
                                     "or give this one its own --workspace DIR (and --site DIR)") from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"matrix run pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}")
            handle.flush()
            yield

    def write(self, relative: str, data: Record, compact: bool = False) -> None:
        write_json(str(self.root / relative), data, compact=compact)


@contextmanager
def bulk_records() -> Iterator[None]:
    """Python's cycle collector paused while tens of thousands of records are read, assembled
    or reported: JSON data has no cycles to find, and walking it again and again took 1.5 s of
    a no-op run's 5.9 s (the report aside) and 1.0 s of its report's 4.0 s, measured. What
    little else makes cycles meanwhile is collected once it is resumed (the report's process
    ends first)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
