"""Fault injection for the tests: off unless MATRIX_FAULTS names cells.

    MATRIX_FAULTS="PATTERN=FAULT;PATTERN=FAULT..."

PATTERN is an fnmatch pattern on a cell's record path, which names the cell:
``records/save/PRODUCER/CASE.FORMAT.json`` or ``records/load/CONSUMER/PRODUCER/CASE.FORMAT.json``.
Each fault strikes at its own point of the cell's work.
"""

import ctypes
import errno
import fnmatch
import os
import time

# fault -> where it strikes: "start" of any cell, "save" while writing, "load" before reading
FAULTS = {
    "segfault": "start",    # a real invalid memory read: SIGSEGV
    "abort": "start",       # SIGABRT, as a failed C++ assertion gives
    "hang": "start",        # never returns: the cell timeout must catch it
    "memory": "start",      # grows until the host's memory limit kills the worker
    "exception": "start",   # a bug in the worker's own code
    "disk-full": "save",    # the disk fills while the model is written
    "corrupt": "load",      # the artifact is truncated after it was saved
}
GROWTH_BYTES = 64 << 20


class InjectedFault(RuntimeError):
    """Raised by the ``exception`` fault, so the record says where it came from."""


def fault_for(cell, environ=None):
    spec = (environ if environ is not None else os.environ).get("MATRIX_FAULTS", "")
    for item in filter(None, (part.strip() for part in spec.split(";"))):
        pattern, _, fault = item.rpartition("=")
        if fault not in FAULTS or not pattern:
            raise ValueError("MATRIX_FAULTS: {!r} is not PATTERN=FAULT with FAULT one of {}".format(
                item, ", ".join(sorted(FAULTS))))
        if fnmatch.fnmatchcase(cell["record"], pattern):
            return fault
    return None


def strike(cell, point, path=None):
    """Do what MATRIX_FAULTS asks for this cell at this point; nothing when it asks nothing."""
    fault = fault_for(cell)
    if fault is None or FAULTS[fault] != point:
        return
    if fault == "segfault":
        ctypes.string_at(0)
    elif fault == "abort":
        os.abort()
    elif fault == "hang":
        while True:
            time.sleep(60)
    elif fault == "memory":
        hoard = []
        while True:
            hoard.append(b"\x01" * GROWTH_BYTES)  # written, so the pages are really resident
            time.sleep(0.05)
    elif fault == "exception":
        raise InjectedFault("injected fault: an exception in the worker's own code")
    elif fault == "disk-full":
        raise OSError(errno.ENOSPC, "No space left on device (injected)", path)
    elif fault == "corrupt":
        truncate(path)


def truncate(path):
    """Cut a file (or a SavedModel's graph) to half its size."""
    target = os.path.join(path, "saved_model.pb") if os.path.isdir(path) else path
    with open(target, "r+b") as handle:
        handle.truncate(os.path.getsize(target) // 2)
