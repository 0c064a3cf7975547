"""The worker: runs inside one stack's environment and answers one job file.

    python -m runner save|load|verify JOBFILE      the matrix (runner.worker)
    python -m runner.check predict|load JOBFILE    a user's own files (runner.check)

The current directory is the workspace. For each cell of the job, in order, the worker writes
exactly one JSON record to the path the cell names; a cell's own failure becomes fields of its
record and no exception escapes a cell. stdout and stderr are logs only. The job and record
formats, the formats and verdicts they speak of, and the atomic write are ``runner.protocol``:
the one module of this package the host imports (the rule tests hold it to that).

This package must run on Python 3.7 with nothing but TensorFlow installed: stdlib only at
module level, TensorFlow and NumPy imported inside functions.
"""
