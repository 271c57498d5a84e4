"""``python -m tirek.devidp [--host H] [--port P] [--data-dir DIR] [--base-url URL]``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import uvicorn

from tirek.devidp.app import DEFAULT_ACCESS_TOKEN_LIFETIME, REALM, ProductionRefused, create_app


def main(argv: list[str] | None = None) -> int:
    """Run the development issuer until interrupted; 2 when refused (production)."""
    parser = argparse.ArgumentParser(
        prog="python -m tirek.devidp",
        description="Tirek development OIDC issuer (Keycloak-compatible). Never for production.",
    )
    parser.add_argument("--host", default=os.environ.get("TIREK_DEVIDP_HOST", "127.0.0.1"))
    parser.add_argument(
        "--port",
        type=int,
        default=os.environ.get("TIREK_DEVIDP_PORT", "8080"),
        help="TCP port (default: $TIREK_DEVIDP_PORT or 8080)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("TIREK_DEVIDP_DATA_DIR", ".tirek/devidp")),
        help="where keys, client secrets and users are kept (default: .tirek/devidp)",
    )
    parser.add_argument(
        "--base-url",
        default=os.environ.get("TIREK_DEVIDP_BASE_URL"),
        help="public base URL for 'iss' (default: the URL each request arrived at)",
    )
    parser.add_argument(
        "--access-token-lifetime",
        type=int,
        default=DEFAULT_ACCESS_TOKEN_LIFETIME,
        help="seconds (default: 900)",
    )
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    try:
        app = create_app(
            args.data_dir, args.base_url, access_token_lifetime=args.access_token_lifetime
        )
    except ProductionRefused as exc:
        print(f"tirek.devidp: {exc}", file=sys.stderr)
        return 2
    base = args.base_url or f"http://{args.host}:{args.port}"
    print(
        f"Tirek development issuer: {base}/realms/{REALM} "
        f"(keys, client secrets and users in {args.data_dir})",
        flush=True,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
