"""API_TOKENS entries: `<token>`, `sha256:<hex>`, or either behind a name (`admin=<token>`).

Parsed once, here, for the settings (which refuse a bad entry at start) and for the
authentication middleware (which keeps only the digests).
"""

from __future__ import annotations

import hashlib
import re

from attrs import frozen

_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
# A name is a plain word; a token may itself contain "=" (base64 padding), so an
# entry is named only when what comes before the first "=" is such a word and what
# follows is more than padding.
_NAMED = re.compile(r"([A-Za-z][A-Za-z0-9_.-]{0,63})=(.*[^=].*)", re.DOTALL)


@frozen
class ApiToken:
    """One accepted token, kept as its SHA-256 digest; `name` says whose it is ("" if unnamed)."""

    name: str
    digest: bytes


def parse_token_entry(entry: str) -> ApiToken:
    """The token an API_TOKENS entry stands for; ValueError says what is wrong with it."""
    entry = entry.strip()
    name = ""
    named = _NAMED.fullmatch(entry)
    if named:
        name, entry = named.group(1), named.group(2).strip()
    if not entry:
        raise ValueError("an entry is empty")
    if entry.lower().startswith("sha256:"):
        digest = entry[7:].strip()
        if not _SHA256.fullmatch(digest):
            raise ValueError("a sha256: entry must be followed by 64 hexadecimal digits (and nothing else)")
        return ApiToken(name, bytes.fromhex(digest))
    return ApiToken(name, hashlib.sha256(entry.encode()).digest())
