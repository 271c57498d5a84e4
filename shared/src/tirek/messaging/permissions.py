"""Who may do what on NATS in a deployment: one user per service, derived from the streams and
consumers declared in :mod:`tirek.messaging.streams`, rendered to ``deploy/nats/users.conf``.

``python -m tirek.messaging.permissions write`` rewrites the file (and its Kubernetes copy)
after a consumer is added; ``tests/deploy`` fails while the committed files differ from the
rendering. Passwords are never in the file: each is an environment variable of the server
(``$INTAKE_NATS_PASSWORD``, ...), and each service connects with ``TIREK_NATS_USER`` /
``TIREK_NATS_PASSWORD`` (:func:`tirek.messaging.broker.nats_connect_options`). nats-server
parses a variable's value as it would a literal (``1k`` is the number 1000, ``-q...`` an
error), so a password must start with a letter: :func:`new_password` makes one.

What a service may publish:

- its own events, ``tirek.<service>.>`` (every producer but ``reporting``, which publishes
  none yet); ``admin`` may publish to every service's event subjects as well, because
  replaying a dead letter republishes it to its original subject (audited in admin, marked
  with a ``Tirek-Replay-Of`` header);
- the dead letters of its own consumers, ``tirek.dlq.<consumer>``;
- the JetStream API calls its consumers need, on the streams it reads (those of its durable
  consumers, and ``ADMIN`` for the tenant suspension watch every service runs): stream info,
  creating ephemeral consumers (the ordered suspension watch; reporting's rebuild by replay),
  fetching, acknowledging and flow control. The durables of *other* services on those
  streams are denied by name: no service can pull, acknowledge, redefine or delete another
  service's consumer (and so steal or lose its messages);
- ``admin`` also reads the ``DLQ`` stream (``STREAM.MSG.GET``).

What a service may subscribe to: its own inbox prefix only (``_INBOX.<service>.>``), where
JetStream delivers what it fetches and answers its API calls — never another service's
replies. Consumption itself is governed by the JetStream API permissions above.

The ``ops`` user (the bootstrap job) may call the whole JetStream API: it declares streams and
consumers. It may publish no event.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from tirek.messaging.naming import inbox_prefix
from tirek.messaging.streams import CONSUMERS, DLQ_STREAM, STREAMS, ConsumerSpec

__all__ = [
    "OPS_USER",
    "SERVICES",
    "UserPermissions",
    "inbox_prefix",
    "new_password",
    "password_variable",
    "render_users_conf",
    "service_permissions",
]

#: Every service that connects to NATS, by its user name.
SERVICES: Final = ("intake", "referral", "notification", "reporting", "admin")
#: The services that publish events of their own (``tirek.<service>.>``).
EVENT_PUBLISHERS: Final = frozenset({"intake", "referral", "notification", "admin"})
#: The user of the bootstrap job (streams and consumers).
OPS_USER: Final = "ops"
#: Every service reads the ADMIN stream: the tenant suspension watch (tirek.auth).
_WATCHED_STREAM: Final = "ADMIN"
_EVENT_STREAMS: Final = tuple(name for name in STREAMS if name != DLQ_STREAM)
#: Where the rendered file lives, relative to the repository root (and its Kubernetes copy:
#: kustomize reads only files under its own directory).
USERS_CONF: Final = Path("deploy/nats/users.conf")
K8S_USERS_CONF: Final = Path("deploy/k8s/base/config/users.conf")


def new_password() -> str:
    """A random NATS password that nats-server reads as a string (it starts with a letter)."""
    return "n" + secrets.token_hex(24)


def password_variable(user: str) -> str:
    """The server's environment variable holding ``user``'s password."""
    return f"{user.upper()}_NATS_PASSWORD"


@dataclass(frozen=True)
class UserPermissions:
    user: str
    publish_allow: tuple[str, ...]
    publish_deny: tuple[str, ...]
    subscribe_allow: tuple[str, ...]


def owner(spec: ConsumerSpec) -> str:
    """The service that runs a consumer: consumer names start with it (``intake-tenants``)."""
    return spec.name.split("-", 1)[0]


def _durable_subjects(stream: str, durable: str) -> list[str]:
    """What acting on one durable consumer takes (to deny it to the other services)."""
    api = "$JS.API.CONSUMER"
    return [
        f"{api}.CREATE.{stream}.{durable}",
        f"{api}.CREATE.{stream}.{durable}.>",
        f"{api}.DURABLE.CREATE.{stream}.{durable}",
        f"{api}.DELETE.{stream}.{durable}",
        f"{api}.MSG.NEXT.{stream}.{durable}",
        f"$JS.ACK.{stream}.{durable}.>",
    ]


def _reading(stream: str) -> list[str]:
    """What reading a stream through consumers takes."""
    api = "$JS.API"
    return [
        f"{api}.STREAM.INFO.{stream}",
        f"{api}.CONSUMER.CREATE.{stream}",
        f"{api}.CONSUMER.CREATE.{stream}.>",
        f"{api}.CONSUMER.INFO.{stream}.*",
        f"{api}.CONSUMER.DELETE.{stream}.*",
        f"{api}.CONSUMER.MSG.NEXT.{stream}.*",
        f"$JS.ACK.{stream}.>",
        f"$JS.FC.{stream}.>",
    ]


def service_permissions(
    service: str, consumers: Iterable[ConsumerSpec] = CONSUMERS
) -> UserPermissions:
    """The permissions of one service's user."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r} (known: {', '.join(SERVICES)})")
    specs = list(consumers)
    own = [spec for spec in specs if owner(spec) == service]
    read = sorted({spec.stream for spec in own} | {_WATCHED_STREAM})
    allow: list[str] = []
    if service in EVENT_PUBLISHERS:
        allow.append(f"tirek.{service}.>")
    if service == "admin":
        # Replays go back to the original subject (any service's) and read the DLQ.
        allow += [STREAMS[name] for name in _EVENT_STREAMS if name != "ADMIN"]
        allow += [f"$JS.API.STREAM.INFO.{DLQ_STREAM}", f"$JS.API.STREAM.MSG.GET.{DLQ_STREAM}"]
    allow += [f"tirek.dlq.{spec.name}" for spec in own]
    for stream in read:
        allow += _reading(stream)
    deny = [
        subject
        for spec in specs
        if owner(spec) != service and spec.stream in read
        for subject in _durable_subjects(spec.stream, spec.name)
    ]
    return UserPermissions(
        user=service,
        publish_allow=tuple(dict.fromkeys(allow)),
        publish_deny=tuple(deny),
        subscribe_allow=(f"{inbox_prefix(service)}.>",),
    )


