"""Shared data (Decree 47/2020 as amended by Decree 194/2025): the catalogue of datasets with
their items classed open / shared / restricted, the services that serve them, records of
hosted datasets, access requests and the grants they lead to, the sharing log, and the link
between a signed-in citizen and their identifiers."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lienthong.db import Base


class ItemClass(enum.StrEnum):
    """Art 11.2(d): each item of a database is open, shared by default with state agencies,
    or shared only on a special request."""

    OPEN = "open"
    SHARED = "shared"
    RESTRICTED = "restricted"


ITEM_CLASS_LABELS: dict[str, tuple[str, str]] = {
    "open": ("Dữ liệu mở", "Open"),
    "shared": ("Chia sẻ mặc định", "Shared by default"),
    "restricted": ("Chia sẻ theo yêu cầu đặc thù", "Special request"),
}


class RequestState(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"


class GrantState(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class Dataset(Base):
    __tablename__ = "data_dataset"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    database: Mapped[str] = mapped_column(String(64), index=True)  # the specialised database
    owner_agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    name_vi: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    field: Mapped[str] = mapped_column(String(60), index=True)
    legal_basis: Mapped[str] = mapped_column(Text, default="")
    update_frequency: Mapped[str] = mapped_column(String(32))  # daily, weekly, monthly, on_change
    # [{"name", "label_vi", "label_en", "class": open|shared|restricted}]
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    key_item: Mapped[str] = mapped_column(String(64))
    personal_data: Mapped[bool] = mapped_column(default=False)
    has_open_items: Mapped[bool] = mapped_column(default=False)  # published as open data
    # The item naming the data subject (a personal ID number, a tax code) and its kind.
    subject_item: Mapped[str | None] = mapped_column(String(64))
    subject_kind: Mapped[str | None] = mapped_column(String(16))  # person_id, tax_code
    geometry: Mapped[bool] = mapped_column(default=False)  # records carry lon/lat (GeoJSON)
    illustrative: Mapped[bool] = mapped_column(default=False)  # generated demo data
    search_text: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime]


class DataService(Base):
    """One way a dataset is served: by key, a search with filters, or changes since a cursor;
    from the node's own copy (hosted) or forwarded to the owner's system (upstream)."""

    __tablename__ = "data_service"
    __table_args__ = (UniqueConstraint("dataset_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("data_dataset.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(12))  # get, search, changes
    provider: Mapped[str] = mapped_column(String(12))  # hosted, upstream
    upstream_url: Mapped[str | None] = mapped_column(String(500))
    upstream_openapi: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    timeout_ms: Mapped[int] = mapped_column(default=5000)
    max_response_bytes: Mapped[int] = mapped_column(default=1_000_000)
    active: Mapped[bool] = mapped_column(default=True)


class HostedRecord(Base):
    """A record of a dataset the node hosts for an agency without a system of its own."""

    __tablename__ = "data_record"
    __table_args__ = (
        UniqueConstraint("dataset_id", "key"),
        Index("ix_data_record_seq", "dataset_id", "seq"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("data_dataset.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str | None] = mapped_column(String(40), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    seq: Mapped[int]  # a per-dataset change counter: the cursor of the changes service
    updated_at: Mapped[datetime]


class AccessRequest(Base):
    """Art 35: who asks, for which system, which items of which service, why, how often and
    for how long; answered by the owner within 2 working days."""

    __tablename__ = "data_access_request"
    __table_args__ = (Index("ix_data_request_owner", "owner_agency_id", "state", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("data_service.id"), index=True)
    owner_agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"))
    consumer_agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    consumer_system: Mapped[str] = mapped_column(String(80))
    items: Mapped[list[str]] = mapped_column(JSON)
    purpose: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    frequency: Mapped[str] = mapped_column(String(100))
    period_from: Mapped[datetime]
    period_to: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(12))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime]
    due_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reason: Mapped[str | None] = mapped_column(Text)


class AccessGrant(Base):
    """The right of one consumer system to call one service for the approved items until the
    expiry. Never edited in place: approval, suspension, resumption and revocation each write
    a new grant that supersedes the previous one (the chain is the history)."""

    __tablename__ = "data_access_grant"
    __table_args__ = (Index("ix_data_grant_current", "service_id", "consumer_system", "current"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("data_access_request.id"), index=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("data_service.id"))
    owner_agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    consumer_agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id"), index=True)
    consumer_system: Mapped[str] = mapped_column(String(80))
    items: Mapped[list[str]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(12))
    valid_from: Mapped[datetime]
    expires_at: Mapped[datetime]
    rate_per_minute: Mapped[int] = mapped_column(default=600)
    created_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("data_access_grant.id"))
    # The only column that changes: False once a newer grant supersedes this one.
    current: Mapped[bool] = mapped_column(default=True)


class ShareCall(Base):
    """Art 45, one row per gateway call, allowed or refused; its digest is also appended to the
    node's hash-chained message log (`log_entry_id`)."""

    __tablename__ = "data_share_call"
    __table_args__ = (
        Index("ix_data_call_owner", "owner_agency_id", "at"),
        Index("ix_data_call_consumer", "consumer_agency_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    request_id: Mapped[str] = mapped_column(String(64), index=True)  # chosen by the client
    request_hash: Mapped[str] = mapped_column(String(64))
    owner_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    consumer_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    consumer_system: Mapped[str] = mapped_column(String(80))
    dataset_code: Mapped[str] = mapped_column(String(64))
    service_code: Mapped[str] = mapped_column(String(64))
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("data_access_grant.id"))
    purpose: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[int]  # the HTTP status answered
    outcome: Mapped[str] = mapped_column(String(40))  # ok, or the refusal's code
    items: Mapped[list[str]] = mapped_column(JSON)
    record_count: Mapped[int] = mapped_column(default=0)
    duration_ms: Mapped[float] = mapped_column(default=0.0)
    request_size: Mapped[int] = mapped_column(default=0)
    response_size: Mapped[int] = mapped_column(default=0)
    log_entry_id: Mapped[int | None] = mapped_column(ForeignKey("message_log.id"))


class ShareSubject(Base):
    """A data subject whose record a call returned: what "who used my data" reads."""

    __tablename__ = "data_share_subject"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(
        ForeignKey("data_share_call.id", ondelete="CASCADE"), index=True
    )
    subject: Mapped[str] = mapped_column(String(40), index=True)


class SubjectLink(Base):
    """A signed-in person and an identifier that is theirs (their personal ID number, their
    business's tax code), as verified at the counter or by the national identity service."""

    __tablename__ = "data_subject_link"
    __table_args__ = (UniqueConstraint("user_id", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    subject: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16))  # person_id, tax_code
    verified_at: Mapped[datetime]
