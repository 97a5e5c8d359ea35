"""one-stop services

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 05:45:26.401911
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "dossier_counter",
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_dossier_counter_agency_id_agency")
        ),
        sa.PrimaryKeyConstraint("agency_id", "day", name=op.f("pk_dossier_counter")),
    )
    op.create_table(
        "kpi_count",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("measure", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_kpi_count_agency_id_agency")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_count")),
        sa.UniqueConstraint(
            "agency_id", "day", "measure", name=op.f("uq_kpi_count_agency_id_day_measure")
        ),
    )
    op.create_table(
        "procedure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("national_code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("field", sa.String(length=60), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=True),
        sa.Column("online_level", sa.String(length=16), nullable=False),
        sa.Column("duration", sa.Double(), nullable=False),
        sa.Column("duration_unit", sa.String(length=16), nullable=False),
        sa.Column("fee_vnd", sa.Integer(), nullable=False),
        sa.Column("fee_note", sa.Text(), nullable=True),
        sa.Column("papers", sa.JSON(), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("search_text", sa.String(length=2000), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_procedure_agency_id_agency")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_procedure")),
        sa.UniqueConstraint("code", name=op.f("uq_procedure_code")),
    )
    with op.batch_alter_table("procedure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_procedure_field"), ["field"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_procedure_national_code"), ["national_code"], unique=False
        )

    op.create_table(
        "dossier",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("procedure_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("applicant_kind", sa.String(length=12), nullable=False),
        sa.Column("applicant_name", sa.String(length=200), nullable=False),
        sa.Column("applicant_id_number", sa.String(length=40), nullable=True),
        sa.Column("applicant_phone", sa.String(length=30), nullable=True),
        sa.Column("applicant_email", sa.String(length=200), nullable=True),
        sa.Column("applicant_address", sa.String(length=300), nullable=True),
        sa.Column("citizen_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=8), nullable=True),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("handling_agency_id", sa.Integer(), nullable=True),
        sa.Column("fee_vnd", sa.Integer(), nullable=False),
        sa.Column("payment_state", sa.String(length=8), nullable=False),
        sa.Column("paid_online", sa.Boolean(), nullable=False),
        sa.Column("digitised", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agency.id"], name=op.f("fk_dossier_agency_id_agency")
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["user_account.id"], name=op.f("fk_dossier_assignee_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"], ["user_account.id"], name=op.f("fk_dossier_citizen_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["handling_agency_id"], ["agency.id"], name=op.f("fk_dossier_handling_agency_id_agency")
        ),
        sa.ForeignKeyConstraint(
            ["procedure_id"], ["procedure.id"], name=op.f("fk_dossier_procedure_id_procedure")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossier")),
        sa.UniqueConstraint("code", name=op.f("uq_dossier_code")),
    )
    with op.batch_alter_table("dossier", schema=None) as batch_op:
        batch_op.create_index("ix_dossier_citizen", ["citizen_id", "created_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_dossier_handling_agency_id"), ["handling_agency_id"], unique=False
        )
        batch_op.create_index("ix_dossier_open", ["status", "due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_dossier_procedure_id"), ["procedure_id"], unique=False)
        batch_op.create_index("ix_dossier_queue", ["agency_id", "status", "due_at"], unique=False)

    op.create_table(
        "dossier_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=255), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["user_account.id"], name=op.f("fk_dossier_event_actor_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["dossier_id"],
            ["dossier.id"],
            name=op.f("fk_dossier_event_dossier_id_dossier"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossier_event")),
    )
    with op.batch_alter_table("dossier_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dossier_event_dossier_id"), ["dossier_id"], unique=False
        )

    op.create_table(
        "dossier_handover",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("from_unit", sa.String(length=255), nullable=False),
        sa.Column("to_unit", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("step_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=8), nullable=True),
        sa.ForeignKeyConstraint(
            ["dossier_id"],
            ["dossier.id"],
            name=op.f("fk_dossier_handover_dossier_id_dossier"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossier_handover")),
    )
    with op.batch_alter_table("dossier_handover", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dossier_handover_dossier_id"), ["dossier_id"], unique=False
        )

    op.create_table(
        "dossier_paper",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=True),
        sa.Column("content_type", sa.String(length=100), nullable=True),
        sa.Column("blob_sha256", sa.String(length=64), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("digitised", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dossier_id"],
            ["dossier.id"],
            name=op.f("fk_dossier_paper_dossier_id_dossier"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossier_paper")),
    )
    with op.batch_alter_table("dossier_paper", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dossier_paper_dossier_id"), ["dossier_id"], unique=False
        )

    op.create_table(
        "dossier_pause",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dossier_id"],
            ["dossier.id"],
            name=op.f("fk_dossier_pause_dossier_id_dossier"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossier_pause")),
    )
    with op.batch_alter_table("dossier_pause", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dossier_pause_dossier_id"), ["dossier_id"], unique=False
        )

    op.create_table(
        "payment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("gateway", sa.String(length=32), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("transaction_id", sa.String(length=64), nullable=True),
        sa.Column("receipt_number", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dossier_id"],
            ["dossier.id"],
            name=op.f("fk_payment_dossier_id_dossier"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment")),
        sa.UniqueConstraint("reference", name=op.f("uq_payment_reference")),
    )
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_dossier_id"), ["dossier_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_dossier_id"))

    op.drop_table("payment")
    with op.batch_alter_table("dossier_pause", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dossier_pause_dossier_id"))

    op.drop_table("dossier_pause")
    with op.batch_alter_table("dossier_paper", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dossier_paper_dossier_id"))

    op.drop_table("dossier_paper")
    with op.batch_alter_table("dossier_handover", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dossier_handover_dossier_id"))

    op.drop_table("dossier_handover")
    with op.batch_alter_table("dossier_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dossier_event_dossier_id"))

    op.drop_table("dossier_event")
    with op.batch_alter_table("dossier", schema=None) as batch_op:
        batch_op.drop_index("ix_dossier_queue")
        batch_op.drop_index(batch_op.f("ix_dossier_procedure_id"))
        batch_op.drop_index("ix_dossier_open")
        batch_op.drop_index(batch_op.f("ix_dossier_handling_agency_id"))
        batch_op.drop_index("ix_dossier_citizen")

    op.drop_table("dossier")
    with op.batch_alter_table("procedure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_procedure_national_code"))
        batch_op.drop_index(batch_op.f("ix_procedure_field"))

    op.drop_table("procedure")
    op.drop_table("kpi_count")
    op.drop_table("dossier_counter")
