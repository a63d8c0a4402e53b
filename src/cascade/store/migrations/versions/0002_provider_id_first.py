"""provider ids lead their indexes

Reports are looked up by `channel = ? AND provider_message_id IN (...)`. With the
channel first, a PostgreSQL planner without fresh statistics (autovacuum behind, or off)
takes the channel alone as the index condition and filters every row of the channel;
with the provider id first it can only look each id up.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 00:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _provider_refs(name: str, *key: str) -> None:
    op.create_table(
        name,
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("provider_message_id", sa.String(length=128), nullable=False),
        sa.Column("attempt_id", sa.String(length=36), nullable=False),
        sa.Column("delivered", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(["attempt_id"], ["attempts.id"]),
        sa.PrimaryKeyConstraint(*key),
    )


def _rekey_provider_refs(*key: str) -> None:
    """provider_refs again with this primary key (a table is rebuilt: SQLite cannot
    change a primary key in place)."""
    _provider_refs("provider_refs_rekeyed", *key)
    op.execute(
        "INSERT INTO provider_refs_rekeyed (channel, provider_message_id, attempt_id, delivered) "
        "SELECT channel, provider_message_id, attempt_id, delivered FROM provider_refs"
    )
    op.drop_index("ix_provider_refs_attempt", table_name="provider_refs")
    op.drop_table("provider_refs")
    op.rename_table("provider_refs_rekeyed", "provider_refs")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER INDEX provider_refs_rekeyed_pkey RENAME TO provider_refs_pkey")
    op.create_index("ix_provider_refs_attempt", "provider_refs", ["attempt_id"], unique=False)


def _reindex(table: str, name: str, *columns: str) -> None:
    op.drop_index(name, table_name=table)
    op.create_index(name, table, list(columns), unique=False)


def upgrade() -> None:
    _rekey_provider_refs("provider_message_id", "channel")
    _reindex("attempts", "ix_attempts_provider", "provider_message_id", "channel")
    _reindex("orphan_reports", "ix_orphan_reports_provider", "provider_message_id", "channel")


def downgrade() -> None:
    _reindex("orphan_reports", "ix_orphan_reports_provider", "channel", "provider_message_id")
    _reindex("attempts", "ix_attempts_provider", "channel", "provider_message_id")
    _rekey_provider_refs("channel", "provider_message_id")
