"""ChatHub organizations and operators, and the installation's shared secrets

SPEC E1-E2: an account's organizations own some of its bots (a bot at most one) and have
operators, whose ids are unique within the account (the company's own when it
synchronizes them). The JWT signing key, when CASCADE_JWT_SECRET is unset, is generated
once and kept in `installation_secrets`, so every API process of the installation signs
and checks tokens with the same key.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "installation_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "organizations",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_organizations_account", "organizations", ["account_id"])
    op.create_table(
        "organization_bots",
        sa.Column("bot_id", sa.String(length=36), nullable=False),
        sa.Column("organization_id", _BIG_ID, nullable=False),
        sa.Column("attached_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["bot_id"], ["bots.id"]),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"]),
        sa.PrimaryKeyConstraint("bot_id"),
    )
    op.create_index("ix_organization_bots_organization", "organization_bots", ["organization_id"])
    op.create_table(
        "operators",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("organization_id", _BIG_ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"]),
        sa.PrimaryKeyConstraint("account_id", "id"),
    )
    op.create_index("ix_operators_organization", "operators", ["organization_id"])


def downgrade() -> None:
    op.drop_index("ix_operators_organization", table_name="operators")
    op.drop_table("operators")
    op.drop_index("ix_organization_bots_organization", table_name="organization_bots")
    op.drop_table("organization_bots")
    op.drop_index("ix_organizations_account", table_name="organizations")
    op.drop_table("organizations")
    op.drop_table("installation_secrets")
