"""Secrets of an instance: configured, or generated into the data directory once.

No secret is written into the code or the repository.  A generated key is stored with
mode 0600 under `<data dir>/keys/` and reused on every later start, so pseudonyms stay
stable across restarts (the erasure journal and audit chain depend on that).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import SecretStr

KEY_BYTES = 32


def _read_or_create(path: Path) -> bytes:
    if path.exists():
        value = bytes.fromhex(path.read_text("ascii").strip())
        if len(value) < KEY_BYTES:
            raise ValueError(f"{path} holds a key shorter than {KEY_BYTES} bytes")
        return value
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_bytes(KEY_BYTES)
    # O_EXCL: two instances starting at once cannot overwrite each other's key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_or_create(path)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(value.hex() + "\n")
    return value


def instance_key(data_dir: Path, name: str, configured: SecretStr | None) -> bytes:
    if configured is not None:
        raw = configured.get_secret_value().encode("utf-8")
        if len(raw) < KEY_BYTES:
            raise ValueError(f"the configured {name} key must be at least {KEY_BYTES} characters")
        return raw
    return _read_or_create(data_dir / "keys" / f"{name}.key")
