"""The token `serve` makes when API_TOKENS is not set: random, once, readable by the owner only."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

TOKEN_FILE = "api-token"


def local_token(data_dir: Path) -> tuple[str, Path]:
    """The token kept in the data folder, made on first use; and where it is."""
    path = data_dir / TOKEN_FILE
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        token = path.read_text().strip()
        if token:
            return token, path
        raise ValueError(f"{path} is empty: delete it and a new token will be made") from None
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip(), path
