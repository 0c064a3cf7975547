"""The signature catalog: known errors, what they mean and what to do (data in catalog.toml)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

CATALOG = Path(__file__).with_name("catalog.toml")
FIELDS = ("id", "match", "title", "explanation", "remedy")


class CatalogError(Exception):
    """catalog.toml is malformed; the message names the entry and the field."""


@dataclass(frozen=True, kw_only=True, eq=False)  # one object per entry: hashed by identity, fast
class Entry:
    id: str
    pattern: re.Pattern[str]
    title: str
    explanation: str
    remedy: str
    links: tuple[str, ...] = ()


@cache
def load_catalog(path: Path | None = None) -> tuple[Entry, ...]:
    path = path or CATALOG
    try:
        entries = tomllib.loads(path.read_text()).get("signature", [])
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CatalogError(f"{path}: cannot read the signature catalog: {exc}") from exc
    parsed = tuple(parse_entry(entry, index, path) for index, entry in enumerate(entries))
    ids = [e.id for e in parsed]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise CatalogError(f"{path}: signature id(s) {duplicates} declared more than once")
    return parsed


def parse_entry(entry: dict[str, object], index: int, path: Path) -> Entry:
    where = f"{path}: signature {entry.get('id', f'#{index + 1}')!r}"
    missing = [f for f in FIELDS if not isinstance(entry.get(f), str) or not str(entry.get(f)).strip()]
    if missing:
        raise CatalogError(f"{where}: field(s) {missing} missing or empty")
    try:
        pattern = re.compile(str(entry["match"]))
    except re.error as exc:
        raise CatalogError(f"{where}: match is not a valid regular expression: {exc}") from exc
    links = entry.get("links", [])
    if not isinstance(links, list) or not all(isinstance(link, str) for link in links):
        raise CatalogError(f"{where}: links must be a list of URLs")
    return Entry(id=str(entry["id"]), pattern=pattern, title=str(entry["title"]),
                 explanation=str(entry["explanation"]), remedy=str(entry["remedy"]), links=tuple(links))


def match_error(error: dict[str, str] | None, catalog: tuple[Entry, ...] | None = None) -> Entry | None:
    """The first catalog entry whose pattern is found in ``Type: message``, or None."""
    if not error:
        return None
    text = f"{error.get('type', '')}: {error.get('message', '')}"
    return first_match(text, catalog if catalog is not None else load_catalog())


@cache  # the same errors recur over thousands of cells
def first_match(text: str, catalog: tuple[Entry, ...]) -> Entry | None:
    return next((e for e in catalog if e.pattern.search(text)), None)


def entry_by_id(entry_id: str | None) -> Entry | None:
    """The catalog entry a cell's ``signature_id`` names, or None for an unknown signature."""
    return next((e for e in load_catalog() if e.id == entry_id), None)
