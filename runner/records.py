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
    """``(verdict, remedy, max_abs_diff)`` of a cell from its attempts, the documented way first.

    The remedy is the first rung that loads and predicts the saved outputs (None when that is
    the documented way). The verdict is ``mismatch`` when any rung before it, or every rung,
    loaded but predicted something else: a silent wrong answer outranks a later fix. The diff
    is the first loaded rung's. Probes never count.
    """
    rungs = [a for a in attempts if not a.get("probe")]
    loaded = [a for a in rungs if a["outcome"] != "error"]
    if not loaded:
        return "error", None, None
    diff = loaded[0].get("max_abs_diff")
    matched = [index for index, a in enumerate(rungs) if a["outcome"] == "ok"]
    remedy = rungs[matched[0]]["mode"] if matched and matched[0] > 0 else None
    if not matched or loaded[0]["outcome"] == "mismatch":
        return "mismatch", remedy, diff
    return ("ok" if matched[0] == 0 else "remedy"), remedy, diff


def custom_objects_needed(attempts):
    """What the probe answered: True, False, or None when no probe ran."""
    for attempt in attempts:
        if attempt.get("probe"):
            return attempt["outcome"] != "ok"
    return None
