"""The clerk's records (Decree 30/2020): the lines of each agency's registers, and what the node
found when it checked the signatures of each PDF that arrived."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from lienthong.db import Base


class RegisterEntry(Base):
    """One line of an agency's outgoing or incoming register (sổ văn bản đi / đến) for a year.

    Outgoing: `number`/`notation` are the document's own (given by the register or by the
    agency's software); they are unique within the agency's year. Incoming: `number` is the
    arrival number the recipient's register gave, `notation` is empty."""

    __tablename__ = "register_entry"
    __table_args__ = (
        UniqueConstraint("agency_id", "book", "year", "number", "notation"),
        Index("ix_register_entry_book", "agency_id", "book", "year", "registered_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    book: Mapped[str] = mapped_column(String(12))  # outgoing, incoming
    year: Mapped[int]
    number: Mapped[str] = mapped_column(String(64))
    notation: Mapped[str] = mapped_column(String(128), default="")
    document_fk: Mapped[int] = mapped_column(
        ForeignKey("document.id", ondelete="CASCADE"), index=True
    )
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("delivery.id", ondelete="CASCADE"))
    registered_at: Mapped[datetime]


class PdfSignatureCheck(Base):
    """The validation of one PDF attachment's signatures at intake (exchange/pdfsign.py)."""

    __tablename__ = "pdf_signature_check"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_fk: Mapped[int] = mapped_column(
        ForeignKey("document.id", ondelete="CASCADE"), index=True
    )
    attachment_fk: Mapped[int] = mapped_column(
        ForeignKey("document_attachment.id", ondelete="CASCADE"), unique=True
    )
    state: Mapped[str] = mapped_column(String(8))  # green, amber, red
    reason_code: Mapped[str | None] = mapped_column(String(64))
    reason_vi: Mapped[str | None] = mapped_column(Text)
    reason_en: Mapped[str | None] = mapped_column(Text)
    # One object per signature: role (person, agency), signer, title, agency_code, signed_at,
    # intact, trusted, revoked, covers_whole, timestamp.
    signatures: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    checked_at: Mapped[datetime]


class CheckpointTimestamp(Base):
    """An RFC 3161 time-stamp over one signed checkpoint of the message log (exchange/tsa.py)."""

    __tablename__ = "log_checkpoint_timestamp"

    checkpoint_id: Mapped[int] = mapped_column(
        ForeignKey("message_log_checkpoint.id", ondelete="CASCADE"), primary_key=True
    )
    token: Mapped[str] = mapped_column(Text)  # the TimeStampToken, DER in base64
    gen_time: Mapped[datetime]  # the time the TSA vouches for
