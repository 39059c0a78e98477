"""Subject rights that outlive a request: the erasure journal, restrictions, objections.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from privateline.storage.types import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "erasure_journal",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject_kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("stores", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasure_journal")),
    )
    with op.batch_alter_table("erasure_journal", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_erasure_journal_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_erasure_journal_subject"), ["subject"], unique=False)

    op.create_table(
        "objection",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject_kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("activity", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("withdrawn_at", UTCDateTime(), nullable=True),
        sa.Column("request_id", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_objection")),
    )
    with op.batch_alter_table("objection", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_objection_subject"), ["subject"], unique=False)

    op.create_table(
        "restriction",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject_kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("activity", sa.String(length=64), nullable=False),
        sa.Column("since", UTCDateTime(), nullable=False),
        sa.Column("lifted_at", UTCDateTime(), nullable=True),
        sa.Column("request_id", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restriction")),
    )
    with op.batch_alter_table("restriction", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_restriction_subject"), ["subject"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("restriction", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_restriction_subject"))

    op.drop_table("restriction")
    with op.batch_alter_table("objection", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_objection_subject"))

    op.drop_table("objection")
    with op.batch_alter_table("erasure_journal", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_erasure_journal_subject"))
        batch_op.drop_index(batch_op.f("ix_erasure_journal_at"))

    op.drop_table("erasure_journal")
