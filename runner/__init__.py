"""The worker: runs inside one stack's environment and answers one job file.

Protocol (the host never imports this package; it only writes and reads files):

    python -m runner save JOBFILE
    python -m runner load JOBFILE
    python -m runner verify JOBFILE     (one recorded attempt again; the host starts one per cell)

The current directory is the workspace; every path in a job or a record is relative to it.
A job file is JSON::

    {"schema": 1, "phase": "save" | "load" | "verify", "stack": "<stack id>",
     "heartbeat": "jobs/<stack>.<phase>.heartbeat",
     "cells": [{"record": "records/...json", "fingerprint": "...", ...}, ...]}

For each cell, in order, the worker writes exactly one JSON record to ``cell["record"]``,
atomically (a temporary file, then ``os.replace``). A cell's own failure becomes fields of its
record; no exception escapes a cell. Before each cell the worker writes ``{"cell": INDEX}`` to
the heartbeat file, so when the worker dies or hangs the host knows which cell to blame.
stdout and stderr are logs only.

This package must run on Python 3.7 with nothing but TensorFlow installed: stdlib only at
module level, TensorFlow and NumPy imported inside functions.
"""

SCHEMA = 1
