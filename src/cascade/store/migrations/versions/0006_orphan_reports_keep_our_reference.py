"""kept delivery reports keep our own reference for their send

Some providers echo a reference of ours with every report (Vonage's `client_ref`, RBM's
`messageId`: the attempt's id). A report for a send left in doubt names an id the send
never learnt; kept before the send is found in doubt, it now keeps that reference too, on
which the in-doubt attempt adopts it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 15:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("orphan_reports", sa.Column("attempt_id", sa.String(36), nullable=True))


def downgrade() -> None:
    op.drop_column("orphan_reports", "attempt_id")
