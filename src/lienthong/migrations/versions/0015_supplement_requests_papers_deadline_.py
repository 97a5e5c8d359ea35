"""supplement requests: papers, deadline, answer

Revision ID: 0015
Revises: 0010
Create Date: 2026-12-03 12:17:37.980888
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
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
