"""Text from the database made safe for a terminal: what CCD or a client wrote is untrusted."""

from __future__ import annotations

MAX_ERROR_CHARS = 300


def printable(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """`text` on one line, shortened, every control character escaped (\\x1b, \\n): an
    escape sequence in an error message cannot move the cursor or rewrite the screen."""
    shown = "".join(char if char.isprintable() else char.encode("unicode_escape").decode("ascii") for char in text)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"
