"""Peers this node talks to and the packages waiting to be handed to them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lienthong.db import Base


class Peer(Base):
    """Another node: its address, its certificate (under the federation's anchor) and how the
    link is doing. `national` marks the national axis, the route to every node that is not a
    peer."""

    __tablename__ = "federation_peer"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(35), unique=True)
    base_url: Mapped[str] = mapped_column(String(500))
    certificate: Mapped[str] = mapped_column(Text)  # PEM chain, leaf first
    national: Mapped[bool] = mapped_column(default=False)
    added_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(8), default="unknown")  # up, down, unknown
    last_success_at: Mapped[datetime | None]
    last_failure_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    failures: Mapped[int] = mapped_column(default=0)  # in a row
    retry_at: Mapped[datetime | None]  # no hand-over is tried before this
    # One forwarder at a time per peer keeps the queue's order; the lease lapses after a crash.
    lease_owner: Mapped[str | None] = mapped_column(String(120))
    lease_until: Mapped[datetime | None]
    # Directory: the last version applied from this peer's feed, and ours last pushed to it.
    directory_version: Mapped[int] = mapped_column(default=0)
    directory_synced_at: Mapped[datetime | None]
    directory_error: Mapped[str | None] = mapped_column(Text)
    pushed_version: Mapped[int] = mapped_column(default=0)


class Outbound(Base):
    """A package (document or status) waiting for, or past, its hand-over to one peer."""

    __tablename__ = "federation_outbound"
    __table_args__ = (Index("ix_federation_outbound_queue", "peer_code", "state", "priority"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # edoc, status
    peer_code: Mapped[str] = mapped_column(String(35))  # the next hop
    document_fk: Mapped[int] = mapped_column(
        ForeignKey("document.id", ondelete="CASCADE"), index=True
    )
    blob_sha256: Mapped[str] = mapped_column(String(64))  # the package, byte for byte
    size: Mapped[int]
    origin_code: Mapped[str] = mapped_column(String(64))  # edXML From/OrganId
    document_id: Mapped[str] = mapped_column(String(255))
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)  # codes this hop is for
    priority: Mapped[int] = mapped_column(default=0)  # 3 hỏa tốc … 0 thường: higher leaves first
    trace: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(8), default="queued")  # queued, sent, dead
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    # The peer's signed answer, kept as proof of hand-over (re-verifiable: see transport).
    receipt: Mapped[dict[str, Any] | None] = mapped_column(JSON)


BLOB_COLUMNS = (Outbound.blob_sha256,)  # the packages waiting for or handed to a peer
