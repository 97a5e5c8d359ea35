"""trust and interoperability of the axis

Revision ID: 0010
Revises: 0005
Create Date: 2026-12-02 20:29:45.000392
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "blob_gc_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Integer(), nullable=False),
        sa.Column("deleted_bytes", sa.Integer(), nullable=False),
        sa.Column("recent", sa.Integer(), nullable=False),
        sa.Column("temporary", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blob_gc_run")),
    )
    op.create_table(
        "agency_notation",
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("abbreviation", sa.String(length=30), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agency.id"],
            name=op.f("fk_agency_notation_agency_id_agency"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agency_id", name=op.f("pk_agency_notation")),
    )
    op.create_table(
        "register_counter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("book", sa.String(length=12), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agency.id"],
            name=op.f("fk_register_counter_agency_id_agency"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_register_counter")),
        sa.UniqueConstraint(
            "agency_id", "year", "book", name=op.f("uq_register_counter_agency_id_year_book")
        ),
    )
    with op.batch_alter_table("delivery_status", schema=None) as batch_op:
        batch_op.add_column(sa.Column("received_sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("signature", sa.String(length=16), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_delivery_status_received_sha256"), ["received_sha256"], unique=False
        )

    with op.batch_alter_table("system_credential", schema=None) as batch_op:
        batch_op.add_column(sa.Column("vdxp_max_skew_seconds", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("vdxp_clock_zone", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("system_credential", schema=None) as batch_op:
        batch_op.drop_column("vdxp_clock_zone")
        batch_op.drop_column("vdxp_max_skew_seconds")

    with op.batch_alter_table("delivery_status", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_status_received_sha256"))
        batch_op.drop_column("signature")
        batch_op.drop_column("received_sha256")

    op.drop_table("register_counter")
    op.drop_table("agency_notation")
    op.drop_table("blob_gc_run")
