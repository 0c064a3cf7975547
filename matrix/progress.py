"""Live progress of a phase, per stack and overall.

On a terminal, a block of lines is redrawn in place (one per running stack, one overall) and log
lines scroll above it. Elsewhere (CI, a pipe) it prints a plain line at every tenth of the phase.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TextIO

REDRAW_S = 0.5
BAR = 24


@dataclass
class StackProgress:
    total: int
    done: int = 0
    started: float = field(default_factory=time.monotonic)
    running: bool = False  # a worker has reported in
    finished: bool = False


class Progress:
    def __init__(self, phase: str, totals: dict[str, int], stream: TextIO | None = None,
                 live: bool | None = None) -> None:
        self.phase = phase
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty() if live is None else live
        self.stacks = {stack: StackProgress(total) for stack, total in totals.items() if total}
        self.total = sum(s.total for s in self.stacks.values())
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.drawn = 0  # lines of the live block on screen
        self.tenths = 0
        self.stop = threading.Event()
        self.painter = threading.Thread(target=self.paint_until_stopped, daemon=True) if self.live else None

    def __enter__(self) -> Progress:
        if self.painter:
            self.painter.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        if self.painter:
            self.painter.join()
        with self.lock:
            self.erase()

    def advance(self, stack: str, done: int) -> None:
        """``stack`` has finished ``done`` of its cells."""
        with self.lock:
            self.stacks[stack].running = True
            self.stacks[stack].done = max(self.stacks[stack].done, min(done, self.stacks[stack].total))
            if not self.live:
                self.print_tenths()

    def finish(self, stack: str, message: str) -> None:
        with self.lock:
            entry = self.stacks[stack]
            entry.done, entry.finished = entry.total, True
            self.print_line(message)
            if not self.live:
                self.print_tenths()

    def log(self, message: str) -> None:
        with self.lock:
            self.print_line(message)

    def done(self) -> int:
        return sum(s.done for s in self.stacks.values())

    def overall(self) -> str:
        done, elapsed = self.done(), time.monotonic() - self.started
        share = done / self.total if self.total else 1.0
        eta = f", about {seconds_text(elapsed / done * (self.total - done))} left" if 0 < done < self.total else ""
        running = sum(1 for s in self.stacks.values() if s.running and not s.finished)
        return (f"matrix: {self.phase}: {done}/{self.total} cells ({share:.0%}) in {seconds_text(elapsed)}"
                f"{eta}; running: {running}")

    # -- output (callers hold the lock) ----------------------------------------------------------

    def print_line(self, message: str) -> None:
        self.erase()
        self.stream.write(message + "\n")
        self.draw()

    def print_tenths(self) -> None:
        tenths = int(10 * self.done() / self.total) if self.total else 10
        if tenths > self.tenths:
            self.tenths = tenths
            self.stream.write(self.overall() + "\n")
            self.stream.flush()

    def paint_until_stopped(self) -> None:
        while not self.stop.wait(REDRAW_S):
            with self.lock:
                self.erase()
                self.draw()

    def draw(self) -> None:
        if not self.live:
            self.stream.flush()
            return
        width = shutil.get_terminal_size((100, 20)).columns - 1
        lines = [self.overall()]
        for stack, entry in self.stacks.items():
            if entry.running and not entry.finished:
                filled = BAR * entry.done // entry.total
                lines.append(f"  {stack:28} [{'#' * filled}{'.' * (BAR - filled)}] {entry.done}/{entry.total}")
        self.stream.write("\n".join(line[:width] for line in lines) + "\n")
        self.stream.flush()
        self.drawn = len(lines)

    def erase(self) -> None:
        if self.live and self.drawn:
            self.stream.write(f"\x1b[{self.drawn}F\x1b[J")  # up to the block's first line, clear below
            self.drawn = 0


def seconds_text(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{seconds:.0f} s"
