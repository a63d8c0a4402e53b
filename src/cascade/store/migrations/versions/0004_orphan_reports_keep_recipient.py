"""kept delivery reports keep what can match them to a send left in doubt

A receipt that arrives while its send is still `sending` (the worker died after the PDU
left, before its result was committed) names an SMSC id nobody recorded. It used to be
kept with that id alone, so once the send was found in doubt nothing could match them.
It now keeps what the receipt says of its message: the recipient and the text's first
characters, on which an in-doubt attempt adopts it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 12:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("orphan_reports", sa.Column("recipient", sa.String(32), nullable=True))
    op.add_column("orphan_reports", sa.Column("text_prefix", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("orphan_reports", "text_prefix")
    op.drop_column("orphan_reports", "recipient")