def ops_permissions() -> UserPermissions:
    """The bootstrap job: the JetStream API, no events."""
    return UserPermissions(
        user=OPS_USER,
        publish_allow=("$JS.API.>",),
        publish_deny=(),
        subscribe_allow=(f"{inbox_prefix(OPS_USER)}.>",),
    )


def _list(subjects: Sequence[str], indent: str) -> str:
    if not subjects:
        return "[]"
    inner = "".join(f'{indent}  "{subject}"\n' for subject in subjects)
    return f"[\n{inner}{indent}]"


def _user_block(permissions: UserPermissions) -> str:
    ind = "        "
    publish = f"{ind}publish: {{\n{ind}  allow: {_list(permissions.publish_allow, ind + '  ')}\n"
    if permissions.publish_deny:
        publish += f"{ind}  deny: {_list(permissions.publish_deny, ind + '  ')}\n"
    publish += f"{ind}}}\n"
    subscribe = (
        f"{ind}subscribe: {{\n{ind}  allow: {_list(permissions.subscribe_allow, ind + '  ')}\n"
        f"{ind}}}\n"
    )
    return (
        "    {\n"
        f"      user: {permissions.user}\n"
        f"      password: ${password_variable(permissions.user)}\n"
        "      permissions: {\n"
        f"{publish}{subscribe}"
        "      }\n"
        "    }\n"
    )


def render_users_conf(consumers: Iterable[ConsumerSpec] = CONSUMERS) -> str:
    """``users.conf``: the ``authorization`` block every NATS config of ours includes."""
    specs = list(consumers)
    users = [service_permissions(service, specs) for service in SERVICES] + [ops_permissions()]
    variables = "".join(f"#   ${password_variable(u.user)}\n" for u in users)
    header = (
        "# NATS users of a Tirek deployment: one per service, and ops for the bootstrap job.\n"
        "# GENERATED by `python -m tirek.messaging.permissions write` from the kernel's streams\n"
        "# and consumers (tirek.messaging.streams); tests/deploy fails when it is stale. What\n"
        "# each user may do and why: tirek/messaging/permissions.py. Each service connects\n"
        "# with TIREK_NATS_USER / TIREK_NATS_PASSWORD; the passwords come from the server's\n"
        "# environment:\n" + variables
    )
    return header + "authorization {\n  users: [\n" + "".join(map(_user_block, users)) + "  ]\n}\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tirek.messaging.permissions [write]``: print, or write both files."""
    args = list(sys.argv[1:] if argv is None else argv)
    text = render_users_conf()
    if args == ["write"]:
        for path in (USERS_CONF, K8S_USERS_CONF):
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
        return 0
    if args:
        print("usage: python -m tirek.messaging.permissions [write]", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
