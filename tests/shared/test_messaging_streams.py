"""Streams and durable consumers are declared in one place and provisioning repairs drift."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client
from nats.js import api

from tirek.messaging import (
    CONSUMERS,
    DUPLICATE_WINDOW,
    INTAKE_TENANTS,
    STREAMS,
    ConsumerSpec,
    Naming,
    ProvisioningError,
    ensure_streams,
)
from tirek.messaging.streams import main as streams_command

_SEQUENCE = itertools.count()


@pytest.fixture(scope="module")
async def nc(nats_url: str) -> AsyncIterator[Client]:
    client = await nats.connect(nats_url)
    yield client
    await client.close()


@pytest.fixture
async def naming(nc: Client, namespace: str) -> AsyncIterator[Naming]:
    """Inside the run's namespace, one per test: these tests change stream configs."""
    naming = Naming(f"{namespace}s{next(_SEQUENCE)}")
    yield naming
    js = nc.jetstream()
    for name in STREAMS:
        try:
            await js.delete_stream(naming.stream(name))
        except nats.js.errors.NotFoundError:
            pass


async def test_ensure_streams_creates_every_stream_with_the_agreed_config(
    nc: Client, naming: Naming
) -> None:
    js = nc.jetstream()
    await ensure_streams(js, naming)

    for name, subjects in STREAMS.items():
        config = (await js.stream_info(naming.stream(name))).config
        assert config.subjects == [naming.subject(subjects)], name
        assert config.storage == api.StorageType.FILE, name
        assert config.retention == api.RetentionPolicy.LIMITS, name
        assert config.max_age == 0, f"{name} must keep events for replay"
        assert config.duplicate_window >= 120, f"{name} de-duplicates for too short a time"
        assert config.num_replicas == 1, name
    assert {"INTAKE", "REFERRAL", "NOTIFICATION", "REPORTING", "ADMIN", "DLQ"} <= set(STREAMS)


async def test_ensure_streams_provisions_every_registered_consumer(
    nc: Client, naming: Naming
) -> None:
    js = nc.jetstream()
    assert INTAKE_TENANTS in CONSUMERS
    await ensure_streams(js, naming)

    for spec in CONSUMERS:
        info = await js.consumer_info(spec.stream_name(naming), spec.durable(naming))
        assert info.config.durable_name == spec.durable(naming)
        assert info.config.ack_policy == api.AckPolicy.EXPLICIT
        assert info.config.max_deliver == spec.max_deliver
        assert info.config.ack_wait == spec.ack_wait
        assert info.config.filter_subject == naming.subject(spec.filter_subjects[0])


async def test_ensure_streams_restores_a_stream_someone_else_changed(
    nc: Client, naming: Naming
) -> None:
    js = nc.jetstream()
    await ensure_streams(js, naming, consumers=[])
    drifted = (await js.stream_info(naming.stream("INTAKE"))).config
    drifted.duplicate_window = 10
    drifted.max_age = 3600
    await js.update_stream(drifted)

    await ensure_streams(js, naming, consumers=[])

    config = (await js.stream_info(naming.stream("INTAKE"))).config
    assert config.duplicate_window == DUPLICATE_WINDOW, "duplicate window was not restored"
    assert config.max_age == 0, "retention limit was not removed"


