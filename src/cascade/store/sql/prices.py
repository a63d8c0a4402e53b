"""The price table (SPEC D9): replaced whole by each load, read whole with its version."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cascade.domain.prices import PriceTable
from cascade.store import schema as t
from cascade.store.base import price_micros, price_of
from cascade.store.sql.database import Database


class Prices(Database):
    async def load_prices(self, table: PriceTable) -> int:
        rows = [
            {
                "channel": p.channel,
                "country_prefix": p.country_prefix,
                "price_micros": price_micros(p.price),
                "currency": p.currency,
            }
            for p in table.prices
        ]
        now = self._clock.now_ms()

        def replace(conn: Connection) -> int:
            if self.dialect == "postgresql":
                # one load at a time, each on the table the one before it left (readers
                # are not blocked): load ids then follow the order loads commit in
                conn.execute(sa.text("LOCK TABLE prices IN SHARE ROW EXCLUSIVE MODE"))
            load_id = int(
                conn.execute(
                    t.price_loads.insert()
                    .values(loaded_at=now, prices=len(rows))
                    .returning(t.price_loads.c.id)
                ).scalar_one()
            )
            conn.execute(t.prices.delete())
            if rows:
                conn.execute(t.prices.insert(), [{**row, "load_id": load_id} for row in rows])
            return load_id

        return await self._transact(replace)

    async def price_table(self) -> PriceTable:
        loads, p = t.price_loads.c, t.prices.c
        latest = sa.select(sa.func.max(loads.id)).scalar_subquery()
        # one statement, so the rows and the version come from one snapshot
        query = (
            sa.select(loads.id, p.channel, p.country_prefix, p.price_micros, p.currency)
            .select_from(t.price_loads.outerjoin(t.prices, p.load_id == loads.id))
            .where(loads.id == latest)
        )
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        if not rows:
            return PriceTable()
        return PriceTable(
            (price_of(r) for r in rows if r.channel is not None),
            version=int(rows[0].id),
        )

    async def price_version(self) -> int:
        async with self._read() as conn:
            latest = await conn.execute(sa.select(sa.func.max(t.price_loads.c.id)))
            return int(latest.scalar() or 0)
