"""Isolation: an NGO's administrator sees and changes only its own channels, recipients, rules
and deliveries; staff without the admin role reach none of it; an inbox is its owner's alone.

The admin routes come from the application itself, so a new endpoint fails
:func:`test_every_admin_endpoint_has_an_example_request` until it is covered here.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts

from tests.notification.conftest import Auth, Notification
from tests.notification.events import case_registered, email_of, user_id
from tirek.demo.consortium import tenant_by_code
from tirek.web.tenant_export import EXPORT_PATH

AKT = tenant_by_code("AKT").id
OSH = tenant_by_code("OSH").id

#: Example request per admin endpoint (path parameters filled with AKT's records).
EXAMPLES: dict[tuple[str, str], tuple[str, Any]] = {
    ("GET", "/v1/recipients"): ("/v1/recipients", None),
    ("GET", "/v1/recipients/{user_id}"): ("/v1/recipients/{akt_user}", None),
    ("PUT", "/v1/recipients/{user_id}"): (
        "/v1/recipients/{akt_user}",
        {"roles": ["caseworker"], "language": "en", "email": "intruder@example.org"},
    ),
    ("DELETE", "/v1/recipients/{user_id}"): ("/v1/recipients/{akt_user}", None),
    ("GET", "/v1/channels"): ("/v1/channels", None),
    ("PUT", "/v1/channels/{kind}"): ("/v1/channels/email", {"enabled": False}),
    ("GET", "/v1/rules"): ("/v1/rules", None),
    ("PUT", "/v1/rules/{rule_id}"): (
        "/v1/rules/case.registered:assignee",
        {"enabled": False},
    ),
    ("GET", "/v1/deliveries"): ("/v1/deliveries", None),
    ("GET", "/v1/deliveries/{delivery_id}/attempts"): (
        "/v1/deliveries/{akt_delivery}/attempts",
        None,
    ),
}
#: Endpoints every signed-in user may call, for their own inbox.
USER_ENDPOINTS = {
    ("GET", "/v1/inbox"),
    ("GET", "/v1/inbox/unread-count"),
    ("POST", "/v1/inbox/{message_id}/read"),
}


def v1_operations(notif: Notification) -> list[tuple[str, str]]:
    operations: list[tuple[str, str]] = []
    for route in iter_route_contexts(notif.app.routes):
        if (route.path or "").startswith("/v1"):
            assert route.methods, f"{route.path} is not an HTTP endpoint"
            operations.extend((method, str(route.path)) for method in route.methods)
    assert operations, "found no /v1 endpoint: has the way routes are listed changed?"
    return sorted(operations)


@pytest.fixture(scope="module")
async def akt_records(notif: Notification, auth: Auth) -> dict[str, str]:
    """AKT's own things: a recipient and a delivery (with its inbox message)."""
    akt_user = user_id("akt-caseworker")
    response = await notif.client.put(
        f"/v1/recipients/{akt_user}",
        json={"roles": ["caseworker"], "language": "kk", "email": email_of("akt-caseworker")},
        headers=await auth("akt-admin"),
    )
    assert response.status_code == 200
    event = case_registered("AKT", assigned_to="akt-caseworker")
    await notif.publish(event)
    await notif.planned(event.id, 2)
    await notif.dispatcher.dispatch_due()
    deliveries = await notif.rows("SELECT id FROM deliveries WHERE event_id = :e", e=event.id)
    messages = await notif.rows(
        "SELECT id FROM inbox_messages WHERE user_id = :u ORDER BY created_at DESC", u=akt_user
    )
    return {
        "akt_user": akt_user,
        "akt_delivery": str(deliveries[0][0]),
        "akt_message": str(messages[0][0]),
    }


async def _akt_state(notif: Notification) -> tuple[object, ...]:
    return (
        await notif.rows(
            "SELECT user_id, roles, language, email FROM recipients WHERE tenant_id = :t "
            "ORDER BY user_id",
            t=AKT,
        ),
        await notif.rows(
            "SELECT kind, enabled, url FROM channel_configs WHERE tenant_id = :t ORDER BY kind",
            t=AKT,
        ),
        await notif.rows("SELECT rule_id, enabled FROM rule_settings WHERE tenant_id = :t", t=AKT),
    )


