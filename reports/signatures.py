"""Error signatures: an exception normalized so the same failure groups across cells.

The type is kept; in the message, paths, memory addresses, numbers, layer-name suffixes and
quoted config dicts are masked. The raw message always stays beside the signature.
"""

from __future__ import annotations

import re

MASKS = (
    (re.compile(r"\{[^{}]*\}"), "{...}"),                       # config dicts, innermost first
    (re.compile(r"\{[^{}]*\}"), "{...}"),
    (re.compile(r"0x[0-9a-fA-F]+"), "0x?"),                    # memory addresses
    (re.compile(r"(?:[\w.\-]*/)+[\w\-]+(?:\.[\w\-]+)*/?"), "<path>"),  # paths with a slash
    (re.compile(r"\b([a-z][a-z_]*?)_\d+\b"), r"\1_N"),          # dense_3 -> dense_N
    (re.compile(r"\b\d+(?:\.\d+)?\b"), "N"),                    # other numbers
    (re.compile(r"\s+"), " "),
)
MESSAGE_CHARS = 160


def normalize(message: str) -> str:
    """The message with its instance-specific parts masked, first line-ish only."""
    text = message.strip()
    for pattern, replacement in MASKS:
        text = pattern.sub(replacement, text)
    return text[:MESSAGE_CHARS].rstrip()


def signature_of(error: dict[str, str] | None) -> str | None:
    if not error:
        return None
    return f"{error.get('type', 'Error')}: {normalize(error.get('message', ''))}"
