"""incoming repeats: an MO SMS the SMSC offers again is stored once

SMPP 3.4 gives a `deliver_sm` no message id, so a message from a phone that the SMSC
offers again (its `deliver_sm_resp` lost in a crash) is known by what it says. The
pieces of a concatenated SMS are kept after they are joined (`incoming_parts.incoming_id`
names the message they made; NULL while they wait), so a piece offered again within the
window is known; a whole SMS is looked up by its phone (`ix_incoming_messages_phone`).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incoming_parts") as batch:
        batch.add_column(sa.Column("incoming_id", sa.String(length=36), nullable=True))
    op.create_index(
        "ix_incoming_messages_phone", "incoming_messages", ["channel", "phone", "received_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_incoming_messages_phone", table_name="incoming_messages")
    op.execute("DELETE FROM incoming_parts WHERE incoming_id IS NOT NULL")
    with op.batch_alter_table("incoming_parts") as batch:
        batch.drop_column("incoming_id")
