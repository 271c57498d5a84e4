from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from admin.schemas import NO_NUL, at_most
from admin.tenants.schemas import Language
from tirek.web.params import EMAIL_OR_EMPTY


class AssignableRole(StrEnum):
    """Roles given through admin. ``coordinator`` and ``platform_admin`` are the consortium's
    own and are granted in the identity provider's console, not per tenant."""

    CASEWORKER = "caseworker"
    CASE_MANAGER = "case_manager"
    TENANT_ADMIN = "tenant_admin"


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=100, pattern=NO_NUL),
    BeforeValidator(at_most(100)),
]
Roles = Annotated[list[AssignableRole], Field(min_length=1, max_length=3)]


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{2,63}$")
    email: str = Field("", max_length=254, pattern=EMAIL_OR_EMPTY)
    first_name: Name = ""
    last_name: Name = ""
    roles: Roles
    locale: Language = Language.RU
    #: Initial password (not temporary). Without one the user is created without a usable
    #: password and must be sent a set-password action from the identity provider.
    initial_password: str | None = Field(None, min_length=8, max_length=128, pattern=NO_NUL)


class RolesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    roles: Roles


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    username: str
    email: str
    first_name: str
    last_name: str
    enabled: bool
    roles: list[str]
