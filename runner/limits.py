"""A time limit on each load attempt, so that a load that never returns costs its attempt, and a
family of them (one Keras that hangs on every file of a kind) costs minutes, not hours.

Measured: Keras 3.0 loops forever in ``functional_from_config`` on a Keras 2 ``.h5`` of a model
nested in a model (the nodes it waits for never resolve), and so do 3.5, 3.11 and 3.13 by hand;
3.12 raises "Invalid Functional model configuration" instead. The loop is Python, so an exception raised in the
loading thread (``PyThreadState_SetAsyncExc``) stops it, and the worker goes on with the next
rung. A load stuck in C code is not interrupted: the host's cell timeout still catches it.
"""

import collections
import contextlib
import ctypes
import sys
import threading

from runner.protocol import attempt_loaded

# The slowest attempt measured took 13 s (TF 1.15 reading a text_rnn SavedModel), the next 8.6 s
# (a MobileNetV2 SavedModel), over every load of the seven `eras` stacks, where the slow cases
# run: an attempt gets 60 s.
ATTEMPT_S = 60.0
# Once an attempt at a file of a case and format hangs in a worker, the later ones of that case
# and format get this, or SHORT_FACTOR times the slowest attempt of the case that loaded here.
SHORT_S = 2.0
SHORT_FACTOR = 5.0


class AttemptTimeout(Exception):
    """Raised in the loading thread when an attempt runs past its limit."""


class AttemptLimits(object):
    """The limit of each attempt in one worker process, per case and format."""

    def __init__(self):
        self.hung = set()
        self.slowest_loaded = collections.defaultdict(float)

    def seconds(self, case, fmt):
        if (case, fmt) not in self.hung:
            return ATTEMPT_S
        return min(ATTEMPT_S, max(SHORT_S, SHORT_FACTOR * self.slowest_loaded[case]))

    def bound(self, case, fmt):
        """The limit of one cell's attempts: ``seconds()``, and ``observe(attempt)`` after each."""
        return CellLimit(self, case, fmt)

    def observe(self, case, fmt, attempt):
        if (attempt.get("error") or {}).get("type") == AttemptTimeout.__name__:
            self.hung.add((case, fmt))
        elif attempt_loaded(attempt):
            self.slowest_loaded[case] = max(self.slowest_loaded[case], attempt.get("seconds") or 0.0)


@contextlib.contextmanager
def time_limit(seconds):
    """Raise AttemptTimeout in this thread if the block runs past ``seconds`` (None: no limit)."""
    if not seconds:
        yield
        return
    target, lock, armed = threading.get_ident(), threading.Lock(), [True]

    def interrupt():
        with lock:
            if armed[0]:
                raise_in(target, AttemptTimeout)

    timer = threading.Timer(seconds, interrupt)
    timer.daemon = True
    timer.start()
    try:
        yield
    except AttemptTimeout:  # raised by its class, bare: say what it was
        message = "no result within {:g} s: interrupted (the attempt's time limit)".format(seconds)
        raise AttemptTimeout(message) from None
    finally:
        with lock:
            armed[0] = False
        timer.cancel()
        raise_in(target, None)  # one set but not yet raised is dropped


def raise_in(thread_id, exception_class):
    """Make ``thread_id`` raise ``exception_class`` at its next Python instruction (None: cancel)."""
    ident = ctypes.c_ulong(thread_id) if sys.version_info >= (3, 7) else ctypes.c_long(thread_id)
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ident, ctypes.py_object(exception_class) if exception_class else None)


class NoLimit(object):
    """No time limit, nothing to learn: the self-check's and a user's files' attempts."""

    def seconds(self):
        return None

    def observe(self, attempt):
        pass


NO_LIMIT = NoLimit()


class CellLimit(object):
    def __init__(self, limits, case, fmt):
        self.limits, self.case, self.fmt = limits, case, fmt

    def seconds(self):
        return self.limits.seconds(self.case, self.fmt)

    def observe(self, attempt):
        self.limits.observe(self.case, self.fmt, attempt)
