"""Error signatures: an exception normalized so the same failure groups across cells, matched
against the catalog, and summarized with where the matrix saw it.

The type is kept; in the message, config dicts, memory addresses, paths, layer-name suffixes
and numbers are masked. The raw message always stays beside the signature.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import pandas as pd

from reports.catalog import entry_by_id

MASKS = (
    (re.compile(r"\{[^{}]*\}"), "{...}"),                       # config dicts, innermost first
    (re.compile(r"\{[^{}]*\}"), "{...}"),
    (re.compile(r"0x[0-9a-fA-F]+"), "0x?"),                    # memory addresses
    (re.compile(r"(?:[\w.\-]*/)+[\w\-]+(?:\.[\w\-]+)*/?"), "<path>"),  # paths with a slash
    (re.compile(r"\b([a-z][a-z_]*?)_\d+\b"), r"\1_N"),          # dense_3 -> dense_N
    (re.compile(r"(?<!Keras )\b\d+(?:\.\d+)?\b"), "N"),         # other numbers, not "Keras 3"
    (re.compile(r"\s+"), " "),
)
MESSAGE_CHARS = 160


@functools.cache  # the same messages recur over thousands of cells
def normalize(message: str) -> str:
    """The message with its instance-specific parts masked, cut to a readable length."""
    text = message.strip()
    for pattern, replacement in MASKS:
        text = pattern.sub(replacement, text)
    return text[:MESSAGE_CHARS].rstrip()


def signature_of(error: dict[str, str] | None) -> str | None:
    if not error:
        return None
    return f"{error.get('type', 'Error')}: {normalize(error.get('message', ''))}"


def cell_failure(cell: dict[str, Any]) -> dict[str, str] | None:
    """The error a cell is known by: what stopped it (nothing loaded, a dead worker, a failed
    save) or, when a remedy worked, the documented way's error."""
    if cell.get("error"):
        return dict(cell["error"])
    attempts = cell.get("attempts") or []
    if attempts and attempts[0].get("outcome") == "error" and attempts[0].get("error"):
        return dict(attempts[0]["error"])
    return None


def summarize(frame: pd.DataFrame, flavors: dict[str, str]) -> list[dict[str, Any]]:
    """One entry per signature group (a catalog id, or the normalized text when unknown),
    most cells first, with where it was seen and what worked there."""
    failed = frame.dropna(subset=["signature"]).copy()
    if failed.empty:
        return []
    failed["group"] = failed["signature_id"].fillna(failed["signature"])
    groups = [summarize_group(rows, flavors) for _, rows in failed.groupby("group", sort=False)]
    return sorted(groups, key=lambda g: (-g["cells"], g["signature"]))


def summarize_group(rows: pd.DataFrame, flavors: dict[str, str]) -> dict[str, Any]:
    first = rows.iloc[0]
    entry = entry_by_id(first["signature_id"])  # the cells were matched once, in results.py
    remedies = rows.dropna(subset=["remedy"])["remedy"].value_counts()
    return {
        "id": entry.id if entry else None,
        "signature": str(rows["signature"].value_counts().index[0]),
        "variants": sorted(rows["signature"].unique().tolist()),
        "title": entry.title if entry else None,
        "explanation": entry.explanation if entry else None,
        "remedy": entry.remedy if entry else None,
        "links": list(entry.links) if entry else [],
        "cells": len(rows),
        "verdicts": {str(k): int(v) for k, v in rows["verdict"].value_counts().items()},
        "remedies_that_worked": {str(k): int(v) for k, v in remedies.items()},
        "seen": seen_pattern(rows, flavors),
        "example": str(first["error_message"]),
    }


def seen_pattern(rows: pd.DataFrame, flavors: dict[str, str]) -> dict[str, Any]:
    """Where the matrix saw a signature, in the terms a reader upgrades by."""
    return {
        "producer_flavors": sorted({flavors.get(p, "?") for p in rows["producer"]}),
        "consumer_flavors": sorted({flavors.get(c, "?") for c in rows["consumer"]}),
        "producers": sorted(rows["producer"].unique().tolist()),
        "consumers": sorted(rows["consumer"].unique().tolist()),
        "formats": sorted(rows["format"].unique().tolist()),
        "cases": sorted(rows["case"].unique().tolist()),
        "same_stack": bool((rows["producer"] == rows["consumer"]).any()),
        "flavor_pairs": sorted({f"{flavors.get(p, '?')} -> {flavors.get(c, '?')}"
                                for p, c in zip(rows["producer"], rows["consumer"], strict=True)}),
    }


def describe_seen(seen: dict[str, Any], total_cases: int) -> str:
    """One sentence from ``seen_pattern``: what a reader checks against their own upgrade."""
    cases = "every case" if len(seen["cases"]) == total_cases else ", ".join(seen["cases"])
    same = " including producer and consumer on the same stack" if seen["same_stack"] else ""
    return (f"Seen saving with {' / '.join(seen['producer_flavors'])} and loading with "
            f"{' / '.join(seen['consumer_flavors'])} ({'; '.join(seen['flavor_pairs'])}), "
            f"formats {', '.join(seen['formats'])}, cases: {cases}{same}.")
