"""ledger: hash-chained entries and signed checkpoints

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # seq is the primary key (not an autoincrement id): the chain's order is its own, assigned under the ledger's
    # write lock, and a second row with the same seq can never be stored
    op.create_table(
        "ledger_entry",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("ts", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("ref", sa.String(255), nullable=True),
        sa.Column("payload", sa.Text, nullable=False),  # canonical JSON text: hashed exactly as stored
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "ledger_checkpoint",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("ts", sa.String(40), nullable=False),
        sa.Column("key_fingerprint", sa.String(64), nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
    )
    op.create_index("ix_ledger_checkpoint_seq", "ledger_checkpoint", ["seq"])


def downgrade() -> None:
    op.drop_table("ledger_checkpoint")
    op.drop_table("ledger_entry")
