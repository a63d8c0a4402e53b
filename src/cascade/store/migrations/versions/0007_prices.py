"""prices: the operator's price table, and its loads

A price table (SPEC D9) is loaded whole from a CSV file by `cascade prices load`; each
load replaces every row and adds a row to `price_loads`, whose id is the table's version.
A price is kept as an integer count of millionths of its currency (`price_micros`): a
price has at most six decimal places, and an integer is exact on SQLite (whose NUMERIC
is stored as a float) and on PostgreSQL alike.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "price_loads",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("loaded_at", sa.BigInteger(), nullable=False),
        sa.Column("prices", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "prices",
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("country_prefix", sa.String(length=6), nullable=False),
        sa.Column("price_micros", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("load_id", _BIG_ID, nullable=False),
        sa.ForeignKeyConstraint(["load_id"], ["price_loads.id"]),
        sa.PrimaryKeyConstraint("channel", "country_prefix"),
    )


def downgrade() -> None:
    op.drop_table("prices")
    op.drop_table("price_loads")
