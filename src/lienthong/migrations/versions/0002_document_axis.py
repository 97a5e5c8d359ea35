"""document axis

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 05:07:58.313192
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "message_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("direction", sa.String(length=4), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("sender_code", sa.String(length=64), nullable=False),
        sa.Column("document_id", sa.String(length=255), nullable=False),
        sa.Column("package_sha256", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_log")),
        sa.UniqueConstraint("entry_hash", name=op.f("uq_message_log_entry_hash")),
    )
    op.create_table(
        "document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.String(length=255), nullable=False),
        sa.Column("package_sha256", sa.String(length=64), nullable=False),
        sa.Column("stored_sha256", sa.String(length=64), nullable=False),
        sa.Column("package_size", sa.Integer(), nullable=False),
        sa.Column("business_type", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("code_number", sa.String(length=64), nullable=True),
        sa.Column("code_notation", sa.String(length=128), nullable=True),
        sa.Column("type_name", sa.String(length=128), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("promulgation_date", sa.Date(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("signer_name", sa.String(length=200), nullable=True),
        sa.Column("signature", sa.String(length=16), nullable=False),
        sa.Column("signer_subject", sa.String(length=500), nullable=True),
        sa.Column("replaced_by_id", sa.Integer(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("intake_answer", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["replaced_by_id"], ["document.id"], name=op.f("fk_document_replaced_by_id_document")
        ),
        sa.ForeignKeyConstraint(
            ["sender_id"], ["agency.id"], name=op.f("fk_document_sender_id_agency")
        ),
        sa.ForeignKeyConstraint(
            ["target_id"], ["document.id"], name=op.f("fk_document_target_id_document")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document")),
        sa.UniqueConstraint(
            "sender_id", "document_id", name=op.f("uq_document_sender_id_document_id")
        ),
    )
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_document_received_at"), ["received_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_document_sender_id"), ["sender_id"], unique=False)

    op.create_table(
        "message_log_checkpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["message_log.id"],
            name=op.f("fk_message_log_checkpoint_entry_id_message_log"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_log_checkpoint")),
    )
    op.create_table(
        "delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_fk", sa.Integer(), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=False),
        sa.Column("addressed_code", sa.String(length=64), nullable=False),
        sa.Column("route", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("status_code", sa.String(length=2), nullable=True),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pending_request", sa.String(length=2), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acked", sa.String(length=12), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_fk"],
            ["document.id"],
            name=op.f("fk_delivery_document_fk_document"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"], ["agency.id"], name=op.f("fk_delivery_recipient_id_agency")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery")),
        sa.UniqueConstraint(
            "document_fk", "recipient_id", name=op.f("uq_delivery_document_fk_recipient_id")
        ),
    )
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_delivery_document_fk"), ["document_fk"], unique=False)
        batch_op.create_index("ix_delivery_inbox", ["recipient_id", "delivered_at"], unique=False)

    op.create_table(
        "document_attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_fk", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("content_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=True),
        sa.Column("content_type", sa.String(length=128), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("blob_sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_fk"],
            ["document.id"],
            name=op.f("fk_document_attachment_document_fk_document"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_attachment")),
    )
    with op.batch_alter_table("document_attachment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_document_attachment_document_fk"), ["document_fk"], unique=False
        )

    op.create_table(
        "delivery_status",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=2), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("by_agency_id", sa.Integer(), nullable=True),
        sa.Column("staff", sa.JSON(), nullable=True),
        sa.Column("package_sha256", sa.String(length=64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acked", sa.String(length=12), nullable=True),
        sa.ForeignKeyConstraint(
            ["by_agency_id"], ["agency.id"], name=op.f("fk_delivery_status_by_agency_id_agency")
        ),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["delivery.id"],
            name=op.f("fk_delivery_status_delivery_id_delivery"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_status")),
    )
    with op.batch_alter_table("delivery_status", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_delivery_status_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_delivery_status_delivery_id"), ["delivery_id"], unique=False
        )

    with op.batch_alter_table("system_credential", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sealed_secret", sa.String(length=500), nullable=True))


def downgrade() -> None:

    with op.batch_alter_table("system_credential", schema=None) as batch_op:
        batch_op.drop_column("sealed_secret")

    with op.batch_alter_table("delivery_status", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_status_delivery_id"))
        batch_op.drop_index(batch_op.f("ix_delivery_status_at"))

    op.drop_table("delivery_status")
    with op.batch_alter_table("document_attachment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_document_attachment_document_fk"))

    op.drop_table("document_attachment")
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_inbox")
        batch_op.drop_index(batch_op.f("ix_delivery_document_fk"))

    op.drop_table("delivery")
    op.drop_table("message_log_checkpoint")
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_document_sender_id"))
        batch_op.drop_index(batch_op.f("ix_document_received_at"))

    op.drop_table("document")
    op.drop_table("message_log")
