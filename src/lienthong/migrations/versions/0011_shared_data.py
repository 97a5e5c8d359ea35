"""shared data

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 12:27:02.326741
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "data_dataset",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("database", sa.String(length=64), nullable=False),
        sa.Column("owner_agency_id", sa.Integer(), nullable=False),
        sa.Column("name_vi", sa.String(length=300), nullable=False),
        sa.Column("name_en", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("field", sa.String(length=60), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("update_frequency", sa.String(length=32), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("key_item", sa.String(length=64), nullable=False),
        sa.Column("personal_data", sa.Boolean(), nullable=False),
        sa.Column("has_open_items", sa.Boolean(), nullable=False),
        sa.Column("subject_item", sa.String(length=64), nullable=True),
        sa.Column("subject_kind", sa.String(length=16), nullable=True),
        sa.Column("geometry", sa.Boolean(), nullable=False),
        sa.Column("illustrative", sa.Boolean(), nullable=False),
        sa.Column("search_text", sa.String(length=2000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_agency_id"], ["agency.id"], name=op.f("fk_data_dataset_owner_agency_id_agency")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_dataset")),
        sa.UniqueConstraint("code", name=op.f("uq_data_dataset_code")),
    )
    with op.batch_alter_table("data_dataset", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_data_dataset_database"), ["database"], unique=False)
        batch_op.create_index(batch_op.f("ix_data_dataset_field"), ["field"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_data_dataset_owner_agency_id"), ["owner_agency_id"], unique=False
        )

    op.create_table(
        "data_subject_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_data_subject_link_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_subject_link")),
        sa.UniqueConstraint(
            "user_id", "subject", name=op.f("uq_data_subject_link_user_id_subject")
        ),
    )
    with op.batch_alter_table("data_subject_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_data_subject_link_user_id"), ["user_id"], unique=False)

    op.create_table(
        "data_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.String(length=40), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["data_dataset.id"],
            name=op.f("fk_data_record_dataset_id_data_dataset"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_record")),
        sa.UniqueConstraint("dataset_id", "key", name=op.f("uq_data_record_dataset_id_key")),
    )
    with op.batch_alter_table("data_record", schema=None) as batch_op:
        batch_op.create_index("ix_data_record_seq", ["dataset_id", "seq"], unique=False)
        batch_op.create_index(batch_op.f("ix_data_record_subject"), ["subject"], unique=False)

    op.create_table(
        "data_service",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("provider", sa.String(length=12), nullable=False),
        sa.Column("upstream_url", sa.String(length=500), nullable=True),
        sa.Column("upstream_openapi", sa.JSON(), nullable=True),
        sa.Column("timeout_ms", sa.Integer(), nullable=False),
        sa.Column("max_response_bytes", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["data_dataset.id"],
            name=op.f("fk_data_service_dataset_id_data_dataset"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_service")),
        sa.UniqueConstraint("dataset_id", "code", name=op.f("uq_data_service_dataset_id_code")),
    )
    with op.batch_alter_table("data_service", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_data_service_dataset_id"), ["dataset_id"], unique=False
        )

    op.create_table(
        "data_access_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("owner_agency_id", sa.Integer(), nullable=False),
        sa.Column("consumer_agency_id", sa.Integer(), nullable=False),
        sa.Column("consumer_system", sa.String(length=80), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("frequency", sa.String(length=100), nullable=False),
        sa.Column("period_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_to", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["consumer_agency_id"],
            ["agency.id"],
            name=op.f("fk_data_access_request_consumer_agency_id_agency"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["user_account.id"],
            name=op.f("fk_data_access_request_decided_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_agency_id"],
            ["agency.id"],
            name=op.f("fk_data_access_request_owner_agency_id_agency"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["user_account.id"],
            name=op.f("fk_data_access_request_requested_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["data_service.id"],
            name=op.f("fk_data_access_request_service_id_data_service"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_access_request")),
    )
    with op.batch_alter_table("data_access_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_data_access_request_consumer_agency_id"),
            ["consumer_agency_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_data_access_request_service_id"), ["service_id"], unique=False
        )
        batch_op.create_index(
            "ix_data_request_owner", ["owner_agency_id", "state", "due_at"], unique=False
        )

    op.create_table(
        "data_access_grant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("owner_agency_id", sa.Integer(), nullable=False),
        sa.Column("consumer_agency_id", sa.Integer(), nullable=False),
        sa.Column("consumer_system", sa.String(length=80), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rate_per_minute", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("replaces_id", sa.Integer(), nullable=True),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["consumer_agency_id"],
            ["agency.id"],
            name=op.f("fk_data_access_grant_consumer_agency_id_agency"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_data_access_grant_created_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_agency_id"],
            ["agency.id"],
            name=op.f("fk_data_access_grant_owner_agency_id_agency"),
        ),
        sa.ForeignKeyConstraint(
            ["replaces_id"],
            ["data_access_grant.id"],
            name=op.f("fk_data_access_grant_replaces_id_data_access_grant"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["data_access_request.id"],
            name=op.f("fk_data_access_grant_request_id_data_access_request"),
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["data_service.id"],
            name=op.f("fk_data_access_grant_service_id_data_service"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_access_grant")),
    )
    with op.batch_alter_table("data_access_grant", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_data_access_grant_consumer_agency_id"),
            ["consumer_agency_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_data_access_grant_owner_agency_id"), ["owner_agency_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_data_access_grant_request_id"), ["request_id"], unique=False
        )
        batch_op.create_index(
            "ix_data_grant_current", ["service_id", "consumer_system", "current"], unique=False
        )

    op.create_table(
        "data_share_call",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("owner_agency_id", sa.Integer(), nullable=True),
        sa.Column("consumer_agency_id", sa.Integer(), nullable=True),
        sa.Column("consumer_system", sa.String(length=80), nullable=False),
        sa.Column("dataset_code", sa.String(length=64), nullable=False),
        sa.Column("service_code", sa.String(length=64), nullable=False),
        sa.Column("grant_id", sa.Integer(), nullable=True),
        sa.Column("purpose", sa.String(length=300), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Double(), nullable=False),
        sa.Column("request_size", sa.Integer(), nullable=False),
        sa.Column("response_size", sa.Integer(), nullable=False),
        sa.Column("log_entry_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["consumer_agency_id"],
            ["agency.id"],
            name=op.f("fk_data_share_call_consumer_agency_id_agency"),
        ),
        sa.ForeignKeyConstraint(
            ["grant_id"],
            ["data_access_grant.id"],
            name=op.f("fk_data_share_call_grant_id_data_access_grant"),
        ),
        sa.ForeignKeyConstraint(
            ["log_entry_id"],
            ["message_log.id"],
            name=op.f("fk_data_share_call_log_entry_id_message_log"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_agency_id"],
            ["agency.id"],
            name=op.f("fk_data_share_call_owner_agency_id_agency"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_share_call")),
    )
    with op.batch_alter_table("data_share_call", schema=None) as batch_op:
        batch_op.create_index("ix_data_call_consumer", ["consumer_agency_id", "at"], unique=False)
        batch_op.create_index("ix_data_call_owner", ["owner_agency_id", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_data_share_call_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_data_share_call_request_id"), ["request_id"], unique=False
        )

    op.create_table(
        "data_share_subject",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["data_share_call.id"],
            name=op.f("fk_data_share_subject_call_id_data_share_call"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_share_subject")),
    )
    with op.batch_alter_table("data_share_subject", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_data_share_subject_call_id"), ["call_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_data_share_subject_subject"), ["subject"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("data_share_subject", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_share_subject_subject"))
        batch_op.drop_index(batch_op.f("ix_data_share_subject_call_id"))

    op.drop_table("data_share_subject")
    with op.batch_alter_table("data_share_call", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_share_call_request_id"))
        batch_op.drop_index(batch_op.f("ix_data_share_call_at"))
        batch_op.drop_index("ix_data_call_owner")
        batch_op.drop_index("ix_data_call_consumer")

    op.drop_table("data_share_call")
    with op.batch_alter_table("data_access_grant", schema=None) as batch_op:
        batch_op.drop_index("ix_data_grant_current")
        batch_op.drop_index(batch_op.f("ix_data_access_grant_request_id"))
        batch_op.drop_index(batch_op.f("ix_data_access_grant_owner_agency_id"))
        batch_op.drop_index(batch_op.f("ix_data_access_grant_consumer_agency_id"))

    op.drop_table("data_access_grant")
    with op.batch_alter_table("data_access_request", schema=None) as batch_op:
        batch_op.drop_index("ix_data_request_owner")
        batch_op.drop_index(batch_op.f("ix_data_access_request_service_id"))
        batch_op.drop_index(batch_op.f("ix_data_access_request_consumer_agency_id"))

    op.drop_table("data_access_request")
    with op.batch_alter_table("data_service", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_service_dataset_id"))

    op.drop_table("data_service")
    with op.batch_alter_table("data_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_record_subject"))
        batch_op.drop_index("ix_data_record_seq")

    op.drop_table("data_record")
    with op.batch_alter_table("data_subject_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_subject_link_user_id"))

    op.drop_table("data_subject_link")
    with op.batch_alter_table("data_dataset", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_dataset_owner_agency_id"))
        batch_op.drop_index(batch_op.f("ix_data_dataset_field"))
        batch_op.drop_index(batch_op.f("ix_data_dataset_database"))

    op.drop_table("data_dataset")
