"""Every published event schema against its recorded version (shared/contracts/)."""

from __future__ import annotations

import uuid
from enum import StrEnum

import pytest
from pydantic import BaseModel

from tirek.events import Envelope, all_contracts, contract_for
from tirek.events.intake import CaseCategory, CaseRegistered
from tirek.events.schema import check, incompatibilities


def test_every_published_contract_matches_its_recorded_schema() -> None:
    problems = check()
    assert not problems, "event contracts changed incompatibly:\n" + "\n".join(problems)


def test_no_contract_carries_personal_fields() -> None:
    forbidden = {
        "name",
        "first_name",
        "last_name",
        "full_name",
        "birth_date",
        "document_number",
        "phone",
        "address",
        "email",
        "notes",
        "note",
        "comment",
    }
    for (event_type, version), model in all_contracts().items():
        leaked = forbidden & set(model.model_fields)
        assert not leaked, f"{event_type} v{version} carries personal fields {leaked}"


class _Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


class _ColourShrunk(StrEnum):
    RED = "red"


class _V1(BaseModel):
    id: int
    colour: _Colour
    label: str | None = None


class _AddsOptional(BaseModel):
    id: int
    colour: _Colour
    label: str | None = None
    extra: str | None = None


class _RemovesField(BaseModel):
    id: int
    colour: _Colour


class _Retypes(BaseModel):
    id: str
    colour: _Colour
    label: str | None = None


class _RequiresLabel(BaseModel):
    id: int
    colour: _Colour
    label: str


class _ShrinksPicklist(BaseModel):
    id: int
    colour: _ColourShrunk
    label: str | None = None


def test_adding_an_optional_field_is_compatible() -> None:
    assert incompatibilities(_V1.model_json_schema(), _AddsOptional.model_json_schema()) == []


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        (_RemovesField, "'label' was removed"),
        (_Retypes, "id"),
        (_RequiresLabel, "'label' became required"),
        (_ShrinksPicklist, "removed from the picklist"),
    ],
)
def test_incompatible_changes_are_caught(changed: type[BaseModel], expected: str) -> None:
    problems = incompatibilities(_V1.model_json_schema(), changed.model_json_schema())
    assert any(expected in p for p in problems), problems


def test_envelope_round_trips_to_its_registered_contract() -> None:
    payload = CaseRegistered(
        case_id=uuid.uuid4(),
        case_number="KZ-AKT-2026-000001",
        person_id=uuid.uuid4(),
        opened_on="2026-01-05",
        country="KZ",
        sex="female",
        age_band="18-24",
        citizenship="KG",
        categories=[CaseCategory.PRESUMED_VICTIM_OF_TRAFFICKING],
        trm_stage="identification",
        status="active",
        risk_level="high",
    )
    envelope = Envelope.wrap(payload, tenant=uuid.uuid4(), subject=payload.case_id)
    parsed = Envelope.model_validate_json(envelope.model_dump_json())
    assert parsed.subject_name == "tirek.intake.case.registered.v1"
    assert parsed.payload() == payload
    assert contract_for("case.registered", 1) is CaseRegistered
