"""compliance: systems, assessor findings, mitigations

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "mlps_system",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("sa_code", sa.String(8), nullable=True),
        sa.Column("grading", sa.String, nullable=True),
        sa.Column("description", sa.String, nullable=True),
        sa.Column("parts", JSON, nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "mlps_finding",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("system", sa.String(255), nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("item_key", sa.String(32), nullable=False),
        sa.Column("object", sa.String(255), nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("evidence", sa.String, nullable=False),
        sa.Column("assessor", sa.String(255), nullable=True),
        sa.Column("source", sa.String(512), nullable=True),
        sa.Column("recorded", sa.DateTime(timezone=True), nullable=False),
        sa.Column("remediated", sa.Boolean, nullable=False),
        sa.Column("remediated_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_mlps_finding_system_unit", "mlps_finding", ["system", "unit"])
    op.create_table(
        "mlps_mitigation",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("system", sa.String(255), nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("object", sa.String(255), nullable=False),
        sa.Column("text", sa.String, nullable=False),
        sa.Column("lowers", sa.Boolean, nullable=False),
        sa.Column("assessor", sa.String(255), nullable=True),
        sa.Column("recorded", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_mlps_mitigation_system", "mlps_mitigation", ["system"])


def downgrade() -> None:
    op.drop_table("mlps_mitigation")
    op.drop_table("mlps_finding")
    op.drop_table("mlps_system")
