"""The in-memory price table: replaced whole by each load, kept as the SQL store keeps it
(prices in millionths, each load a row whose id is the table's version)."""

from __future__ import annotations

from cascade.domain.prices import PriceTable
from cascade.store.base import price_micros, price_of
from cascade.store.memory.tables import MemoryBase, PriceLoadRow, PriceRow


class Prices(MemoryBase):
    async def load_prices(self, table: PriceTable) -> int:
        # every row is made before any is replaced: a price it cannot hold changes nothing
        load_id = max(self._t.price_loads, default=0) + 1
        rows = {
            (p.channel, p.country_prefix): PriceRow(
                channel=p.channel,
                country_prefix=p.country_prefix,
                price_micros=price_micros(p.price),
                currency=p.currency,
                load_id=load_id,
            )
            for p in table.prices
        }
        self._t.price_loads[load_id] = PriceLoadRow(
            id=load_id, loaded_at=self._clock.now_ms(), prices=len(rows)
        )
        self._t.prices = rows
        return load_id

    async def price_table(self) -> PriceTable:
        return PriceTable(
            (price_of(r) for r in self._t.prices.values()),
            version=await self.price_version(),
        )

    async def price_version(self) -> int:
        return max(self._t.price_loads, default=0)
