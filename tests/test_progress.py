"""Progress: plain lines at each tenth off a terminal; a redrawn block on one."""

import io

from matrix.progress import Progress


def test_plain_output_is_a_line_per_tenth_and_the_stack_lines() -> None:
    out = io.StringIO()
    with Progress("load", {"a": 30, "b": 10, "idle": 0}, stream=out, live=False) as progress:
        for done in range(31):
            progress.advance("a", done)
        progress.finish("a", "matrix: a: 30 loads in 1.0 s")
        for done in range(11):
            progress.advance("b", done)
        progress.finish("b", "matrix: b: 10 loads in 1.0 s")
    lines = out.getvalue().splitlines()
    tenths = [line for line in lines if line.startswith("matrix: load: ")]
    assert [line.split(" cells")[0] for line in tenths] == [
        f"matrix: load: {n}/40" for n in (4, 8, 12, 16, 20, 24, 28, 32, 36, 40)]
    assert "matrix: a: 30 loads in 1.0 s" in lines and "\x1b[" not in out.getvalue()


def test_live_output_redraws_the_block_under_the_log_lines() -> None:
    out = io.StringIO()
    with Progress("save", {"a": 4}, stream=out, live=True) as progress:
        progress.advance("a", 2)
        progress.log("matrix: something happened")
        progress.finish("a", "matrix: a: 4 saves")
    text = out.getvalue()
    assert "\x1b[" in text  # cursor moves: the block is erased before each line above it
    assert "  a " in text and "[" + "#" * 12 + "." * 12 + "] 2/4" in text
    assert "matrix: a: 4 saves\n" in text and text.endswith("\x1b[1F\x1b[J")  # the block is erased at the end


def test_a_stack_counts_as_running_from_its_first_report() -> None:
    out = io.StringIO()
    progress = Progress("load", {"a": 10, "b": 10}, stream=out, live=False)
    progress.advance("a", 0)
    progress.advance("b", 0)
    assert progress.overall().endswith("running: 2")
    progress.finish("a", "matrix: a done")
    assert progress.overall().endswith("running: 1")