async def test_ensure_streams_applies_a_changed_consumer_spec_keeping_its_position(
    nc: Client, naming: Naming
) -> None:
    js = nc.jetstream()
    spec = ConsumerSpec("test-evolving", "ADMIN", ("tirek.admin.tenant.>",), max_deliver=5)
    await ensure_streams(js, naming, consumers=[spec])
    await js.publish(naming.subject("tirek.admin.tenant.onboarded.v1"), b"{}")
    sub = await js.pull_subscribe_bind(spec.durable(naming), stream=spec.stream_name(naming))
    (msg,) = await sub.fetch(1, timeout=5)
    await msg.ack_sync()

    changed = ConsumerSpec(
        "test-evolving",
        "ADMIN",
        ("tirek.admin.tenant.>", "tirek.admin.agreement.>")
        if _supports_several_filters(nc)
        else ("tirek.admin.tenant.>",),
        max_deliver=2,
        ack_wait=12,
    )
    await ensure_streams(js, naming, consumers=[changed])

    info = await js.consumer_info(spec.stream_name(naming), spec.durable(naming))
    assert info.config.max_deliver == 2, "max_deliver change was not applied"
    assert info.config.ack_wait == 12, "ack_wait change was not applied"
    assert info.delivered.stream_seq == 1, "the consumer lost its position"
    assert info.num_pending == 0


async def test_several_filter_subjects_apply_or_are_refused_loudly(
    nc: Client, naming: Naming
) -> None:
    js = nc.jetstream()
    spec = ConsumerSpec("test-two-filters", "ADMIN", ("tirek.admin.tenant.>", "tirek.admin.x.>"))
    if not _supports_several_filters(nc):
        # nats-server < 2.10 would silently drop the filters and deliver the whole stream.
        with pytest.raises(ProvisioningError, match=r"2\.10"):
            await ensure_streams(js, naming, consumers=[spec])
        return
    await ensure_streams(js, naming, consumers=[spec])
    info = await js.consumer_info(spec.stream_name(naming), spec.durable(naming))
    assert sorted(info.config.filter_subjects or []) == sorted(spec.subjects(naming))


async def test_ensure_streams_twice_changes_nothing(nc: Client, naming: Naming) -> None:
    js = nc.jetstream()
    await ensure_streams(js, naming)
    before = {name: (await js.stream_info(naming.stream(name))).config for name in STREAMS}

    await ensure_streams(js, naming)

    after = {name: (await js.stream_info(naming.stream(name))).config for name in STREAMS}
    assert after == before


async def test_provisioning_command_creates_streams_and_consumers(
    nc: Client, naming: Naming, nats_url: str
) -> None:
    # What `python -m tirek.messaging.streams` runs, in-process (the interpreter start-up and
    # imports would take seconds for nothing).
    await streams_command(
        ["--nats-url", nats_url, "--namespace", naming.namespace, "--replicas", "1"]
    )

    js = nc.jetstream()
    for name in STREAMS:
        assert (await js.stream_info(naming.stream(name))).config.duplicate_window >= 120
    await js.consumer_info(INTAKE_TENANTS.stream_name(naming), INTAKE_TENANTS.durable(naming))


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"name": "has.dot"}, "consumer name"),
        ({"stream": "NOPE"}, "unknown stream"),
        ({"filter_subjects": ()}, "at least one filter"),
        ({"filter_subjects": ("tirek.intake.>",)}, "not in stream ADMIN"),
        ({"max_deliver": 0}, "max_deliver"),
    ],
)
def test_consumer_spec_refuses_what_the_server_would_get_wrong(
    kwargs: dict[str, object], problem: str
) -> None:
    fields: dict[str, object] = {
        "name": "ok",
        "stream": "ADMIN",
        "filter_subjects": ("tirek.admin.>",),
    } | kwargs
    with pytest.raises(ValueError, match=problem):
        ConsumerSpec(**fields)  # type: ignore[arg-type]


def test_backoff_grows_then_repeats_its_last_delay() -> None:
    spec = ConsumerSpec("b", "ADMIN", ("tirek.admin.>",), backoff=(1, 2, 5))
    assert [spec.redelivery_delay(n) for n in (1, 2, 3, 4, 9)] == [1, 2, 5, 5, 5]
    assert ConsumerSpec("c", "ADMIN", ("tirek.admin.>",), backoff=()).redelivery_delay(1) is None


def _supports_several_filters(nc: Client) -> bool:
    version = nc.connected_server_version
    return (version.major, version.minor) >= (2, 10)
