"""The outbox of notices to recipients of rectifications, erasures and restrictions (Art. 19, R-5).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from privateline.storage.types import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recipient_notice",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("recipient", sa.String(length=64), nullable=False),
        sa.Column("subject_kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("activities", sa.JSON(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recipient_notice")),
    )
    op.create_index(op.f("ix_recipient_notice_recipient"), "recipient_notice", ["recipient"])
    op.create_index(op.f("ix_recipient_notice_subject"), "recipient_notice", ["subject"])
    op.create_index(op.f("ix_recipient_notice_state"), "recipient_notice", ["state"])
    op.create_index(op.f("ix_recipient_notice_next_attempt_at"), "recipient_notice", ["next_attempt_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_recipient_notice_next_attempt_at"), table_name="recipient_notice")
    op.drop_index(op.f("ix_recipient_notice_state"), table_name="recipient_notice")
    op.drop_index(op.f("ix_recipient_notice_subject"), table_name="recipient_notice")
    op.drop_index(op.f("ix_recipient_notice_recipient"), table_name="recipient_notice")
    op.drop_table("recipient_notice")
