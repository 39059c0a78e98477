"""The phones' SIP registrations, shared by every SIP process of an instance (DEV-4).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from privateline.storage.types import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sip_binding",
        sa.Column("device_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("slot", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("contact", sa.Text(), nullable=False),
        sa.Column("source_host", sa.Text(), nullable=False),
        sa.Column("source_port", sa.Integer(), nullable=False),
        sa.Column("transport", sa.String(length=8), nullable=False),
        sa.Column("call_id", sa.Text(), nullable=False),
        sa.Column("cseq", sa.BigInteger(), nullable=False),
        sa.Column("q", sa.Float(), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("registered_at", UTCDateTime(), nullable=False),
        sa.Column("user_agent", sa.Text(), nullable=True),
        # A device's bindings go with it (DEV-4, R-4).
        sa.ForeignKeyConstraint(
            ["device_id"], ["device.id"], name=op.f("fk_sip_binding_device_id_device"), ondelete="CASCADE"
        ),
        # The lookup of one phone's bindings is a range scan of the primary key ...
        sa.PrimaryKeyConstraint("device_id", "slot", name=op.f("pk_sip_binding")),
    )
    # ... and the expiry sweep one of this index.
    op.create_index("ix_sip_binding_expires_at", "sip_binding", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_sip_binding_expires_at", table_name="sip_binding")
    op.drop_table("sip_binding")
