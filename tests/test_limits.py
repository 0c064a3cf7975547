"""The attempts' time limits (runner/limits.py): a Python loop that never returns is interrupted,
nothing fires after the block, and a hang shortens the later limits of its case and format."""

import time

import pytest

from runner.limits import ATTEMPT_S, SHORT_FACTOR, SHORT_S, AttemptLimits, AttemptTimeout, time_limit


def test_a_loop_that_never_returns_is_interrupted_at_its_limit() -> None:
    started = time.monotonic()
    with pytest.raises(AttemptTimeout, match=r"no result within 0\.3 s"), time_limit(0.3):
        while True:
            pass
    assert 0.3 <= time.monotonic() - started < 2.0


def test_a_block_that_returns_in_time_leaves_nothing_behind() -> None:
    with time_limit(0.2):
        total = sum(range(1000))
    deadline = time.monotonic() + 0.6
    while time.monotonic() < deadline:  # Python instructions past the old limit: none raises
        total += 1
    assert total > 0


def test_no_limit_is_no_timer() -> None:
    with time_limit(None):
        time.sleep(0.01)


def timed_out() -> dict:
    return {"outcome": "error", "stage": "load", "seconds": ATTEMPT_S,
            "error": {"type": "AttemptTimeout", "message": "no result within 60 s"}}


def test_a_hang_shortens_the_limit_of_its_case_and_format_only() -> None:
    limits = AttemptLimits()
    assert limits.seconds("nested", "h5") == ATTEMPT_S
    limits.observe("nested", "h5", {"outcome": "ok", "stage": "done", "seconds": 0.1})
    limits.observe("nested", "h5", timed_out())
    assert limits.seconds("nested", "h5") == SHORT_S  # 5 x 0.1 s is less
    assert limits.seconds("nested", "keras") == ATTEMPT_S
    assert limits.seconds("other", "h5") == ATTEMPT_S
    # a slow load of the case that loaded (it failed predicting) keeps the short limit above it
    limits.observe("nested", "savedmodel", {"outcome": "error", "stage": "predict", "seconds": 3.0,
                                            "error": {"type": "ValueError", "message": "no"}})
    assert limits.seconds("nested", "h5") == SHORT_FACTOR * 3.0
    limits.observe("nested", "savedmodel", {"outcome": "ok", "stage": "done", "seconds": 30.0})
    assert limits.seconds("nested", "h5") == ATTEMPT_S  # never above the first limit
