"""Two runs' results.json compared cell by cell: what a change of this tool must leave alone.

A tuning, a refactoring or a kept model is only right if every answer stays the same: each
cell's verdict, remedy, fidelity and signature, and each attempt's mode, outcome, exception type
and resume outcome. Output differences within ``max_abs_diff`` are reported apart, as numbers.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matrix.errors import SelectionError

CELL_FIELDS = ("verdict", "remedy", "fidelity", "signature_id")
Key = tuple[str, str, str, str]  # producer, consumer, case, format


@dataclass
class Comparison:
    common: int = 0
    only_before: int = 0
    only_after: int = 0
    differing: Counter[str] = field(default_factory=Counter)  # field (or "attempts") -> cells
    examples: list[str] = field(default_factory=list)
    largest_diff_change: float = 0.0

    @property
    def same(self) -> bool:
        return not self.differing and not self.only_before and not self.only_after


def read_cells(path: Path) -> dict[Key, dict[str, Any]]:
    try:
        cells = json.loads(path.read_text())["cells"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SelectionError(f"{path} is not a results.json the report wrote ({exc}): give site/results.json "
                             "of each run") from None
    return {(c["producer"], c["consumer"], c["case"], c["format"]): c for c in cells}


def answers(cell: dict[str, Any]) -> list[tuple[Any, ...]]:
    """What each attempt answered: its mode, outcome, exception type and resume outcome."""
    return [(a["mode"], a["outcome"], (a.get("error") or {}).get("type"), (a.get("resume") or {}).get("outcome"))
            for a in cell.get("attempts", [])]


def compare(before: dict[Key, dict[str, Any]], after: dict[Key, dict[str, Any]], examples: int = 10) -> Comparison:
    result = Comparison(only_before=len(before.keys() - after.keys()), only_after=len(after.keys() - before.keys()))
    for key in sorted(before.keys() & after.keys()):
        old, new = before[key], after[key]
        result.common += 1
        changed = [name for name in CELL_FIELDS if old.get(name) != new.get(name)]
        if answers(old) != answers(new):
            changed.append("attempts")
        result.differing.update(changed)
        if changed and len(result.examples) < examples:
            result.examples.append(f"{' '.join(key)}: " + "; ".join(
                f"{name} {old.get(name)!r} -> {new.get(name)!r}" if name != "attempts"
                else f"attempts {answers(old)} -> {answers(new)}" for name in changed))
        if old.get("max_abs_diff") is not None and new.get("max_abs_diff") is not None:
            result.largest_diff_change = max(result.largest_diff_change, abs(old["max_abs_diff"] - new["max_abs_diff"]))
    return result


def cells(count: int) -> str:
    return f"{count:,} cell" + ("" if count == 1 else "s")


def lines(result: Comparison) -> list[str]:
    out = [f"{cells(result.common)} in both runs; {result.only_before:,} only in the first, "
           f"{result.only_after:,} only in the second"]
    if result.differing:
        out.append("cells that differ, by what: " + ", ".join(f"{name} {count:,}" for name, count
                                                             in result.differing.most_common()))
        out.extend("  " + example for example in result.examples)
    else:
        out.append("every common cell answers the same (verdict, remedy, fidelity, signature, every attempt)")
    out.append(f"largest change of a max_abs_diff: {result.largest_diff_change:.3g}")
    return out
