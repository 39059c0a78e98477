"""Device cloud: factory records, check-in reports, nicknames, information profiles, updates.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from privateline.storage.types import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("number", sa.String(length=15), nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("mac", sa.String(length=12), nullable=False),
        sa.Column("product", sa.String(length=64), nullable=False),
        sa.Column("sip_ha1_md5", sa.String(length=32), nullable=False),
        sa.Column("sip_ha1_sha256", sa.String(length=64), nullable=False),
        sa.Column("portal_hash", sa.String(length=128), nullable=False),
        sa.Column("internal_ip", sa.String(length=45), nullable=True),
        sa.Column("software_version", sa.String(length=64), nullable=True),
        sa.Column("voip_on", sa.Boolean(), nullable=False),
        sa.Column("info_on", sa.Boolean(), nullable=False),
        sa.Column("messaging_on", sa.Boolean(), nullable=False),
        sa.Column("in_service", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device")),
        sa.UniqueConstraint("mac", name=op.f("uq_device_mac")),
        sa.UniqueConstraint("number", name=op.f("uq_device_number")),
        sa.UniqueConstraint("serial", name=op.f("uq_device_serial")),
    )
    op.create_table(
        "firmware",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("product", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=512), nullable=False),
        sa.Column("notes_en", sa.Text(), nullable=False),
        sa.Column("notes_de", sa.Text(), nullable=False),
        sa.Column("notes_nl", sa.Text(), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_firmware")),
        sa.UniqueConstraint("product", "version", name=op.f("uq_firmware_product")),
    )
    op.create_table(
        "device_report",
        sa.Column("device_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("reported_at", UTCDateTime(), nullable=False),
        sa.Column("private_ip", sa.String(length=45), nullable=False),
        sa.Column("private_port", sa.Integer(), nullable=False),
        sa.Column("public_network", sa.String(length=64), nullable=False),
        sa.Column("device_name", sa.String(length=64), nullable=False),
        sa.Column("software_version", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["device.id"], name=op.f("fk_device_report_device_id_device"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_device_report")),
    )
    with op.batch_alter_table("device_report", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_report_public_network"), ["public_network"], unique=False)
        batch_op.create_index(batch_op.f("ix_device_report_reported_at"), ["reported_at"], unique=False)

    op.create_table(
        "info_profile",
        sa.Column("device_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("city", sa.String(length=80), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["device.id"], name=op.f("fk_info_profile_device_id_device"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_info_profile")),
    )
    op.create_table(
        "update_decision",
        sa.Column("device_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("decision", sa.String(length=8), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["device.id"], name=op.f("fk_update_decision_device_id_device"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_update_decision")),
    )
    op.create_table(
        "voip_nickname",
        sa.Column("device_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("nickname", sa.String(length=40), nullable=False),
        sa.Column("set_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["device.id"], name=op.f("fk_voip_nickname_device_id_device"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_voip_nickname")),
    )


def downgrade() -> None:
    op.drop_table("voip_nickname")
    op.drop_table("update_decision")
    op.drop_table("info_profile")
    with op.batch_alter_table("device_report", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_report_reported_at"))
        batch_op.drop_index(batch_op.f("ix_device_report_public_network"))

    op.drop_table("device_report")
    op.drop_table("firmware")
    op.drop_table("device")
