"""skipped steps are kept on the message

A step passed over at once (its channel not configured, no chat known, text too long)
was an attempt row of its own: four of the five rows an SMS-only message wrote, each with
three index entries. They are now one JSON array on the message, written with the update
the plan makes anyway, and shown among the attempts as before.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 02:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Going down, each skipped step becomes an attempt row again, as 0002 kept them.
_ROWS_POSTGRESQL = """
INSERT INTO attempts (id, message_id, step, channel, status, reason, sender_id,
                      started_at, finished_at, parts_delivered)
SELECT gen_random_uuid()::text, m.id, (s.value->>0)::integer, s.value->>1, s.value->>2,
       s.value->>3, s.value->>4, (s.value->>5)::bigint, (s.value->>5)::bigint, 0
FROM messages AS m CROSS JOIN LATERAL json_array_elements(m.skipped::json) AS s(value)
WHERE m.skipped IS NOT NULL
"""
_ROWS_SQLITE = """
INSERT INTO attempts (id, message_id, step, channel, status, reason, sender_id,
                      started_at, finished_at, parts_delivered)
SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4'
             || substr(hex(randomblob(2)), 2) || '-a' || substr(hex(randomblob(2)), 2)
             || '-' || hex(randomblob(6))),
       m.id, json_extract(s.value, '$[0]'), json_extract(s.value, '$[1]'),
       json_extract(s.value, '$[2]'), json_extract(s.value, '$[3]'),
       json_extract(s.value, '$[4]'), json_extract(s.value, '$[5]'),
       json_extract(s.value, '$[5]'), 0
FROM messages AS m, json_each(m.skipped) AS s
WHERE m.skipped IS NOT NULL
"""


def upgrade() -> None:
    op.add_column("messages", sa.Column("skipped", sa.Text(), nullable=True))


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.execute(_ROWS_POSTGRESQL if postgresql else _ROWS_SQLITE)
    op.drop_column("messages", "skipped")
