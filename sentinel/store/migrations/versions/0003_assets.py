"""asset inventory: observed devices and declared assets

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "observed_device",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(64), nullable=False, unique=True),
        sa.Column("macs", JSON, nullable=False),
        sa.Column("ips", JSON, nullable=False),
        sa.Column("vendor", sa.String(255), nullable=True),
        sa.Column("first_seen", sa.Float, nullable=False),
        sa.Column("last_seen", sa.Float, nullable=False),
        sa.Column("protocols", JSON, nullable=False),
        sa.Column("server_ports", JSON, nullable=False),
        sa.Column("client_ports", JSON, nullable=False),
        sa.Column("evidence", JSON, nullable=False),
        sa.Column("role", sa.String(32), nullable=True),
        sa.Column("roles", JSON, nullable=False),
        sa.Column("interval", sa.Float, nullable=True),
        sa.Column("events", sa.Integer, nullable=False),
        sa.Column("run_id", sa.Integer, nullable=True),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_observed_device_last_seen", "observed_device", ["last_seen"])
    op.create_table(
        "asset",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("owner", sa.String(255), nullable=True),
        sa.Column("location", sa.String(255), nullable=True),
        sa.Column("system", sa.String(255), nullable=True),
        sa.Column("layer", sa.String(16), nullable=True),
        sa.Column("criticality", sa.Integer, nullable=True),
        sa.Column("protection_level", sa.Integer, nullable=True),
        sa.Column("mac", sa.String(17), nullable=True),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("notes", sa.String, nullable=True),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_asset_mac", "asset", ["mac"])
    op.create_index("ix_asset_ip", "asset", ["ip"])


def downgrade() -> None:
    op.drop_table("asset")
    op.drop_table("observed_device")
