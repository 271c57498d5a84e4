"""``python -m tirek.localstack run`` — what ``make run`` does. See :mod:`tirek.localstack.stack`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType

from tirek.demo.consortium import DEMO_PASSWORD, TENANTS, USERS
from tirek.demo.seed import publish_tenants, seed_intake
from tirek.demo.seed_referrals import publish_agreements, seed_referrals
from tirek.localstack.stack import Stack
from tirek.messaging.naming import Naming

BANNER = """
Tirek is running. Ctrl-C stops everything; data stays in {home}/ for the next run.

  development issuer  {issuer}realms/tirek   (OpenID configuration under /.well-known/)
{services}
  NATS                {nats}
  PostgreSQL          {postgres}
  logs                {home}/logs/

Demo logins (password "{password}" for all):
{logins}

Get a token for the Aktobe caseworker and register a case:

  TOKEN=$(curl -s -d grant_type=password -d client_id=tirek-web -d username=akt-caseworker \\
      -d password={password} {issuer}realms/tirek/protocol/openid-connect/token \\
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

  curl -s -X POST {intake}/v1/cases -H "Authorization: Bearer $TOKEN" \\
      -H 'Content-Type: application/json' -d '{{"person": {{"first_name": "Айжан", "second_name": "Касымова",
      "name_latin": "Aizhan Kasymova", "sex": "female", "estimated_age": 24, "citizenship": "KG"}},
      "categories": ["presumed_victim_of_trafficking"], "exploitation_forms": ["labour"]}}'

  curl -s {intake}/v1/cases -H "Authorization: Bearer $TOKEN"
"""


def _logins() -> str:
    names = {t.code: t.name["en"] for t in TENANTS}
    return "\n".join(
        f"  {user.username:<16} {', '.join(user.roles):<16} {names[user.tenant_code]}"
        for user in USERS
    )


def seed_demo(stack: Stack, urls: dict[str, str]) -> None:
    """Seed the demo consortium through public interfaces; every step is idempotent."""
    naming = Naming(os.environ.get("TIREK_NAMESPACE", ""))
    issuer = f"{urls['issuer']}realms/tirek"
    asyncio.run(publish_tenants(urls["nats"], naming))
    asyncio.run(publish_agreements(urls["nats"], naming))
    created = asyncio.run(seed_intake(urls["intake"], issuer))
    print(f"  {created} demo cases registered" if created else "  demo cases already present")
    if "referral" in urls:
        referrals = asyncio.run(seed_referrals(urls["referral"], urls["intake"], issuer))
        print(
            f"  {referrals} demo referrals created"
            if referrals
            else "  demo referrals already present"
        )
    if "notification" in urls:
        stack.run_command("notification", "seed-demo")


def run(home: Path) -> int:
    stack = Stack(home)
    stopping = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        print("Starting NATS, PostgreSQL, the development issuer and the services...", flush=True)
        urls = stack.start()
        print("Seeding the demo consortium...", flush=True)
        seed_demo(stack, urls)
        services = "\n".join(
            f"  {name + ' API':<19} {urls[name]}/docs"
            for name in ("intake", "referral", "notification", "reporting", "admin")
            if name in urls
        )
        if "reporting" in urls:
            services += f"\n  {'dashboard':<19} {urls['reporting']}/dashboard"
        banner = BANNER.format(
            home=home, password=DEMO_PASSWORD, logins=_logins(), services=services, **urls
        )
        print(banner, flush=True)
        if os.environ.get("TIREK_RUN_ONCE"):  # used by the end-to-end test of make run
            return 0
        while not stopping.wait(1.0):
            for name, process in stack.processes:
                if process.poll() is not None:
                    print(
                        f"{name} exited with code {process.returncode}; see {home}/logs/{name}.log"
                    )
                    return 1
        return 0
    finally:
        # Stop first: printing can fail (a closed pipe) and must not leave servers running.
        stack.stop()
        with contextlib.suppress(OSError):
            print("Stopped.", flush=True)


def execute(home: Path, service: str, args: list[str]) -> int:
    """``python -m SERVICE ARGS`` with the environment ``make run`` gave the service (its
    database, the local master key): ``python -m tirek.localstack exec intake keys rewrap``."""
    saved = home / "env" / f"{service}.json"
    if not saved.exists():
        print(f"no environment for {service} in {home}: start the platform with `make run` first")
        return 2
    env = {**os.environ, **json.loads(saved.read_text())}
    return subprocess.run([sys.executable, "-m", service, *args], env=env, check=False).returncode


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tirek.localstack")
    parser.add_argument("command", choices=["run", "exec"])
    parser.add_argument("--home", type=Path, default=Path(os.environ.get("TIREK_HOME", ".tirek")))
    parser.add_argument("rest", nargs=argparse.REMAINDER, help="exec: SERVICE ARGS...")
    args = parser.parse_args()
    if args.command == "exec":
        if not args.rest:
            parser.error("exec needs a service and its arguments, e.g. exec intake keys status")
        return execute(args.home.resolve(), args.rest[0], args.rest[1:])
    return run(args.home.resolve())


if __name__ == "__main__":
    sys.exit(main())
