"""deploy/nats/users.conf on a real nats-server: each service connects as its own user and may
publish only its own subjects (and its dead letters), read only what it consumes, and never
touch another service's durable consumer; the ops user declares the streams.

The server is the wheel's ``nats-server`` on a free port with this module's own store, the
users file included exactly as the deployments include it, and the deployment's names (no
namespace: nothing else uses this server).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from nats.js import api
from nats.js.errors import NotFoundError
from prometheus_client import CollectorRegistry

from tirek.auth import TenantSuspensions
from tirek.events import Envelope
from tirek.events.admin import TenantSuspended
from tirek.localstack.servers import free_port, nats_server_binary, wait_for_port
from tirek.messaging import create_broker, subscriber
from tirek.messaging.broker import nats_connect_options
from tirek.messaging.deadletter import read_dead_letters
from tirek.messaging.naming import Naming
from tirek.messaging.permissions import (
    K8S_USERS_CONF,
    OPS_USER,
    SERVICES,
    USERS_CONF,
    new_password,
    password_variable,
    render_users_conf,
)
from tirek.messaging.streams import INTAKE_TENANTS, ensure_streams
from tirek.settings import ServiceSettings

ROOT = Path(__file__).resolve().parents[2]
NAMING = Naming("")
#: How long a refused JetStream publish waits for the ack that never comes.
REFUSED_WAIT = 1.0
#: What the tests try although it is forbidden (the server logs each refusal).
DELIBERATE = frozenset(
    {
        "tirek.referral.referral.sent.v1",
        "tirek.reporting.report.ready.v1",
        "tirek.intake.case.registered.v1",
        "tirek.admin.tenant.suspended.v1",
        "tirek.dlq.referral-admin",
        "tirek.dlq.intake-referrals",
        "$JS.API.CONSUMER.MSG.NEXT.ADMIN.referral-admin",
    }
)


@dataclass
class Server:
    url: str
    passwords: dict[str, str]
    log: Path
    #: Permission errors each user's connections were told about, by user.
    errors: dict[str, list[str]] = field(default_factory=dict)

    def settings(self, user: str) -> ServiceSettings:
        return ServiceSettings(
            nats_url=self.url,
            service_name=user,
            nats_user=user,
            nats_password=self.passwords[user],
        )

    async def connect(self, user: str) -> NatsClient:
        async def on_error(exc: Exception) -> None:
            self.errors.setdefault(user, []).append(str(exc))

        return await nats.connect(
            self.url,
            error_cb=on_error,
            max_reconnect_attempts=0,
            **nats_connect_options(self.settings(user)),
        )

    def unexpected_violations(self) -> list[str]:
        """Violations the server logged other than the refusals the tests provoke on purpose:
        what the permitted paths (the kernel's subscriber, the suspension watch, the dead
        letter reader) needed and were refused."""
        return [
            line
            for line in self.log.read_text().splitlines()
            if "Violation" in line and not any(f'"{s}"' in line for s in DELIBERATE)
        ]


def test_the_users_file_and_its_kubernetes_copy_are_the_current_rendering() -> None:
    rendered = render_users_conf()
    for path in (USERS_CONF, K8S_USERS_CONF):
        assert (ROOT / path).read_text(encoding="utf-8") == rendered, (
            f"{path} is stale: run `python -m tirek.messaging.permissions write`"
        )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("nats-users")
    (home / "users.conf").write_text((ROOT / USERS_CONF).read_text(encoding="utf-8"))
    port = free_port()
    (home / "nats.conf").write_text(
        f'listen: 127.0.0.1:{port}\nserver_name: users-test\njetstream {{\n  store_dir: "{home}/js"\n'
        "  sync_interval: always\n}\ninclude ./users.conf\n",
        encoding="utf-8",
    )
    passwords = {user: new_password() for user in (*SERVICES, OPS_USER)}
    env = {password_variable(user): password for user, password in passwords.items()}
    log = home / "nats.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [nats_server_binary(), "-c", str(home / "nats.conf")],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
        )
    try:
        try:
            wait_for_port(port, timeout=60)
        except TimeoutError:
            raise AssertionError(f"nats-server did not start:\n{log.read_text()[-2000:]}") from None
        yield Server(f"nats://127.0.0.1:{port}", passwords, log)
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
async def ops(server: Server) -> AsyncIterator[NatsClient]:
    nc = await server.connect(OPS_USER)
    # The bootstrap job's one NATS step, as the ops user.
    await ensure_streams(nc.jetstream(), NAMING)
    yield nc
    await nc.close()


async def stored(ops: NatsClient, stream: str, subject: str) -> int:
    """How many messages on ``subject`` the stream holds (read as ops)."""
    try:
        info = await ops.jetstream().stream_info(stream, subjects_filter=subject)
    except NotFoundError:
        return 0
    return sum((info.state.subjects or {}).values())


async def publish(server: Server, user: str, subject: str) -> bool:
    """Publish one event as ``user``; True when JetStream acknowledged it."""
    envelope = Envelope.wrap(TenantSuspended(tenant_id=_TENANT), tenant=_TENANT, subject="x")
    nc = await server.connect(user)
    try:
        await nc.jetstream().publish(
            subject, envelope.model_dump_json().encode(), timeout=REFUSED_WAIT
        )
        return True
    except NatsError:
        return False
    finally:
        await nc.close()


_TENANT = uuid.uuid4()


async def test_a_connection_without_a_user_or_with_a_wrong_password_is_refused(
    server: Server,
) -> None:
    with pytest.raises(NatsError):
        await nats.connect(server.url, max_reconnect_attempts=0, allow_reconnect=False)
    with pytest.raises(NatsError):
        await nats.connect(
            server.url,
            user="intake",
            password="wrong",
            max_reconnect_attempts=0,
            allow_reconnect=False,
        )


async def test_ops_declares_every_stream(ops: NatsClient) -> None:
    names = {info.config.name for info in await ops.jetstream().streams_info()}
    assert {"INTAKE", "REFERRAL", "NOTIFICATION", "REPORTING", "ADMIN", "DLQ"} <= names


async def test_intake_publishes_its_own_events_and_not_referrals(
    server: Server, ops: NatsClient
) -> None:
    own = await publish(server, "intake", "tirek.intake.case.registered.v1")
    foreign = await publish(server, "intake", "tirek.referral.referral.sent.v1")

    assert own, "intake could not publish its own event"
    assert not foreign, "intake published a referral event"
    assert await stored(ops, "INTAKE", "tirek.intake.case.registered.v1") == 1
    assert await stored(ops, "REFERRAL", "tirek.referral.referral.sent.v1") == 0
    assert 'publish to "tirek.referral.referral.sent.v1"' in "".join(server.errors["intake"])


async def test_reporting_publishes_no_event_at_all(server: Server, ops: NatsClient) -> None:
    for subject in (
        "tirek.reporting.report.ready.v1",
        "tirek.intake.case.registered.v1",
        "tirek.admin.tenant.suspended.v1",
    ):
        assert not await publish(server, "reporting", subject), f"reporting published {subject}"
    assert await stored(ops, "REPORTING", "tirek.reporting.>") == 0


async def test_a_service_dead_letters_only_for_its_own_consumers(
    server: Server, ops: NatsClient
) -> None:
    own = await publish(server, "intake", "tirek.dlq.intake-tenants")
    other = await publish(server, "intake", "tirek.dlq.referral-admin")

    assert own and not other
    assert await stored(ops, "DLQ", "tirek.dlq.referral-admin") == 0


async def test_intake_consumes_its_durable_consumer_and_cannot_pull_from_another(
    server: Server, ops: NatsClient
) -> None:
    event = TenantSuspended(tenant_id=uuid.uuid4())
    envelope = Envelope.wrap(event, tenant=event.tenant_id, subject=str(event.tenant_id))
    assert await publish_envelope(server, "admin", envelope)
    arrived = asyncio.Event()
    broker = create_broker(server.settings("intake"), registry=CollectorRegistry())

    @subscriber(broker, NAMING, INTAKE_TENANTS, fetch_timeout=0.5)
    async def on_tenant_event(delivered: Envelope) -> None:
        if delivered.id == envelope.id:
            arrived.set()

    await broker.start()
    try:
        async with asyncio.timeout(15):
            await arrived.wait()
        # Give the ack its round trip before reading the consumer's state.
        await broker.connection.flush()
        stolen = await try_to_pull(server, "intake", "ADMIN", "referral-admin")
    finally:
        await broker.stop()

    own = await ops.jetstream().consumer_info("ADMIN", "intake-tenants")
    assert own.num_ack_pending == 0 and own.num_pending == 0, "intake's acks did not land"
    assert not stolen, "intake pulled from referral's durable consumer"
    other = await ops.jetstream().consumer_info("ADMIN", "referral-admin")
    assert other.delivered.stream_seq == 0, "referral's consumer lost messages to intake"
    assert server.unexpected_violations() == []


async def test_every_service_runs_the_tenant_suspension_watch_as_its_own_user(
    server: Server, ops: NatsClient
) -> None:
    tenant = uuid.uuid4()
    envelope = Envelope.wrap(TenantSuspended(tenant_id=tenant), tenant=tenant, subject=str(tenant))
    assert await publish_envelope(server, "admin", envelope)
    for service in SERVICES:
        watch = TenantSuspensions(
            nats_url=server.url,
            naming=NAMING,
            connect_options=nats_connect_options(server.settings(service)),
            retry_seconds=0.2,
        )
        await watch.start()
        try:
            async with asyncio.timeout(10):
                await watch.wait_ready()
            assert watch.is_suspended(tenant), f"{service}'s watch missed the suspension"
        finally:
            await watch.stop()
    assert server.unexpected_violations() == []


async def test_admin_reads_dead_letters_and_replays_to_the_original_subject(
    server: Server, ops: NatsClient
) -> None:
    assert await publish(server, "intake", "tirek.dlq.intake-referrals")
    nc = await server.connect("admin")
    try:
        letters = await read_dead_letters(nc.jetstream(), NAMING, consumer="intake-referrals")
    finally:
        await nc.close()
    replayed = await publish(server, "admin", "tirek.referral.referral.approved.v1")

    assert letters, "admin could not read the DLQ stream"
    assert replayed, "admin could not replay to a referral subject"
    assert not await publish(server, "admin", "tirek.dlq.intake-referrals")
    assert server.unexpected_violations() == []


async def publish_envelope(server: Server, user: str, envelope: Envelope) -> bool:
    nc = await server.connect(user)
    try:
        await nc.jetstream().publish(
            NAMING.subject(envelope.subject_name),
            envelope.model_dump_json().encode(),
            headers={"Nats-Msg-Id": str(envelope.id)},
            timeout=5,
        )
        return True
    except NatsError:
        return False
    finally:
        await nc.close()


async def try_to_pull(server: Server, user: str, stream: str, durable: str) -> bool:
    """True when ``user`` fetched a message from another service's durable consumer."""
    nc = await server.connect(user)
    try:
        subscription = await nc.jetstream().pull_subscribe_bind(durable, stream=stream)
        messages = await subscription.fetch(1, timeout=REFUSED_WAIT)
        return bool(messages)
    except (NatsError, TimeoutError):
        return False
    finally:
        await nc.close()


async def test_reporting_replays_a_stream_it_consumes_as_its_rebuild_does(
    server: Server, ops: NatsClient
) -> None:
    assert await publish(server, "intake", "tirek.intake.case.updated.v1")
    nc = await server.connect("reporting")
    try:
        js = nc.jetstream()
        await js.stream_info("INTAKE")
        # What reporting.projections.rebuild does: an ephemeral pull consumer from the start.
        subscription = await js.pull_subscribe(
            "tirek.intake.case.>",
            stream="INTAKE",
            config=api.ConsumerConfig(
                deliver_policy=api.DeliverPolicy.ALL,
                ack_policy=api.AckPolicy.NONE,
                inactive_threshold=30.0,
            ),
        )
        messages = await subscription.fetch(1, timeout=5)
        await subscription.unsubscribe()
    finally:
        await nc.close()

    assert messages and messages[0].subject.startswith("tirek.intake.case.")
    assert server.unexpected_violations() == []
