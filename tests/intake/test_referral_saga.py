"""Intake's side of the cross-border referral saga, driven as the referral service drives it:
``referral.approved`` / ``referral.accepted`` envelopes published onto NATS, and
``share.prepared`` / ``share.refused`` / ``case.registered`` observed on the INTAKE stream."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import nats
import pytest

from intake.shares import service as shares
from tests.intake.conftest import Intake
from tests.intake.test_cases import Auth, outbox_events, register
from tirek.crypto import SealError, StaticKeyProvider, open_sealed
from tirek.db import UnitOfWork
from tirek.demo.consortium import USERS, tenant_by_code
from tirek.events import Envelope
from tirek.events.referral import (
    ReferralAccepted,
    ReferralApproved,
    ReferralFacts,
    ReferralService,
    ReferralState,
    ReferralSubmitted,
    Urgency,
)
from tirek.messaging.streams import INTAKE_REFERRALS

AKT = tenant_by_code("AKT").id
OSH = tenant_by_code("OSH").id
JAL = tenant_by_code("JAL").id
OSH_CASEWORKER = next(u for u in USERS if u.username == "osh-caseworker").id

#: A person whose name must never be readable on the stream.
PERSON: dict[str, Any] = {
    "first_name": "Гульнора",
    "second_name": "Эргашева",
    "patronymic": "Бахтияровна",
    "name_latin": "Gulnora Ergasheva",
    "sex": "female",
    "birth_date": "1996-07-14",
    "citizenship": "KG",
    "languages": ["ky", "ru"],
    "phone": "+996555123456",
    "current_location": "Актобе, ул. Абая 12",
    "documents": [{"type": "passport", "status": "confiscated", "number": "AC7654321"}],
}
IN_CLEAR = ("Гульнора", "Эргашева", "Gulnora", "Ergasheva", "AC7654321", "+996555123456")

SHARED = ["first_name", "second_name", "documents", "categories", "assistance_history"]


def consent_body(**changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "purpose": "referral",
        "scope": [*SHARED, "citizenship"],  # citizenship consented, never requested below
        "recipient_tenant": str(OSH),
        "method": "written",
        "given_at": (now - timedelta(days=10)).isoformat(),
        "valid_until": (now + timedelta(days=365)).date().isoformat(),
    }
    body.update(changes)
    return body


async def sender_case(intake: Intake, auth: Auth, **consent: Any) -> tuple[dict[str, Any], str]:
    """A case of the Aktobe NGO with one assistance record and a referral consent for Osh."""
    case = await register(
        intake, auth, person=PERSON, categories=["identified_victim_of_trafficking"]
    )
    headers = await auth("akt-caseworker")
    response = await intake.client.post(
        f"/v1/cases/{case['id']}/assistance",
        json={"type": "legal_aid", "mode": "office", "provided_on": "2026-03-12"},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    response = await intake.client.post(
        f"/v1/cases/{case['id']}/consents", json=consent_body(**consent), headers=headers
    )
    assert response.status_code == 201, response.text
    return case, response.json()["id"]


def facts(case_id: uuid.UUID | str, referral_id: uuid.UUID, state: ReferralState) -> dict[str, Any]:
    return {
        "referral_id": referral_id,
        "referral_number": "R-KZ-AKT-2026-000001",
        "case_id": uuid.UUID(str(case_id)),
        "sender_tenant": AKT,
        "receiver_tenant": OSH,
        "services": [ReferralService.RETURN, ReferralService.REINTEGRATION],
        "urgency": Urgency.NORMAL,
        "state": state,
        "actor": "akt-manager",
        "at": datetime.now(UTC),
    }


def approved(
    case_id: uuid.UUID | str, consent_id: uuid.UUID | str, fields: list[str] = SHARED, **more: Any
) -> ReferralApproved:
    data = facts(case_id, more.pop("referral_id", uuid.uuid4()), ReferralState.APPROVED)
    data.update(more)
    return ReferralApproved(consent_id=uuid.UUID(str(consent_id)), fields=fields, **data)


def accepted(
    event: ReferralApproved, responsible_user: str = str(OSH_CASEWORKER)
) -> ReferralAccepted:
    data = event.model_dump(exclude={"consent_id", "fields", "state", "at"})
    return ReferralAccepted(
        **data,
        state=ReferralState.ACCEPTED,
        at=datetime.now(UTC),
        responsible_user=responsible_user,
    )


async def publish(intake: Intake, envelope: Envelope, *, msg_id: str | None = None) -> int:
    """Publish as the referral service would; returns the stream sequence. ``msg_id`` other
    than the envelope id lets a copy through the stream's de-duplication (a redelivery)."""
    nc = await nats.connect(intake.settings.nats_url)
    try:
        ack = await nc.jetstream().publish(
            intake.naming.subject(envelope.subject_name),
            envelope.model_dump_json().encode(),
            headers={"Nats-Msg-Id": msg_id or str(envelope.id)},
        )
        return int(ack.seq)
    finally:
        await nc.close()


