"""A consumer that dies after its effect committed but before its ack: the redelivery (seen on
the wire, delivery count 2) changes nothing."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

from nats.aio.msg import Msg

from tests.faults.counters import Table, service_rows, settle
from tests.faults.crash_before_ack import EXIT_CODE
from tests.faults.load import OSH, Load
from tests.faults.platform import Platform
from tirek.messaging.streams import INTAKE_REFERRALS
from tirek.testing.waiting import eventually

WRAPPER = ["-m", "tests.faults.crash_before_ack", INTAKE_REFERRALS.name, "referral.accepted"]


async def test_a_consumer_crashing_between_effect_and_ack_applies_the_redelivery_once(
    platform: Platform, report: Callable[[Table], None], faults_home: Path
) -> None:
    crash_report = faults_home / "crash.json"
    platform.stack.envs["intake"]["TIREK_FAULT_REPORT"] = str(crash_report)
    try:
        # intake, dying on the first ack of a referral.accepted (after the linked case
        # committed, before the ack left).
        await asyncio.to_thread(platform.kill, "intake")
        await asyncio.to_thread(platform.start_service, "intake", wrapper=WRAPPER)
    finally:
        del platform.stack.envs["intake"]["TIREK_FAULT_REPORT"]

    nc = await platform.connect_nats()
    acks: list[str] = []

    async def on_ack(msg: Msg) -> None:
        if msg.data in (b"", b"+ACK"):  # not +WPI (in progress), -NAK or +TERM
            acks.append(msg.subject)

    durable = INTAKE_REFERRALS.durable(platform.naming)
    stream = INTAKE_REFERRALS.stream_name(platform.naming)
    await nc.subscribe(f"$JS.ACK.{stream}.{durable}.>", cb=on_ack)

    load = Load(platform.urls, platform.issuer, marker=date(2020, 4, 1), registration_workers=1)
    await load.start()
    code = await asyncio.to_thread(platform.wait_exit, "intake", 90)
    assert code == EXIT_CODE, f"intake did not crash before its ack (exit {code})"
    crashed = json.loads(crash_report.read_text())
    referral_id = crashed["subject"]
    linked = await service_rows(
        platform,
        "intake",
        "SELECT count(*) AS n FROM cases WHERE tenant_id = $1 AND origin_referral_id = $2::uuid",
        OSH,
        referral_id,
    )
    assert linked[0]["n"] == 1, "the effect had not committed when the consumer crashed"

    await asyncio.to_thread(platform.start_service, "intake")
    await asyncio.sleep(4)
    await load.stop()
    await load.finish()
    rows, settled = await settle(platform, load)

    # $JS.ACK.<stream>.<durable>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>
    def redelivered() -> list[str]:
        return [s for s in acks if int(s.split(".")[4]) > 1]

    async def seen() -> list[str]:
        return redelivered()

    # The redelivery comes one ack wait (8 s) after the crashed delivery, which may be later
    # than the counters settle (the linked case was already there): wait for its ack.
    with contextlib.suppress(AssertionError):
        await eventually(seen, "the redelivered message acknowledged", within=30)
    redelivered_acks = redelivered()
    await nc.close()
    again = await service_rows(
        platform,
        "intake",
        "SELECT count(*) AS n FROM cases WHERE tenant_id = $1 AND origin_referral_id = $2::uuid",
        OSH,
        referral_id,
    )
    table = Table(
        "intake's referral consumer dies (exit 137) after opening a linked case, before the ack",
        rows,
        [
            f"the crashed referral.accepted ({referral_id}) has {again[0]['n']} linked case "
            f"after its redelivery; acks of redelivered messages seen: {len(redelivered_acks)}",
            f"settled {settled:.0f} s after the load stopped; {load.ledger.summary()}",
        ],
    )
    report(table)
    assert redelivered_acks, "no redelivered message was acknowledged"
    assert again[0]["n"] == 1, "the redelivery opened a second linked case"
    assert not load.failures, load.failures
    assert table.clean, table.markdown()
