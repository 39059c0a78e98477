"""The redeemed e-mail links: each signed link proves an address's owner once (R-13).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from privateline.storage.types import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "email_link_redemption",
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("subject_kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("redeemed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_email_link_redemption")),
    )
    op.create_index(op.f("ix_email_link_redemption_subject"), "email_link_redemption", ["subject"])


def downgrade() -> None:
    op.drop_index(op.f("ix_email_link_redemption_subject"), table_name="email_link_redemption")
    op.drop_table("email_link_redemption")
