"""Owner-only files in the issuer's data directory (keys, client secrets, users)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def ensure_data_dir(data_dir: Path) -> None:
    """Create the data directory, readable only by its owner."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)


def _write_temp(path: Path, text: str) -> Path:
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    return temp


def create_private_file(path: Path, text: str) -> bool:
    """Create ``path`` (mode 0600) with ``text`` unless it exists; False when it already did.

    The file appears complete or not at all (hard link of a finished temporary file), so two
    processes starting on one data directory agree on a single key or secret.
    """
    temp = _write_temp(path, text)
    try:
        os.link(temp, path)
    except FileExistsError:
        return False
    finally:
        temp.unlink()
    return True


def replace_private_file(path: Path, text: str) -> None:
    """Atomically replace ``path`` (mode 0600) with ``text``."""
    os.replace(_write_temp(path, text), path)
