"""Request and response bodies of the programme endpoints (they make the OpenAPI document)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, StrictInt

from backend.api.routing import OutModel, StrictModel

PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
ParamName = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")]
ParamText = Annotated[str, Field(max_length=200, pattern=PRINTABLE)]


class ProgrammeChangeBody(StrictModel):
    """`enabled`: true or false (absent or null: as it is). `parameters`: name -> the value
    as the city's configuration would write it (a number may be sent as a number), or
    null to go back to the configuration's value."""

    enabled: bool | None = None
    parameters: dict[ParamName, ParamText | StrictInt | None] = Field(
        default_factory=dict, max_length=50)


class ParameterOut(OutModel):
    name: str
    doc: str
    value: str = Field(description="in effect, as text")
    source: Literal["default", "config", "database"]
    config_value: str = Field(description="the value without the database's override")
    needs_approval: bool = Field(description="changing it needs a second admin's approval")
    stored: str | None = Field(description="the database's override, also when left out")
    ignored: str | None = Field(description="why the stored override is left out")


class ProgrammeOut(OutModel):
    key: str
    title: str
    titles: dict[str, str]
    enabled: bool = Field(description="the programme runs now")
    enabled_source: Literal["config", "database"]
    enabled_by_config: bool
    available: bool = Field(description="false: the module cannot run (see problem)")
    problem: str | None
    version: int
    updated_by: str | None
    updated_at: dt.datetime | None
    actions: list[str]
    parameters: list[ParameterOut]
    ignored: dict[str, str] = Field(description="stored overrides left out (also of "
                                    "parameters the module no longer has), and why")


class ProgrammeList(OutModel):
    items: list[ProgrammeOut]