def wrap(event: ReferralFacts) -> Envelope:
    """The envelope the referral service publishes (tenant: the NGO that acted)."""
    tenant = event.receiver_tenant if isinstance(event, ReferralAccepted) else event.sender_tenant
    return Envelope.wrap(event, tenant=tenant, subject=event.referral_id)


async def handled_up_to(intake: Intake, sequence: int, timeout: float = 15) -> None:
    """Wait until intake's referral consumer has acknowledged everything up to ``sequence``."""
    nc = await nats.connect(intake.settings.nats_url)
    try:
        js = nc.jetstream()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = await js.consumer_info(
                INTAKE_REFERRALS.stream_name(intake.naming), INTAKE_REFERRALS.durable(intake.naming)
            )
            if info.ack_floor is not None and (info.ack_floor.stream_seq or 0) >= sequence:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"intake did not handle the referral event (sequence {sequence})")
    finally:
        await nc.close()


async def raw_messages(intake: Intake, subject: str) -> list[bytes]:
    """Every raw message body on the stream under ``subject`` (un-namespaced, wildcards ok)."""
    nc = await nats.connect(intake.settings.nats_url)
    bodies: list[bytes] = []
    try:
        sub = await nc.jetstream().subscribe(intake.naming.subject(subject), ordered_consumer=True)
        try:
            while True:
                bodies.append((await sub.next_msg(timeout=0.5)).data)
        except nats.errors.TimeoutError:
            pass
        finally:
            await sub.unsubscribe()
    finally:
        await nc.close()
    return bodies


