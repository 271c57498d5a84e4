"""``Idempotency-Key`` in notification: a retried removal answers its first 204, not a 404."""

from __future__ import annotations

import uuid

from tests.notification.conftest import Auth, Notification


async def test_a_retried_delete_answers_its_first_result_and_a_put_replays_its_body(
    notif: Notification, auth: Auth
) -> None:
    admin = await auth("akt-admin")
    user = f"idem-{uuid.uuid4().hex[:8]}"
    put_headers = {**admin, "Idempotency-Key": str(uuid.uuid4())}
    body = {"roles": ["caseworker"], "language": "kk"}
    created = await notif.client.put(f"/v1/recipients/{user}", json=body, headers=put_headers)
    again = await notif.client.put(f"/v1/recipients/{user}", json=body, headers=put_headers)
    assert created.status_code == 200, created.text
    assert (again.status_code, again.json()) == (200, created.json())
    assert again.headers.get("Idempotent-Replayed") == "true"

    delete_headers = {**admin, "Idempotency-Key": str(uuid.uuid4())}
    removed = await notif.client.delete(f"/v1/recipients/{user}", headers=delete_headers)
    retried = await notif.client.delete(f"/v1/recipients/{user}", headers=delete_headers)
    assert (removed.status_code, retried.status_code) == (204, 204), retried.text
    assert retried.headers.get("Idempotent-Replayed") == "true"
    unkeyed = await notif.client.delete(f"/v1/recipients/{user}", headers=admin)
    assert unkeyed.status_code == 404, "without a key the second removal finds nothing"
    assert await notif.count("recipients", "user_id = :u", u=user) == 0
