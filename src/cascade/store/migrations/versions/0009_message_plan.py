"""a message may carry an explicit plan

The core SMSBAT API names each message's channel and its fallbacks, each step with its own
content (text, media, buttons, carousel, template, survey…). The plan is kept on the
message as compact JSON (domain.content.Step, empty fields left out) and replaces the
route when set; messages of the Cascade API leave it NULL and follow their route.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 17:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("plan", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("messages", "plan")
