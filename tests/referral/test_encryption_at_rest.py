"""Referral's free text and share packages at rest: ciphertext under per-tenant data keys that
rotate with the service running."""

from __future__ import annotations

from sqlalchemy import text

from referral import privacy
from tests.referral.conftest import AKT, OSH, PACKAGE, ReferralService

MESSAGE = "Айгуль Токтогулова приедет во вторник"


async def stored(referral: ReferralService, referral_id: str) -> dict[str, tuple[str, int]]:
    """(stored value, key version) of the package, the reason and the first message."""
    async with referral.admin_engine.connect() as conn:
        rows = {
            name: (await conn.execute(text(query), {"r": referral_id})).one()
            for name, query in (
                (
                    "package",
                    "SELECT sealed, key_version FROM share_packages WHERE referral_id = :r",
                ),
                ("reason", "SELECT reason, key_version FROM referrals WHERE id = :r"),
                (
                    "message",
                    "SELECT body, key_version FROM referral_messages WHERE referral_id = :r",
                ),
            )
        }
    return {name: (row[0], row[1]) for name, row in rows.items()}


async def test_free_text_and_packages_are_ciphertext_and_survive_a_rotation_of_both_ngos_keys(
    referral: ReferralService,
) -> None:
    sent = await referral.sent()
    posted = await referral.client.post(
        f"/v1/referrals/{sent['id']}/messages",
        json={"body": MESSAGE},
        headers=await referral.auth("osh-caseworker"),
    )
    assert posted.status_code == 201, posted.text
    before = await stored(referral, sent["id"])
    # Values of six characters or more: a two-letter code ("KG") turns up by chance in a few
    # per cent of ciphertexts (base64), and failed a `.ci/run` so.
    in_clear = [v for v in (*PACKAGE.values(), MESSAGE, sent["reason"]) if len(v) >= 6]
    for value, _ in before.values():
        assert value.startswith("tk1."), "a value is stored in clear"
        for clear in in_clear:
            assert clear not in value

    keyring = referral.app.state.keyring
    sessions = referral.app.state.sessions
    for tenant in (OSH, AKT):  # the package is the receiver's, the text the sender's
        report = await privacy.rotate(sessions, keyring, tenant, settle=0)
        assert report.destroyed, f"the old key of {tenant} was not destroyed"
    after = await stored(referral, sent["id"])
    for name in before:
        assert after[name][1] > before[name][1], f"the {name} is still under the old key"

    as_receiver = (await referral.get("osh-caseworker", sent["id"])).json()
    assert as_receiver["package"]["data"] == PACKAGE
    assert as_receiver["reason"] == sent["reason"]
    thread = await referral.client.get(
        f"/v1/referrals/{sent['id']}/messages", headers=await referral.auth("akt-caseworker")
    )
    assert [m["body"] for m in thread.json()] == [MESSAGE]
