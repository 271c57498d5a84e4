"""Donor indicators, defined in one data file coordinators read (``indicators.toml``)."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

DEFINITIONS = Path(__file__).resolve().parents[1] / "indicators.toml"


class Source(BaseModel):
    """Which events count, filtered by codes (an absent filter matches everything)."""

    events: Literal["assistance.recorded", "contact.recorded"]
    type: list[str] | None = None
    mode: list[str] | None = None
    outcome: list[str] | None = None
    topic: list[str] | None = None


class Indicator(BaseModel):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    count: Literal["records", "persons"]
    labels: dict[str, str]
    source: list[Source] = Field(min_length=1)


class Definitions(BaseModel):
    indicator: list[Indicator]


@lru_cache
def load_indicators(path: Path = DEFINITIONS) -> tuple[Indicator, ...]:
    """The indicators of ``path`` (validated: a mistake in the file fails at start-up)."""
    with path.open("rb") as file:
        return tuple(Definitions.model_validate(tomllib.load(file)).indicator)
