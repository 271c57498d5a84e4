"""Event envelope and contracts, one module per producing service.

``tirek.events.intake``, ``tirek.events.admin``: typed payloads registered by
``(type, version)``; JSON Schemas of each are recorded in ``shared/contracts/`` and the contract
test fails on an incompatible change (``python -m tirek.events.schema check``).
"""

from tirek.events.envelope import Contract, Envelope, ForgedTenant
from tirek.events.registry import UnknownEventType, all_contracts, contract_for, register

__all__ = [
    "Contract",
    "Envelope",
    "ForgedTenant",
    "UnknownEventType",
    "all_contracts",
    "contract_for",
    "register",
]
