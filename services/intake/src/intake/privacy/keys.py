"""Intake's keys at work: which tables are sealed, and the commands that rotate and re-seal.

- :func:`seal_plaintext` — rows written before encryption at rest (``key_version`` NULL, after
  migration 0004) are encrypted and their persons' blind indexes recomputed with the NGO's own
  blind-index key; run by the service at start and by ``python -m intake keys seal-plaintext``.
- :func:`rotate` — ``python -m intake keys rotate --tenant ID``: one NGO's rows under a new
  data key (see :func:`tirek.crypto.rotation.rotate_tenant`).
- :func:`rewrap` — ``python -m intake keys rewrap``: every NGO's keys under the current master
  key; ``keys status`` shows which master keys still wrap something.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from intake.assistance.models import AssistanceRecord
from intake.cases.models import Case
from intake.consents.models import Consent
from intake.contacts.models import AnonymousContact
from intake.persons.models import Person
from intake.persons.search import index_person
from intake.privacy.retention import tenants
from intake.shares.models import SharePackage
from intake.shares.service import open_legacy_package
from tirek.crypto import CONSORTIUM, Keyring, TenantKeys, open_record, seal_record
from tirek.crypto.rotation import Resealable, SealedStore


async def _reseal_person(session: AsyncSession, person: object, keys: TenantKeys) -> None:
    assert isinstance(person, Person)
    legacy = person.key_version is None
    open_record(person, keys)
    if legacy:  # indexes from before per-tenant blind keys: computed again
        index_person(person, keys)
    seal_record(person, keys)


def resealables(keyring: Keyring) -> list[Resealable]:
    """Every sealed table of intake, and how to re-encrypt one of its rows."""

    async def reseal_package(session: AsyncSession, package: object, keys: TenantKeys) -> None:
        assert isinstance(package, SharePackage)
        if package.key_version is None:  # the transport seal kept before encryption at rest
            package.package = open_legacy_package(keyring, package)
        else:
            open_record(package, keys)
        seal_record(package, keys)

    return [
        Resealable(Person, _reseal_person),
        Resealable(Case),
        Resealable(AssistanceRecord),
        Resealable(Consent),
        Resealable(AnonymousContact),
        Resealable(SharePackage, reseal_package),
    ]


async def _key_owners(sessions: async_sessionmaker[AsyncSession]) -> list[uuid.UUID]:
    return [CONSORTIUM, *await tenants(sessions)]


#: Intake's sealed tables; every NGO's keys and the consortium's (partner hints).
STORE = SealedStore(resealables, tenants, _key_owners)
seal_plaintext = STORE.seal_plaintext
rotate = STORE.rotate
rewrap = STORE.rewrap
status = STORE.status
