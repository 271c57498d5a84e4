"""OAuth clients of the development realm: the public web client and the service clients."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from tirek.devidp.files import create_private_file, replace_private_file

#: Public client (no secret) used by the web UI and by people's scripts: password grant.
PUBLIC_CLIENT = "tirek-web"
#: Confidential clients, one per service; each is also an audience of every access token.
SERVICE_CLIENTS: tuple[str, ...] = (
    "tirek-intake",
    "tirek-referral",
    "tirek-notification",
    "tirek-reporting",
    "tirek-admin",
)
SECRETS_FILE = "client-secrets.json"


def load_client_secrets(data_dir: Path) -> dict[str, str]:
    """Secrets of the service clients, generated into ``data_dir`` (mode 0600) on first use."""
    path = data_dir / SECRETS_FILE
    if not path.exists():
        fresh = {client: secrets.token_urlsafe(32) for client in SERVICE_CLIENTS}
        create_private_file(path, json.dumps(fresh, indent=2))
    stored = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(stored, dict):
        raise ValueError(f"{path} is not a JSON object")
    known = {str(client): str(secret) for client, secret in stored.items()}
    missing = [client for client in SERVICE_CLIENTS if client not in known]
    if missing:
        # A client added to SERVICE_CLIENTS after the data dir was created.
        known.update({client: secrets.token_urlsafe(32) for client in missing})
        replace_private_file(path, json.dumps(known, indent=2))
    return known
