"""clerk registers, pdf signatures and time-stamps

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 12:49:37.426008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "log_checkpoint_timestamp",
        sa.Column("checkpoint_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("gen_time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"],
            ["message_log_checkpoint.id"],
            name=op.f("fk_log_checkpoint_timestamp_checkpoint_id_message_log_checkpoint"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("checkpoint_id", name=op.f("pk_log_checkpoint_timestamp")),
    )
    op.create_table(
        "pdf_signature_check",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_fk", sa.Integer(), nullable=False),
        sa.Column("attachment_fk", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("reason_code", sa.String(length=64), nullable=True),
        sa.Column("reason_vi", sa.Text(), nullable=True),
        sa.Column("reason_en", sa.Text(), nullable=True),
        sa.Column("signatures", sa.JSON(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attachment_fk"],
            ["document_attachment.id"],
            name=op.f("fk_pdf_signature_check_attachment_fk_document_attachment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["document_fk"],
            ["document.id"],
            name=op.f("fk_pdf_signature_check_document_fk_document"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pdf_signature_check")),
        sa.UniqueConstraint("attachment_fk", name=op.f("uq_pdf_signature_check_attachment_fk")),
    )
    with op.batch_alter_table("pdf_signature_check", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pdf_signature_check_document_fk"), ["document_fk"], unique=False
        )

    op.create_table(
        "register_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("book", sa.String(length=12), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("notation", sa.String(length=128), nullable=False),
        sa.Column("document_fk", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agency.id"],
            name=op.f("fk_register_entry_agency_id_agency"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["delivery.id"],
            name=op.f("fk_register_entry_delivery_id_delivery"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["document_fk"],
            ["document.id"],
            name=op.f("fk_register_entry_document_fk_document"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_register_entry")),
        sa.UniqueConstraint(
            "agency_id",
            "book",
            "year",
            "number",
            "notation",
            name=op.f("uq_register_entry_agency_id_book_year_number_notation"),
        ),
    )
    with op.batch_alter_table("register_entry", schema=None) as batch_op:
        batch_op.create_index(
            "ix_register_entry_book", ["agency_id", "book", "year", "registered_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_register_entry_document_fk"), ["document_fk"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("register_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_register_entry_document_fk"))
        batch_op.drop_index("ix_register_entry_book")

    op.drop_table("register_entry")
    with op.batch_alter_table("pdf_signature_check", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pdf_signature_check_document_fk"))

    op.drop_table("pdf_signature_check")
    op.drop_table("log_checkpoint_timestamp")
