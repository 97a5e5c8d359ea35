"""network monitoring

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 12:27:49.259131
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "net_endpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("room", sa.String(length=120), nullable=False),
        sa.Column("model", sa.String(length=120), nullable=False),
        sa.Column("protocol", sa.String(length=8), nullable=False),
        sa.Column("address", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("illustrative", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["agency.id"], name=op.f("fk_net_endpoint_site_id_agency")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_net_endpoint")),
        sa.UniqueConstraint("site_id", "room", name="uq_net_endpoint_room"),
    )
    with op.batch_alter_table("net_endpoint", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_net_endpoint_site_id"), ["site_id"], unique=False)

    op.create_table(
        "net_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=60), nullable=False),
        sa.Column("circuit_id", sa.String(length=80), nullable=False),
        sa.Column("bandwidth_mbps", sa.Integer(), nullable=False),
        sa.Column("addresses", sa.JSON(), nullable=False),
        sa.Column("upstream_site_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("illustrative", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["agency.id"], name=op.f("fk_net_link_site_id_agency")
        ),
        sa.ForeignKeyConstraint(
            ["upstream_site_id"], ["agency.id"], name=op.f("fk_net_link_upstream_site_id_agency")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_net_link")),
        sa.UniqueConstraint("circuit_id", name=op.f("uq_net_link_circuit_id")),
    )
    with op.batch_alter_table("net_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_net_link_provider"), ["provider"], unique=False)
        batch_op.create_index(batch_op.f("ix_net_link_site_id"), ["site_id"], unique=False)

    op.create_table(
        "net_meeting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("host_site_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["host_site_id"], ["agency.id"], name=op.f("fk_net_meeting_host_site_id_agency")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_net_meeting")),
    )
    with op.batch_alter_table("net_meeting", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_net_meeting_starts_at"), ["starts_at"], unique=False)

    op.create_table(
        "net_meeting_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("readiness", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["net_endpoint.id"],
            name=op.f("fk_net_meeting_log_endpoint_id_net_endpoint"),
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["net_meeting.id"],
            name=op.f("fk_net_meeting_log_meeting_id_net_meeting"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_net_meeting_log")),
    )
    with op.batch_alter_table("net_meeting_log", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_net_meeting_log_meeting_id"), ["meeting_id"], unique=False
        )

    op.create_table(
        "net_meeting_seat",
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("readiness", sa.String(length=20), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["net_endpoint.id"],
            name=op.f("fk_net_meeting_seat_endpoint_id_net_endpoint"),
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["net_meeting.id"],
            name=op.f("fk_net_meeting_seat_meeting_id_net_meeting"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("meeting_id", "endpoint_id", name=op.f("pk_net_meeting_seat")),
    )
    with op.batch_alter_table("net_meeting_seat", schema=None) as batch_op:
        batch_op.create_index(
            "ix_net_meeting_seat_booking", ["endpoint_id", "starts_at", "ends_at"], unique=False
        )

    op.create_table(
        "net_target",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=True),
        sa.Column("endpoint_id", sa.Integer(), nullable=True),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=60), nullable=False),
        sa.Column("module", sa.String(length=8), nullable=False),
        sa.Column("address", sa.String(length=255), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("status_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consecutive_down", sa.Integer(), nullable=False),
        sa.Column("consecutive_up", sa.Integer(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("last_probe_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_rtt_ms", sa.Double(), nullable=True),
        sa.Column("last_loss_pct", sa.Double(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["net_endpoint.id"],
            name=op.f("fk_net_target_endpoint_id_net_endpoint"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["net_link.id"],
            name=op.f("fk_net_target_link_id_net_link"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["agency.id"], name=op.f("fk_net_target_site_id_agency")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_net_target")),
        sa.UniqueConstraint("endpoint_id", name=op.f("uq_net_target_endpoint_id")),
        sa.UniqueConstraint("link_id", name=op.f("uq_net_target_link_id")),
    )
    with op.batch_alter_table("net_target", schema=None) as batch_op:
        batch_op.create_index("ix_net_target_due", ["enabled", "next_due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_net_target_site_id"), ["site_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_net_target_status"), ["status"], unique=False)

    op.create_table(
        "net_alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=20), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=120), nullable=True),
        sa.Column("ack_note", sa.Text(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notified_severity", sa.String(length=10), nullable=True),
        sa.ForeignKeyConstraint(
            ["site_id"], ["agency.id"], name=op.f("fk_net_alert_site_id_agency")
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["net_target.id"],
            name=op.f("fk_net_alert_target_id_net_target"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_net_alert")),
    )
    with op.batch_alter_table("net_alert", schema=None) as batch_op:
        batch_op.create_index("ix_net_alert_open", ["target_id", "rule", "closed_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_net_alert_site_id"), ["site_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_net_alert_state"), ["state"], unique=False)

    op.create_table(
        "net_probe_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("rtt_ms", sa.Double(), nullable=True),
        sa.Column("loss_pct", sa.Double(), nullable=True),
        sa.Column("detail", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["net_target.id"],
            name=op.f("fk_net_probe_result_target_id_net_target"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_net_probe_result")),
    )
    with op.batch_alter_table("net_probe_result", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_net_probe_result_at"), ["at"], unique=False)
        batch_op.create_index("ix_net_probe_result_target_at", ["target_id", "at"], unique=False)

    op.create_table(
        "net_probe_rollup",
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=4), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("probes", sa.Integer(), nullable=False),
        sa.Column("up", sa.Integer(), nullable=False),
        sa.Column("rtt_sum", sa.Double(), nullable=False),
        sa.Column("rtt_max", sa.Double(), nullable=False),
        sa.Column("loss_sum", sa.Double(), nullable=False),
        sa.Column("rtt_buckets", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["net_target.id"],
            name=op.f("fk_net_probe_rollup_target_id_net_target"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("target_id", "period", "start", name=op.f("pk_net_probe_rollup")),
    )


def downgrade() -> None:
    op.drop_table("net_probe_rollup")
    with op.batch_alter_table("net_probe_result", schema=None) as batch_op:
        batch_op.drop_index("ix_net_probe_result_target_at")
        batch_op.drop_index(batch_op.f("ix_net_probe_result_at"))

    op.drop_table("net_probe_result")
    with op.batch_alter_table("net_alert", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_net_alert_state"))
        batch_op.drop_index(batch_op.f("ix_net_alert_site_id"))
        batch_op.drop_index("ix_net_alert_open")

    op.drop_table("net_alert")
    with op.batch_alter_table("net_target", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_net_target_status"))
        batch_op.drop_index(batch_op.f("ix_net_target_site_id"))
        batch_op.drop_index("ix_net_target_due")

    op.drop_table("net_target")
    with op.batch_alter_table("net_meeting_seat", schema=None) as batch_op:
        batch_op.drop_index("ix_net_meeting_seat_booking")

    op.drop_table("net_meeting_seat")
    with op.batch_alter_table("net_meeting_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_net_meeting_log_meeting_id"))

    op.drop_table("net_meeting_log")
    with op.batch_alter_table("net_meeting", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_net_meeting_starts_at"))

    op.drop_table("net_meeting")
    with op.batch_alter_table("net_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_net_link_site_id"))
        batch_op.drop_index(batch_op.f("ix_net_link_provider"))

    op.drop_table("net_link")
    with op.batch_alter_table("net_endpoint", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_net_endpoint_site_id"))

    op.drop_table("net_endpoint")
