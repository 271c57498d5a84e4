"""Contracts published by ``intake``: ``case.*``, ``assistance.*``, ``contact.*``, ``consent.*``.

Names and picklists follow IOM's Human Trafficking Case Data Standard (HTCDS) where it has a
field for the thing (``prs_Gender``, ``prs_Nationality``, ``cas_Status``, the forms of
exploitation of ``vic_``). Payloads carry no name, document, contact, address or free text:
every consumer (reporting above all) gets sex, age band, citizenship, categories, dates and
types only (DESIGN.md).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from tirek.events.envelope import Contract
from tirek.events.registry import register

SOURCE = "intake"

# ----------------------------------------------------------------------------- vocabulary


class Sex(StrEnum):
    """HTCDS ``prs_Gender``."""

    MALE = "male"
    FEMALE = "female"
    TRANSGENDER_NONCONFORMING = "transgender_nonconforming"
    UNKNOWN = "unknown"


class AgeBand(StrEnum):
    """Age at registration, banded before anything leaves intake (never a birth date)."""

    UNDER_12 = "0-11"
    FROM_12_TO_17 = "12-17"
    FROM_18_TO_24 = "18-24"
    FROM_25_TO_34 = "25-34"
    FROM_35_TO_49 = "35-49"
    FROM_50 = "50+"
    UNKNOWN = "unknown"

    @classmethod
    def of(cls, age: int | None) -> AgeBand:
        if age is None or age < 0:
            return cls.UNKNOWN
        for limit, band in (
            (12, cls.UNDER_12),
            (18, cls.FROM_12_TO_17),
            (25, cls.FROM_18_TO_24),
            (35, cls.FROM_25_TO_34),
            (50, cls.FROM_35_TO_49),
        ):
            if age < limit:
                return band
        return cls.FROM_50


class CaseCategory(StrEnum):
    LABOUR_MIGRANT = "labour_migrant"
    PRESUMED_VICTIM_OF_TRAFFICKING = "presumed_victim_of_trafficking"
    IDENTIFIED_VICTIM_OF_TRAFFICKING = "identified_victim_of_trafficking"
    VULNERABLE_MIGRANT = "vulnerable_migrant"
    DEPORTEE = "deportee"
    CHILD_OF_MIGRANT = "child_of_migrant"
    UNACCOMPANIED_MINOR = "unaccompanied_minor"
    STATELESS = "stateless"


class ExploitationForm(StrEnum):
    """Forms of exploitation (HTCDS victim context: labour and sex exploitation types, plus
    the Palermo Protocol forms the region's NGOs record)."""

    LABOUR = "labour"
    SEXUAL = "sexual"
    DOMESTIC_SERVITUDE = "domestic_servitude"
    FORCED_BEGGING = "forced_begging"
    FORCED_CRIMINALITY = "forced_criminality"
    FORCED_MARRIAGE = "forced_marriage"
    ORGAN_REMOVAL = "organ_removal"
    OTHER = "other"


class TrmStage(StrEnum):
    """Stages of ICMPD's Transnational Referral Mechanism."""

    IDENTIFICATION = "identification"
    FIRST_ASSISTANCE_AND_PROTECTION = "first_assistance_and_protection"
    LONG_TERM_ASSISTANCE_AND_SOCIAL_INCLUSION = "long_term_assistance_and_social_inclusion"
    RETURN_AND_SOCIAL_INCLUSION = "return_and_social_inclusion"
    CRIMINAL_AND_CIVIL_PROCEEDINGS = "criminal_and_civil_proceedings"


class CaseStatus(StrEnum):
    """HTCDS ``cas_Status``."""

    ACTIVE = "active"
    FOLLOW_UP = "follow_up"
    CLOSED = "closed"
    CLOSED_REFERRED = "closed_referred"


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class ClosureReason(StrEnum):
    ASSISTANCE_COMPLETED = "assistance_completed"
    REFERRED = "referred"
    RETURNED_HOME = "returned_home"
    CONTACT_LOST = "contact_lost"
    DECLINED_ASSISTANCE = "declined_assistance"
    DECEASED = "deceased"
    OTHER = "other"


class AssistanceType(StrEnum):
    """What the region's NGOs give and donors count (DESIGN.md)."""

    HOTLINE_CONSULTATION = "hotline_consultation"
    LEGAL_CONSULTATION = "legal_consultation"
    LEGAL_AID = "legal_aid"
    SOCIAL_AID = "social_aid"
    PSYCHOLOGICAL_SUPPORT = "psychological_support"
    HUMANITARIAN_AID = "humanitarian_aid"
    MEDICAL_AID = "medical_aid"
    SHELTER = "shelter"
    DOCUMENT_RESTORATION = "document_restoration"
    BIRTH_REGISTRATION = "birth_registration"
    TEMPORARY_REGISTRATION = "temporary_registration"
    VOLUNTARY_RETURN = "voluntary_return"
    REINTEGRATION_SUPPORT = "reintegration_support"
    EMPLOYMENT_COUNSELLING = "employment_counselling"
    TRAINING_OR_AWARENESS = "training_or_awareness"


class AssistanceMode(StrEnum):
    HOTLINE = "hotline"
    OFFICE = "office"
    MOBILE_OUTREACH = "mobile_outreach"
    ONLINE = "online"


class AssistanceOutcome(StrEnum):
    PROVIDED = "provided"
    PARTIALLY_PROVIDED = "partially_provided"
    REFERRED_ELSEWHERE = "referred_elsewhere"
    NOT_PROVIDED = "not_provided"


class ContactTopic(StrEnum):
    """Topics of anonymous (hotline) contacts."""

    SAFE_MIGRATION = "safe_migration"
    EMPLOYMENT_ABROAD = "employment_abroad"
    DOCUMENTS_AND_REGISTRATION = "documents_and_registration"
    LABOUR_RIGHTS = "labour_rights"
    POSSIBLE_TRAFFICKING = "possible_trafficking"
    MISSING_PERSON = "missing_person"
    RETURN_HOME = "return_home"
    VIOLENCE = "violence"
    OTHER = "other"


class ConsentPurpose(StrEnum):
    REGISTRATION = "registration"
    REFERRAL = "referral"
    REPORTING = "reporting"


class ConsentGiver(StrEnum):
    PERSON = "person"
    GUARDIAN = "guardian"


class ConsentMethod(StrEnum):
    WRITTEN = "written"
    ORAL_RECORDED = "oral_recorded"
    ELECTRONIC = "electronic"


# ----------------------------------------------------------------------------- case


@register
class CaseRegistered(Contract):
    event_type = "case.registered"
    version = 1
    source = SOURCE

    case_id: uuid.UUID
    case_number: str
    person_id: uuid.UUID
    opened_on: date
    country: str = Field(description="ISO 3166-1 alpha-2 country of the registering NGO")
    sex: Sex
    age_band: AgeBand
    citizenship: str | None = Field(
        None, description="ISO 3166-1 alpha-2, or null if stateless/unknown"
    )
    categories: list[CaseCategory]
    exploitation_forms: list[ExploitationForm] = Field(default_factory=list)
    trm_stage: TrmStage
    status: CaseStatus
    risk_level: RiskLevel
    assigned_to: str | None = Field(None, description="user id (sub) of the assigned caseworker")
    origin_referral_id: uuid.UUID | None = Field(
        None, description="set when the case was opened from an accepted referral"
    )


@register
class CaseUpdated(Contract):
    event_type = "case.updated"
    version = 1
    source = SOURCE

    case_id: uuid.UUID
    case_number: str
    changed: list[str] = Field(
        description="names of the fields that changed (never their values when personal)"
    )
    sex: Sex
    age_band: AgeBand
    citizenship: str | None = None
    categories: list[CaseCategory]
    exploitation_forms: list[ExploitationForm] = Field(default_factory=list)
    trm_stage: TrmStage
    status: CaseStatus
    risk_level: RiskLevel
    assigned_to: str | None = None


@register
class CaseClosed(Contract):
    event_type = "case.closed"
    version = 1
    source = SOURCE

    case_id: uuid.UUID
    case_number: str
    closed_on: date
    reason: ClosureReason


# ----------------------------------------------------------------------------- assistance


@register
class AssistanceRecorded(Contract):
    event_type = "assistance.recorded"
    version = 1
    source = SOURCE

    assistance_id: uuid.UUID
    case_id: uuid.UUID
    person_id: uuid.UUID
    type: AssistanceType
    mode: AssistanceMode
    provided_on: date
    outcome: AssistanceOutcome
    project_code: str | None = Field(None, description="project/donor code the record counts for")


# ----------------------------------------------------------------------------- contacts


@register
class ContactRecorded(Contract):
    event_type = "contact.recorded"
    version = 1
    source = SOURCE

    contact_id: uuid.UUID
    received_on: date
    mode: AssistanceMode
    topic: ContactTopic
    country: str | None = Field(
        None, description="country the contact is about (ISO 3166-1 alpha-2)"
    )
    sex: Sex
    project_code: str | None = None


# ----------------------------------------------------------------------------- consent


@register
class ConsentGiven(Contract):
    event_type = "consent.given"
    version = 1
    source = SOURCE

    consent_id: uuid.UUID
    case_id: uuid.UUID
    purpose: ConsentPurpose
    scope: list[str] = Field(description="names of the fields the consent covers")
    recipient_tenant: uuid.UUID | None = Field(
        None, description="for a referral: the receiving NGO"
    )
    given_by: ConsentGiver
    method: ConsentMethod
    given_at: datetime
    valid_until: date | None = None


@register
class ConsentWithdrawn(Contract):
    event_type = "consent.withdrawn"
    version = 1
    source = SOURCE

    consent_id: uuid.UUID
    case_id: uuid.UUID
    purpose: ConsentPurpose
    recipient_tenant: uuid.UUID | None = None
    withdrawn_at: datetime


# ----------------------------------------------------------------------------- shares


@register
class SharePrepared(Contract):
    """The share package for an approved referral, sealed for the receiving tenant.

    The only event that carries personal data, so it carries it only as ciphertext
    (:mod:`tirek.crypto`): the stream, its backups and every consumer but the referral
    service (which opens it for the receiver) see an opaque blob. Published on
    ``tirek.intake.share.prepared.v1``, consumed only by referral's ``referral-shares``.
    """

    event_type = "share.prepared"
    version = 1
    source = SOURCE

    referral_id: uuid.UUID
    case_id: uuid.UUID
    receiver_tenant: uuid.UUID
    consent_id: uuid.UUID
    fields: list[str] = Field(description="names of the fields inside the sealed package")
    sealed: str = Field(description="the package, sealed for the receiver (tirek.crypto.seal)")


@register
class ShareRefused(Contract):
    """Intake would not share: the referral is blocked and the sender told why."""

    event_type = "share.refused"
    version = 1
    source = SOURCE

    referral_id: uuid.UUID
    case_id: uuid.UUID
    reason: str = Field(
        description="case_not_found | consent_not_found | consent_withdrawn | consent_expired | "
        "consent_purpose | consent_recipient | consent_scope | person_erased"
    )


# ----------------------------------------------------------------------------- erasure


class ErasureBasis(StrEnum):
    """Why a person's personal data was erased."""

    REQUEST = "request"  # the person asked (through a case manager of the NGO)
    RETENTION = "retention"  # the NGO's retention period ran out


class ErasedShare(BaseModel):
    """A referral whose share package held the erased person, and the NGO it went to."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    referral_id: uuid.UUID
    receiver_tenant: uuid.UUID


@register
class PersonErased(Contract):
    """A person's personal data was erased in the NGO (``tenant``); the case rows stay with
    their de-identified facts (sex, age band, citizenship, categories, dates), so every count
    stays as it was. Carries no personal data: ids only.

    Every holder of a copy purges it: referral deletes the packages of ``shares`` and the
    free text of those referrals; intake clears the copied fields of the receiving NGO's
    linked case (``origin_referral_id``).
    """

    event_type = "person.erased"
    version = 1
    source = SOURCE

    person_id: uuid.UUID
    case_ids: list[uuid.UUID]
    basis: ErasureBasis
    erased_at: datetime
    shares: list[ErasedShare] = Field(
        default_factory=list,
        description="the referrals whose share packages held this person, and their receivers",
    )
