"""accounts have logins (HTTP Basic on the core SMSBAT API) and can be suspended

SPEC D2: a client of the core API may authenticate with HTTP Basic and one of its
account's logins. A login name is unique across the installation; its password is kept
only as an argon2id hash. A suspended account's credentials are refused with 403.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 17:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("accounts", sa.Column("suspended_at", sa.BigInteger, nullable=True))
    op.create_table(
        "logins",
        sa.Column("login", sa.String(200), primary_key=True),
        sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_logins_account_id", "logins", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_logins_account_id", table_name="logins")
    op.drop_table("logins")
    op.drop_column("accounts", "suspended_at")