async def events(
    intake: Intake,
    subject: str,
    matches: Callable[[dict[str, Any]], bool],
    *,
    timeout: float = 15,
) -> list[dict[str, Any]]:
    """The events on ``subject`` that ``matches`` accepts, waiting until at least one is there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [json.loads(b) for b in await raw_messages(intake, subject)]
        found = [event for event in found if matches(event)]
        if found:
            return found
        await asyncio.sleep(0.2)
    return []


def about(referral_id: uuid.UUID) -> Callable[[dict[str, Any]], bool]:
    return lambda event: event["subject"] == str(referral_id)


async def share_outcome(intake: Intake, referral_id: uuid.UUID) -> dict[str, Any]:
    found = await events(intake, "tirek.intake.share.>", about(referral_id))
    assert len(found) == 1, f"expected one share.* event for the referral, got {len(found)}"
    return found[0]


def keys(intake: Intake) -> StaticKeyProvider:
    assert intake.settings.master_key is not None
    return StaticKeyProvider(intake.settings.master_key)


def open_for(intake: Intake, tenant: uuid.UUID, event: dict[str, Any]) -> dict[str, Any]:
    plaintext = open_sealed(
        keys(intake),
        tenant=tenant,
        purpose="share",
        sealed=event["data"]["sealed"],
        context=uuid.UUID(event["data"]["referral_id"]).bytes,
    )
    package: dict[str, Any] = json.loads(plaintext)
    return package


# ----------------------------------------------------------------------------- approved


async def test_an_approved_referral_gets_a_package_of_exactly_the_requested_fields_sealed_for_the_receiver(
    intake: Intake, auth: Auth
) -> None:
    case, consent_id = await sender_case(intake, auth)
    event = approved(case["id"], consent_id)
    await publish(intake, wrap(event))

    prepared = await share_outcome(intake, event.referral_id)
    assert prepared["type"] == "share.prepared", f"the share was refused: {prepared['data']}"
    data = prepared["data"]
    assert (data["case_id"], data["consent_id"], data["receiver_tenant"]) == (
        case["id"],
        consent_id,
        str(OSH),
    )
    assert data["fields"] == SHARED

    package = open_for(intake, OSH, prepared)
    assert set(package) == {*SHARED, "case_number", "sender_tenant"}, (
        "the package must hold the requested fields and nothing else (citizenship was "
        "consented but not requested)"
    )
    assert package["first_name"] == PERSON["first_name"]
    assert package["second_name"] == PERSON["second_name"]
    assert package["documents"] == [{**PERSON["documents"][0], "issuing_country": None}]
    assert package["categories"] == ["identified_victim_of_trafficking"]
    assert package["assistance_history"] == [
        {"type": "legal_aid", "mode": "office", "provided_on": "2026-03-12", "outcome": "provided"}
    ]
    assert (package["case_number"], package["sender_tenant"]) == (case["number"], str(AKT))

    with pytest.raises(SealError):
        open_for(intake, JAL, prepared)  # a third NGO cannot open it
    stored = await intake.count(
        "share_packages",
        "referral_id = :r AND tenant_id = :t AND receiver_tenant = :o",
        r=event.referral_id,
        t=AKT,
        o=OSH,
    )
    assert stored == 1, "intake keeps the sealed package in the sender's rows"


REFUSALS: dict[str, Callable[[dict[str, Any], str], tuple[dict[str, Any], dict[str, Any]]]] = {
    # reason: (consent changes, approved changes given the case and consent ids)
    "case_not_found": lambda case, consent: ({}, {"case_id": uuid.uuid4()}),
    "consent_not_found": lambda case, consent: ({}, {"consent_id": uuid.uuid4()}),
    "consent_withdrawn": lambda case, consent: ({}, {}),
    "consent_expired": lambda case, consent: (
        {"valid_until": (datetime.now(UTC) - timedelta(days=1)).date().isoformat()},
        {},
    ),
    "consent_purpose": lambda case, consent: (
        {"purpose": "registration", "recipient_tenant": None},
        {},
    ),
    "consent_recipient": lambda case, consent: ({"recipient_tenant": str(JAL)}, {}),
    "consent_scope": lambda case, consent: ({}, {"fields": [*SHARED, "phone"]}),
}


@pytest.mark.parametrize("reason", sorted(REFUSALS))
async def test_a_referral_the_consent_does_not_cover_is_refused_with_the_reason(
    intake: Intake, auth: Auth, reason: str
) -> None:
    consent_changes, _ = REFUSALS[reason]({}, "")
    case, consent_id = await sender_case(intake, auth, **consent_changes)
    if reason == "consent_withdrawn":
        response = await intake.client.post(
            f"/v1/cases/{case['id']}/consents/{consent_id}/withdraw",
            json={},
            headers=await auth("akt-caseworker"),
        )
        assert response.status_code == 200, response.text
    _, event_changes = REFUSALS[reason](case, consent_id)
    fields = event_changes.pop("fields", SHARED)
    case_id = event_changes.pop("case_id", case["id"])
    event = approved(case_id, event_changes.pop("consent_id", consent_id), fields)
    await publish(intake, wrap(event))

    outcome = await share_outcome(intake, event.referral_id)
    assert outcome["type"] == "share.refused", f"shared although {reason}"
    assert outcome["data"]["reason"] == reason
    assert outcome["data"]["case_id"] == str(case_id)
    assert await intake.count("share_packages", "referral_id = :r", r=event.referral_id) == 0


async def test_the_same_approved_event_delivered_twice_prepares_one_package_and_one_event(
    intake: Intake, auth: Auth
) -> None:
    case, consent_id = await sender_case(intake, auth)
    envelope = wrap(approved(case["id"], consent_id))
    await publish(intake, envelope)
    # The same event again, past the stream's de-duplication: only the inbox can drop it.
    sequence = await publish(intake, envelope, msg_id=f"{envelope.id}-again")
    await handled_up_to(intake, sequence)

    referral_id = uuid.UUID(envelope.subject)
    assert await intake.count("share_packages", "referral_id = :r", r=referral_id) == 1
    assert await outbox_events(intake, "share.prepared", str(referral_id)) == 1
    assert len(await events(intake, "tirek.intake.share.>", about(referral_id))) == 1


async def test_referral_events_intake_does_not_handle_are_acknowledged_and_ignored(
    intake: Intake, auth: Auth
) -> None:
    case, _ = await sender_case(intake, auth)
    referral_id = uuid.uuid4()
    submitted = ReferralSubmitted(**facts(case["id"], referral_id, ReferralState.AWAITING_APPROVAL))
    await handled_up_to(intake, await publish(intake, wrap(submitted)))
    assert await outbox_events(intake, "share.prepared", str(referral_id)) == 0
    assert await outbox_events(intake, "share.refused", str(referral_id)) == 0


# ----------------------------------------------------------------------------- accepted


async def share_and_accept(
    intake: Intake, auth: Auth
) -> tuple[dict[str, Any], ReferralAccepted, dict[str, Any]]:
    """Approve and accept a referral of a new Aktobe case to Osh; the linked case's
    ``case.registered`` event."""
    case, consent_id = await sender_case(intake, auth)
    event = approved(case["id"], consent_id)
    await publish(intake, wrap(event))
    assert (await share_outcome(intake, event.referral_id))["type"] == "share.prepared"
    acceptance = accepted(event)
    await publish(intake, wrap(acceptance))
    registered = await events(
        intake,
        "tirek.intake.case.registered.v1",
        lambda e: e["data"]["origin_referral_id"] == str(event.referral_id),
    )
    assert len(registered) == 1, "no linked case was registered for the accepted referral"
    return case, acceptance, registered[0]


async def test_an_accepted_referral_opens_a_linked_case_in_the_receiver_with_only_the_shared_fields(
    intake: Intake, auth: Auth
) -> None:
    case, acceptance, registered = await share_and_accept(intake, auth)
    assert registered["tenant"] == str(OSH)
    linked_id = registered["data"]["case_id"]

    response = await intake.client.get(
        f"/v1/cases/{linked_id}", headers=await auth("osh-caseworker")
    )
    assert response.status_code == 200, response.text
    linked = response.json()
    assert linked["origin_referral_id"] == str(acceptance.referral_id)
    assert linked["assigned_to"] == str(OSH_CASEWORKER)
    assert linked["categories"] == ["identified_victim_of_trafficking"]
    assert linked["number"].startswith("KG-OSH-") and linked["number"] != case["number"]
    person = linked["person"]
    assert (person["first_name"], person["second_name"]) == ("Гульнора", "Эргашева")
    assert person["documents"] == [{**PERSON["documents"][0], "issuing_country": None}]
    not_shared = {
        "patronymic": None,
        "name_latin": None,
        "birth_date": None,
        "citizenship": None,
        "phone": None,
        "current_location": None,
        "languages": [],
        "sex": "unknown",
    }
    assert {k: person[k] for k in not_shared} == not_shared, "fields nobody consented to leaked"
    assert linked["exploitation_forms"] == [] and linked["notes"] is None
    assert case["number"] not in json.dumps(linked), "the linked case knows the sender's case"

    # The sender cannot see the receiver's case, the receiver cannot see the sender's.
    as_sender = await intake.client.get(
        f"/v1/cases/{linked_id}", headers=await auth("akt-caseworker")
    )
    assert as_sender.status_code == 404
    as_receiver = await intake.client.get(
        f"/v1/cases/{case['id']}", headers=await auth("osh-caseworker")
    )
    assert as_receiver.status_code == 404


async def test_the_same_acceptance_delivered_twice_opens_one_linked_case(
    intake: Intake, auth: Auth
) -> None:
    _, acceptance, _ = await share_and_accept(intake, auth)
    # Redelivered, and published again by the referral service under a new event id.
    envelope = wrap(acceptance)
    await publish(intake, envelope, msg_id=f"{envelope.id}-again")
    sequence = await publish(intake, wrap(acceptance))
    await handled_up_to(intake, sequence)
    linked = await intake.count(
        "cases", "origin_referral_id = :r AND tenant_id = :t", r=acceptance.referral_id, t=OSH
    )
    assert linked == 1
    assert await intake.count("cases", "origin_referral_id = :r", r=acceptance.referral_id) == 1


async def test_personal_data_never_travels_in_clear_on_the_intake_stream(
    intake: Intake, auth: Auth
) -> None:
    await share_and_accept(intake, auth)
    bodies = [body.decode() for body in await raw_messages(intake, "tirek.intake.>")]
    assert any('"share.prepared"' in body for body in bodies)
    for body in bodies:
        text = json.dumps(json.loads(body), ensure_ascii=False)
        for personal in IN_CLEAR:
            assert personal not in text, f"{personal!r} in clear on the stream: {text[:200]}"


async def test_withdrawing_the_consent_deletes_intakes_copy_and_no_linked_case_is_opened(
    intake: Intake, auth: Auth
) -> None:
    case, consent_id = await sender_case(intake, auth)
    event = approved(case["id"], consent_id)
    await publish(intake, wrap(event))
    assert (await share_outcome(intake, event.referral_id))["type"] == "share.prepared"

    response = await intake.client.post(
        f"/v1/cases/{case['id']}/consents/{consent_id}/withdraw",
        json={},
        headers=await auth("akt-caseworker"),
    )
    assert response.status_code == 200, response.text
    assert await intake.count("share_packages", "referral_id = :r", r=event.referral_id) == 0

    await handled_up_to(intake, await publish(intake, wrap(accepted(event))))
    assert await intake.count("cases", "origin_referral_id = :r", r=event.referral_id) == 0


async def test_a_receiver_intake_does_not_know_is_an_error_so_the_acceptance_is_retried(
    intake: Intake,
) -> None:
    event = approved(uuid.uuid4(), uuid.uuid4(), receiver_tenant=uuid.uuid4())
    sessions = intake.app.state.sessions
    with pytest.raises(shares.ReceiverNotOnboarded):
        async with UnitOfWork(sessions, event.receiver_tenant) as session:
            await shares.open_linked_case(
                session=session,
                accepted=accepted(event),
                package={"first_name": "X", "sex": "unknown"},
                today=datetime.now(UTC).date(),
                keyring=intake.app.state.keyring,
            )
    assert await intake.count("cases", "origin_referral_id = :r", r=event.referral_id) == 0
