"""alerts and their evidence links

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "alert",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("run.id"), nullable=False),
        sa.Column("rule", sa.String(128), nullable=False),
        sa.Column("title", sa.String(512), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("layer", sa.String(16), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("attack", JSON, nullable=False),
        sa.Column("controls", JSON, nullable=False),
        sa.Column("src", sa.String(64), nullable=True),
        sa.Column("dst", sa.String(64), nullable=True),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("first_seen", sa.Float, nullable=False),
        sa.Column("last_seen", sa.Float, nullable=False),
        sa.Column("group_key", JSON, nullable=False),
        sa.Column("evidence", JSON, nullable=False),
        sa.Column("falsepositives", JSON, nullable=False),
    )
    op.create_index("ix_alert_run_id", "alert", ["run_id"])
    op.create_index("ix_alert_level", "alert", ["level"])
    op.create_index("ix_alert_run_rule", "alert", ["run_id", "rule"])
    op.create_table(
        "alert_evidence",
        sa.Column("alert_id", sa.Integer, sa.ForeignKey("alert.id"), primary_key=True),
        sa.Column("event_id", sa.Integer, sa.ForeignKey("event.id"), primary_key=True),
    )
    op.create_index("ix_alert_evidence_event_id", "alert_evidence", ["event_id"])


def downgrade() -> None:
    op.drop_table("alert_evidence")
    op.drop_table("alert")
