"""What crosses the registry API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lienthong.registry.codes import PATTERN
from lienthong.registry.models import AgencyKind, AgencyStatus

T = TypeVar("T")
AgencyCodeText = Annotated[str, Field(pattern=PATTERN)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int


class Contact(BaseModel):
    organization_in_charge: str | None = Field(default=None, max_length=255)
    address: str | None = Field(default=None, max_length=255)
    email: str | None = Field(default=None, max_length=255)
    phone: str | None = Field(default=None, max_length=64)
    fax: str | None = Field(default=None, max_length=64)
    website: str | None = Field(default=None, max_length=255)


class AgencyOut(Contact):
    code: str
    name: str
    short_name: str | None
    kind: AgencyKind
    level: int
    parent_code: str | None
    status: AgencyStatus
    status_effective_on: date | None
    successor_codes: list[str]
    predecessor_codes: list[str]
    admin_code: str | None
    serving_node: str
    illustrative: bool
    created_at: datetime
    updated_at: datetime


class AgencyCreate(Contact):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=PATTERN, description="QĐ 20/2020 code, e.g. 000.00.84.H49")
    name: str = Field(min_length=1, max_length=255)
    short_name: str | None = Field(default=None, max_length=120)
    kind: AgencyKind
    parent_code: AgencyCodeText | None = None
    admin_code: str | None = Field(default=None, pattern=r"^\d{5}$")
    serving_node: str | None = Field(default=None, max_length=35)
    illustrative: bool = False


class AgencyUpdate(Contact):
    """Fields to change; absent fields stay as they are. Status changes go through merge and
    dissolve, which keep successors and history consistent."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=255)
    short_name: str | None = Field(default=None, max_length=120)
    kind: AgencyKind | None = None
    parent_code: AgencyCodeText | None = None
    admin_code: str | None = Field(default=None, pattern=r"^\d{5}$")
    serving_node: str | None = Field(default=None, max_length=35)
    illustrative: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _required_stay_set(cls, data: Any) -> Any:
        """Absent is unchanged; null would empty a field every agency must have."""
        if isinstance(data, dict):
            emptied = [
                k
                for k in ("name", "kind", "serving_node", "illustrative")
                if k in data and data[k] is None
            ]
            if emptied:
                raise ValueError(f"{', '.join(emptied)} cannot be null: leave it out to keep it")
        return data


class MergeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_codes: list[AgencyCodeText] = Field(min_length=1, max_length=500)
    successor_code: AgencyCodeText
    effective_on: date | None = None


class DissolveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    successor_codes: list[AgencyCodeText] = Field(default_factory=list, max_length=100)
    effective_on: date | None = None


class TreeNode(BaseModel):
    code: str
    name: str
    short_name: str | None
    kind: AgencyKind
    level: int
    status: AgencyStatus
    children: list[TreeNode] = Field(default_factory=list)
    children_total: int = 0


class EventOut(BaseModel):
    at: datetime
    actor: str
    action: str
    changes: dict[str, object]


class ImportResult(BaseModel):
    created: int
    updated: int
    unchanged: int
    rows: int