def test_every_admin_endpoint_has_an_example_request(notif: Notification) -> None:
    missing = set(v1_operations(notif)) - set(EXAMPLES) - USER_ENDPOINTS - {("GET", EXPORT_PATH)}
    assert not missing, f"no isolation example for {sorted(missing)}"


async def test_the_tenant_export_answers_only_a_leaving_ngos_own_administrators(
    notif: Notification, auth: Auth, akt_records: dict[str, str]
) -> None:
    """No NGO here is leaving: its administrators get 409, every other role 403 (the leaving
    NGO's own download: test_offboarding)."""
    assert ("GET", EXPORT_PATH) in v1_operations(notif)
    for username in ("akt-caseworker", "akt-manager", "coordinator", "platform-admin"):
        response = await notif.client.get(EXPORT_PATH, headers=await auth(username))
        assert response.status_code == 403, f"{username}: {response.status_code}"
    for username in ("akt-admin", "osh-admin"):
        response = await notif.client.get(EXPORT_PATH, headers=await auth(username))
        assert response.status_code == 409, f"{username}: {response.status_code}"
        assert akt_records["akt_delivery"] not in response.text


@pytest.mark.parametrize("username", ["akt-caseworker", "akt-manager", "coordinator"])
async def test_staff_without_the_admin_role_reach_no_admin_endpoint(
    notif: Notification, auth: Auth, akt_records: dict[str, str], username: str
) -> None:
    before = await _akt_state(notif)
    for (method, _), (template, body) in EXAMPLES.items():
        response = await notif.client.request(
            method, template.format(**akt_records), json=body, headers=await auth(username)
        )
        assert response.status_code == 403, f"{username}: {method} -> {response.status_code}"
    assert await _akt_state(notif) == before


async def test_another_ngos_admin_sees_and_changes_nothing_of_akts(
    notif: Notification, auth: Auth, akt_records: dict[str, str]
) -> None:
    before = await _akt_state(notif)
    osh_admin = await auth("osh-admin")
    for (method, _), (template, body) in EXAMPLES.items():
        path = template.format(**akt_records)
        response = await notif.client.request(method, path, json=body, headers=osh_admin)
        assert response.status_code < 500, f"{method} {path}: {response.status_code}"
        text = response.text
        assert akt_records["akt_delivery"] not in text, f"{method} {path} shows AKT's delivery"
        if method == "GET" and "{akt" in template:
            assert response.status_code == 404, f"{method} {path}: {response.status_code}"
    # (PUT and DELETE of AKT's user id by OSH's admin touch a row of OSH's own list only.)
    assert await _akt_state(notif) == before, "OSH's admin changed AKT's settings"
    # What OSH's admin did write landed in OSH's own rows.
    recipients = (await notif.client.get("/v1/recipients", headers=osh_admin)).json()
    assert all(r["email"] != email_of("akt-caseworker") for r in recipients)
    deliveries = (await notif.client.get("/v1/deliveries?limit=500", headers=osh_admin)).json()
    tenants = await notif.rows(
        "SELECT DISTINCT tenant_id FROM deliveries WHERE id = ANY(:ids)",
        ids=[uuid.UUID(d["id"]) for d in deliveries],
    )
    assert {row[0] for row in tenants} <= {OSH}


async def test_an_inbox_message_is_its_owners_alone(
    notif: Notification, auth: Auth, akt_records: dict[str, str]
) -> None:
    message = akt_records["akt_message"]
    for username in ("akt-manager", "osh-caseworker", "osh-admin"):
        headers = await auth(username)
        listed = await notif.client.get("/v1/inbox", headers=headers)
        assert message not in listed.text
        response = await notif.client.post(f"/v1/inbox/{message}/read", headers=headers)
        assert response.status_code == 404
    owner = await notif.client.get("/v1/inbox", headers=await auth("akt-caseworker"))
    assert message in owner.text
