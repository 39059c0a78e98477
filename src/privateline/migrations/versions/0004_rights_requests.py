"""Rights requests: one row per request, its state and deadline.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from privateline.storage.types import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rights_request",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("subject_kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rights_request")),
    )
    op.create_index(op.f("ix_rights_request_subject"), "rights_request", ["subject"])
    op.create_index(op.f("ix_rights_request_state"), "rights_request", ["state"])
    op.create_index(op.f("ix_rights_request_due_at"), "rights_request", ["due_at"])


def downgrade() -> None:
    op.drop_table("rights_request")
