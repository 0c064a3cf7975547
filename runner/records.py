"""Records: atomic JSON writes, error capture and the verdict rule, all stdlib."""

import json
import os
import traceback

TRACEBACK_TAIL_LINES = 12
MESSAGE_LIMIT = 2000


def write_json(path, data):
    """Write ``data`` to ``path`` so that a reader sees the old file or the whole new one."""
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    tmp = "{}.tmp-{}".format(path, os.getpid())
    with open(tmp, "w") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def read_json(path):
    with open(path) as handle:
        return json.load(handle)


def describe_error(exc):
    """An exception as plain data: type, message and the last lines of its traceback."""
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    tail = "".join(lines).splitlines()[-TRACEBACK_TAIL_LINES:]
    return {
        "type": type(exc).__name__,
        "message": str(exc)[:MESSAGE_LIMIT],
        "traceback": "\n".join(tail),
    }


def verdict_of(attempts):
    """The cell's verdict and remedy from its attempts, the documented way first.

    The first attempt that loads decides: the documented way gives ``ok`` or ``mismatch``,
    a later rung gives ``remedy`` (named) or ``mismatch``. When nothing loads: ``error``.
    """
    for index, attempt in enumerate(attempts):
        if attempt["outcome"] == "error":
            continue
        remedy = None if index == 0 else attempt["mode"]
        if attempt["outcome"] == "mismatch":
            return "mismatch", remedy
        return ("ok" if index == 0 else "remedy"), remedy
    return "error", None
