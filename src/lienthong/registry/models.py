"""Agencies, who succeeded whom, and the history of every change."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lienthong.db import Base


class AgencyKind(enum.StrEnum):
    MINISTRY = "ministry"
    PROVINCIAL_COMMITTEE = "provincial_committee"
    PROVINCIAL_OFFICE = "provincial_office"
    DEPARTMENT = "department"
    INSPECTORATE = "inspectorate"
    MANAGEMENT_BOARD = "management_board"
    SERVICE_CENTRE = "service_centre"
    DISTRICT = "district"
    COMMUNE = "commune"
    WARD = "ward"
    TOWNSHIP = "township"
    SPECIAL_ZONE = "special_zone"
    PARTY_COMMITTEE = "party_committee"
    PARTY_BODY = "party_body"
    PEOPLES_COUNCIL = "peoples_council"
    COUNCIL_OFFICE = "council_office"
    OTHER = "other"


KIND_LABELS: dict[AgencyKind, tuple[str, str]] = {
    AgencyKind.MINISTRY: ("Bộ, cơ quan ngang bộ", "Ministry or government agency"),
    AgencyKind.PROVINCIAL_COMMITTEE: ("UBND cấp tỉnh", "Provincial People's Committee"),
    AgencyKind.PROVINCIAL_OFFICE: ("Văn phòng", "Office"),
    AgencyKind.DEPARTMENT: ("Sở, ngành", "Department"),
    AgencyKind.INSPECTORATE: ("Thanh tra", "Inspectorate"),
    AgencyKind.MANAGEMENT_BOARD: ("Ban quản lý", "Management board"),
    AgencyKind.SERVICE_CENTRE: ("Trung tâm phục vụ hành chính công", "Public service centre"),
    AgencyKind.DISTRICT: ("UBND cấp huyện (cũ)", "District People's Committee (former)"),
    AgencyKind.COMMUNE: ("Xã", "Commune"),
    AgencyKind.WARD: ("Phường", "Ward"),
    AgencyKind.TOWNSHIP: ("Thị trấn", "Township"),
    AgencyKind.SPECIAL_ZONE: ("Đặc khu", "Special zone"),
    AgencyKind.PARTY_COMMITTEE: ("Cấp ủy Đảng", "Party committee"),
    AgencyKind.PARTY_BODY: ("Cơ quan Đảng", "Party body"),
    AgencyKind.PEOPLES_COUNCIL: ("Hội đồng nhân dân", "People's Council"),
    AgencyKind.COUNCIL_OFFICE: ("Văn phòng HĐND", "Council office"),
    AgencyKind.OTHER: ("Khác", "Other"),
}

COMMUNE_LEVEL_KINDS = (AgencyKind.COMMUNE, AgencyKind.WARD, AgencyKind.SPECIAL_ZONE)


class AgencyStatus(enum.StrEnum):
    ACTIVE = "active"
    MERGED = "merged"
    DISSOLVED = "dissolved"


STATUS_LABELS: dict[AgencyStatus, tuple[str, str]] = {
    AgencyStatus.ACTIVE: ("Đang hoạt động", "Active"),
    AgencyStatus.MERGED: ("Đã hợp nhất", "Merged"),
    AgencyStatus.DISSOLVED: ("Đã giải thể", "Dissolved"),
}


class Agency(Base):
    __tablename__ = "agency"
    __table_args__ = (
        Index("ix_agency_parent_status", "parent_id", "status"),
        Index("ix_agency_level_status", "level", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(35), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    short_name: Mapped[str | None] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(32))
    level: Mapped[int]
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(16), default=AgencyStatus.ACTIVE.value)
    status_effective_on: Mapped[date | None] = mapped_column(Date)
    # The 5-digit statistical code of an administrative unit (GSO): a different list.
    admin_code: Mapped[str | None] = mapped_column(String(5))
    # Contact fields carried by edXML From/To.
    organization_in_charge: Mapped[str | None] = mapped_column(String(255))
    address: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(64))
    fax: Mapped[str | None] = mapped_column(String(64))
    website: Mapped[str | None] = mapped_column(String(255))
    # The node that serves this agency (its province's, a ministry's or the national axis).
    serving_node: Mapped[str] = mapped_column(String(35))
    # The real code is not public: generated in the QĐ 20/2020 form, to be replaced by import.
    illustrative: Mapped[bool] = mapped_column(default=False)
    search_text: Mapped[str] = mapped_column(String(700), index=True)
    # Directory feed: the version of the last change (see federation.directory) and the code this
    # agency had before it was renamed, so that nodes holding the old code can follow.
    dir_version: Mapped[int] = mapped_column(default=0, index=True)
    old_code: Mapped[str | None] = mapped_column(String(35))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    parent: Mapped[Agency | None] = relationship(remote_side=[id], lazy="joined", innerjoin=False)


class Succession(Base):
    """`predecessor` ceased (merged or dissolved) and `successor` took over its work, in whole
    or in part. A unit split between several successors has several rows."""

    __tablename__ = "agency_succession"

    predecessor_id: Mapped[int] = mapped_column(
        ForeignKey("agency.id", ondelete="CASCADE"), primary_key=True
    )
    successor_id: Mapped[int] = mapped_column(
        ForeignKey("agency.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    effective_on: Mapped[date] = mapped_column(Date)


class AgencyEvent(Base):
    """Append-only history: who changed what, when."""

    __tablename__ = "agency_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(32))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class DirectoryCounter(Base):
    """One row: the last directory version handed out. Every flush that changes agencies takes
    the next versions in its transaction (the row stays locked until commit), so a feed read
    `since` a version never skips a change committed later with a smaller one."""

    __tablename__ = "directory_counter"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(default=0)


# Every Session of a process that knows Agency stamps directory versions on agency changes.
from lienthong.registry import versioning as _versioning  # noqa: E402,F401
