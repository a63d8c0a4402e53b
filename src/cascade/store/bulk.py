"""Executemany statements that hand their rows straight to the database driver.

SQLAlchemy processes every row of an executemany through its compiled statement's
parameter machinery, which costs more than the database's own work for the short rows the
engine writes by the thousand (attempts, message and task updates). A `Bulk` statement is
written once in SQL with `?` placeholders, rendered for the driver's parameter style, and
its rows go to the driver as tuples.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection

_PLACEHOLDER = re.compile(r"\?")


class Bulk:
    def __init__(self, sql: str) -> None:
        self.sqlite = sql
        numbers = iter(range(1, sql.count("?") + 1))
        self.postgresql = _PLACEHOLDER.sub(lambda _: f"${next(numbers)}", sql)

    def run(self, conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        dialect = conn.dialect.name
        conn.exec_driver_sql(
            self.postgresql if dialect == "postgresql" else self.sqlite, list(rows)
        )
