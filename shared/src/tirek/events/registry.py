"""Registry from ``(event type, version)`` to the contract model that describes it."""

from __future__ import annotations

import re
from typing import TypeVar

from tirek.events.envelope import Contract

C = TypeVar("C", bound=type[Contract])

_REGISTRY: dict[tuple[str, int], type[Contract]] = {}
#: What an event type looks like; anything else is not quoted in errors (it is free text).
_TYPE = re.compile(r"^[a-z][a-z_]{0,40}\.[a-z][a-z_]{0,40}$")


class UnknownEventType(LookupError):
    """An event whose ``(type, version)`` no contract describes."""


def register(model: C) -> C:
    """Class decorator: make a contract findable by its type and version."""
    key = (model.event_type, model.version)
    existing = _REGISTRY.get(key)
    if existing is not None and existing is not model:
        raise ValueError(f"two contracts for {key}: {existing.__name__} and {model.__name__}")
    _REGISTRY[key] = model
    return model


def contract_for(event_type: str, version: int) -> type[Contract]:
    """The contract model for an event type and version."""
    _load_all()
    try:
        return _REGISTRY[(event_type, version)]
    except KeyError:
        shown = event_type if _TYPE.match(event_type) else "an event type of unknown form"
        raise UnknownEventType(f"{shown} v{version}") from None


def all_contracts() -> dict[tuple[str, int], type[Contract]]:
    """Every registered contract, keyed by ``(type, version)``."""
    _load_all()
    return dict(sorted(_REGISTRY.items()))


def _load_all() -> None:
    # Importing the producer modules registers their contracts.
    from tirek.events import admin, intake, notification, referral  # noqa: F401
