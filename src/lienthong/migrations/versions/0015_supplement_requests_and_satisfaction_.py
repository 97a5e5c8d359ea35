"""supplement requests and satisfaction ratings

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 12:35:16.736562
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dossier_rating",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("satisfied", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["dossier_id"],
            ["dossier.id"],
            name=op.f("fk_dossier_rating_dossier_id_dossier"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossier_rating")),
        sa.UniqueConstraint("dossier_id", name=op.f("uq_dossier_rating_dossier_id")),
    )
    with op.batch_alter_table("dossier_pause", schema=None) as batch_op:
        batch_op.add_column(sa.Column("papers", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("respond_by", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dossier_pause", schema=None) as batch_op:
        batch_op.drop_column("reviewed_at")
        batch_op.drop_column("answered_at")
        batch_op.drop_column("respond_by")
        batch_op.drop_column("papers")

    op.drop_table("dossier_rating")
