"""security: events, sources, alerts, cases

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 12:20:41.541096
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "security_case",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("assignee", sa.String(length=80), nullable=True),
        sa.Column("close_reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_case")),
    )
    with op.batch_alter_table("security_case", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_security_case_state"), ["state"], unique=False)

    op.create_table(
        "security_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=120), nullable=False),
        sa.Column("dataset", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=120), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("source_ip", sa.String(length=64), nullable=True),
        sa.Column("user_name", sa.String(length=120), nullable=True),
        sa.Column("host_name", sa.String(length=255), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("original", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_event")),
    )
    with op.batch_alter_table("security_event", schema=None) as batch_op:
        batch_op.create_index("ix_security_event_at", ["at"], unique=False)
        batch_op.create_index("ix_security_event_source_at", ["source", "at"], unique=False)
        batch_op.create_index("ix_security_event_source_ip", ["source_ip"], unique=False)

    op.create_table(
        "security_source",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=True),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("dropped", sa.BigInteger(), nullable=False),
        sa.Column("malformed", sa.BigInteger(), nullable=False),
        sa.Column("truncated", sa.BigInteger(), nullable=False),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_source")),
        sa.UniqueConstraint("name", name=op.f("uq_security_source_name")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_security_source_token_sha256")),
    )
    op.create_table(
        "security_suppression",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("group_key", sa.String(length=300), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_suppression")),
    )
    with op.batch_alter_table("security_suppression", schema=None) as batch_op:
        batch_op.create_index(
            "ix_security_suppression_rule", ["rule_id", "group_key"], unique=False
        )

    op.create_table(
        "security_alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("rule_title", sa.String(length=300), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("group_key", sa.String(length=300), nullable=False),
        sa.Column("source_ip", sa.String(length=64), nullable=True),
        sa.Column("target", sa.String(length=255), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("assignee", sa.String(length=80), nullable=True),
        sa.Column("close_reason", sa.Text(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("notified", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["security_case.id"], name=op.f("fk_security_alert_case_id_security_case")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_alert")),
    )
    with op.batch_alter_table("security_alert", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_security_alert_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            "ix_security_alert_group", ["rule_id", "group_key", "state"], unique=False
        )
        batch_op.create_index("ix_security_alert_state_level", ["state", "level"], unique=False)

    op.create_table(
        "security_action",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["security_alert.id"],
            name=op.f("fk_security_action_alert_id_security_alert"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["security_case.id"], name=op.f("fk_security_action_case_id_security_case")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_action")),
    )
    with op.batch_alter_table("security_action", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_security_action_alert_id"), ["alert_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_security_action_case_id"), ["case_id"], unique=False)

    op.create_table(
        "security_alert_event",
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["security_alert.id"],
            name=op.f("fk_security_alert_event_alert_id_security_alert"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["security_event.id"],
            name=op.f("fk_security_alert_event_event_id_security_event"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("alert_id", "event_id", name=op.f("pk_security_alert_event")),
    )
    with op.batch_alter_table("security_alert_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_security_alert_event_event_id"), ["event_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("security_alert_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_security_alert_event_event_id"))

    op.drop_table("security_alert_event")
    with op.batch_alter_table("security_action", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_security_action_case_id"))
        batch_op.drop_index(batch_op.f("ix_security_action_alert_id"))

    op.drop_table("security_action")
    with op.batch_alter_table("security_alert", schema=None) as batch_op:
        batch_op.drop_index("ix_security_alert_state_level")
        batch_op.drop_index("ix_security_alert_group")
        batch_op.drop_index(batch_op.f("ix_security_alert_case_id"))

    op.drop_table("security_alert")
    with op.batch_alter_table("security_suppression", schema=None) as batch_op:
        batch_op.drop_index("ix_security_suppression_rule")

    op.drop_table("security_suppression")
    op.drop_table("security_source")
    with op.batch_alter_table("security_event", schema=None) as batch_op:
        batch_op.drop_index("ix_security_event_source_ip")
        batch_op.drop_index("ix_security_event_source_at")
        batch_op.drop_index("ix_security_event_at")

    op.drop_table("security_event")
    with op.batch_alter_table("security_case", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_security_case_state"))

    op.drop_table("security_case")
