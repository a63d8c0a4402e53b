"""ChatHub's organizations, the bots they own and their operators (SPEC E2); and the
installation's shared secrets (E1's JWT signing key).

Operator ids are unique within an account and some are picked here (the next after the
account's highest), so the transactions that create operators first lock the account's
row on PostgreSQL: two at once for one account take their turns instead of picking the
same id. SQLite has one writer at a time anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from cascade.domain.chats import (
    Operator,
    OperatorStatus,
    OperatorSync,
    Organization,
    next_operator_id,
)
from cascade.store import schema as t
from cascade.store.base import NotFound
from cascade.store.sql.database import Database

_org = t.organizations.c
_op = t.operators.c


def _operator(row: sa.Row[Any, Any, Any, Any, Any]) -> Operator:
    return Operator(
        id=int(row.id),
        account_id=str(row.account_id),
        organization_id=int(row.organization_id),
        name=str(row.name),
        status=OperatorStatus(row.status),
    )


_OPERATOR_COLUMNS = (_op.id, _op.account_id, _op.organization_id, _op.name, _op.status)


class Chats(Database):
    async def installation_secret(self, name: str, candidate: str) -> str:
        s = t.installation_secrets.c
        insert = (sqlite_dialect if self.dialect == "sqlite" else pg_dialect).insert(
            t.installation_secrets
        )
        async with self._write() as conn:
            await conn.execute(
                insert.values(
                    name=name, value=candidate, created_at=self._clock.now_ms()
                ).on_conflict_do_nothing(index_elements=["name"])
            )
            stored = (await conn.execute(sa.select(s.value).where(s.name == name))).scalar_one()
        return str(stored)

    # --- organizations ----------------------------------------------------------------

    async def create_organization(self, account_id: str, name: str) -> Organization:
        async with self._write() as conn:
            await self._lock_account(conn, account_id)
            organization_id = (
                await conn.execute(
                    t.organizations.insert()
                    .values(account_id=account_id, name=name, created_at=self._clock.now_ms())
                    .returning(_org.id)
                )
            ).scalar_one()
        return Organization(int(organization_id), account_id, name)

    async def organizations(self, account_id: str) -> list[Organization]:
        async with self._read() as conn:
            rows = await conn.execute(
                sa.select(_org.id, _org.name).where(_org.account_id == account_id).order_by(_org.id)
            )
            return [Organization(int(i), account_id, str(n)) for i, n in rows]

    async def organization(self, organization_id: int) -> Organization | None:
        async with self._read() as conn:
            row = (
                await conn.execute(
                    sa.select(_org.id, _org.account_id, _org.name).where(_org.id == organization_id)
                )
            ).first()
        return Organization(int(row.id), str(row.account_id), str(row.name)) if row else None

    async def attach_bots(
        self, account_id: str, organization_id: int, bot_ids: Sequence[str]
    ) -> None:
        b = t.bots.c
        ob = t.organization_bots.c
        async with self._write() as conn:
            await self._own_organization(conn, account_id, organization_id)
            wanted = list(dict.fromkeys(bot_ids))
            found = set(
                (
                    await conn.execute(
                        sa.select(b.id).where(b.account_id == account_id, b.id.in_(wanted))
                    )
                ).scalars()
            )
            for bot_id in wanted:
                if bot_id not in found:
                    raise NotFound("bot", bot_id)
            if not wanted:
                return
            await conn.execute(t.organization_bots.delete().where(ob.bot_id.in_(wanted)))
            now = self._clock.now_ms()
            await conn.execute(
                t.organization_bots.insert(),
                [
                    {"bot_id": bot_id, "organization_id": organization_id, "attached_at": now}
                    for bot_id in wanted
                ],
            )

    async def organization_bots(self, organization_id: int) -> list[str]:
        ob = t.organization_bots.c
        async with self._read() as conn:
            rows = await conn.execute(
                sa.select(ob.bot_id)
                .where(ob.organization_id == organization_id)
                .order_by(ob.attached_at, ob.bot_id)
            )
            return [str(bot_id) for bot_id in rows.scalars()]

    async def bot_organization(self, bot_id: str) -> Organization | None:
        ob = t.organization_bots.c
        async with self._read() as conn:
            row = (
                await conn.execute(
                    sa.select(_org.id, _org.account_id, _org.name)
                    .join(t.organization_bots, ob.organization_id == _org.id)
                    .where(ob.bot_id == bot_id)
                )
            ).first()
        return Organization(int(row.id), str(row.account_id), str(row.name)) if row else None

    # --- operators --------------------------------------------------------------------

    async def operators(
        self, account_id: str, organization_id: int | None = None
    ) -> list[Operator]:
        where = [_op.account_id == account_id]
        if organization_id is not None:
            where.append(_op.organization_id == organization_id)
        async with self._read() as conn:
            rows = await conn.execute(sa.select(*_OPERATOR_COLUMNS).where(*where).order_by(_op.id))
            return [_operator(row) for row in rows]

    async def operator(self, account_id: str, operator_id: int) -> Operator | None:
        async with self._read() as conn:
            row = (
                await conn.execute(
                    sa.select(*_OPERATOR_COLUMNS).where(
                        _op.account_id == account_id, _op.id == operator_id
                    )
                )
            ).first()
        return _operator(row) if row else None

    async def synchronize_operators(
        self, account_id: str, items: Sequence[OperatorSync]
    ) -> list[Operator]:
        now = self._clock.now_ms()
        async with self._write() as conn:
            await self._lock_account(conn, account_id)
            owned = set(
                (
                    await conn.execute(
                        sa.select(_org.id).where(
                            _org.account_id == account_id,
                            _org.id.in_({item.organization_id for item in items}),
                        )
                    )
                ).scalars()
            )
            for item in items:
                if item.organization_id not in owned:
                    raise NotFound("organization", item.organization_id)
            existing = {
                int(row.id): _operator(row)
                for row in await conn.execute(
                    sa.select(*_OPERATOR_COLUMNS).where(_op.account_id == account_id)
                )
            }
            taken = set(existing) | {item.id for item in items if item.id is not None}
            result: list[Operator] = []
            for item in items:
                operator_id = item.id
                if operator_id is None:
                    operator_id = next_operator_id(taken)
                    taken.add(operator_id)
                before = existing.get(operator_id)
                if before is None:
                    await conn.execute(
                        t.operators.insert().values(
                            account_id=account_id,
                            id=operator_id,
                            organization_id=item.organization_id,
                            name=item.name,
                            status=int(OperatorStatus.ACTIVE),
                            created_at=now,
                            updated_at=now,
                        )
                    )
                    status = OperatorStatus.ACTIVE
                else:
                    await conn.execute(
                        t.operators.update()
                        .where(_op.account_id == account_id, _op.id == operator_id)
                        .values(
                            organization_id=item.organization_id, name=item.name, updated_at=now
                        )
                    )
                    status = before.status
                result.append(
                    Operator(operator_id, account_id, item.organization_id, item.name, status)
                )
        return result

    # --- plumbing ---------------------------------------------------------------------

    async def _lock_account(self, conn: AsyncConnection, account_id: str) -> None:
        """Raise NotFound unless the account exists; on PostgreSQL, hold its row until the
        transaction ends (see the module's docstring)."""
        a = t.accounts.c
        found = (
            await conn.execute(sa.select(a.id).where(a.id == account_id).with_for_update())
        ).first()
        if found is None:
            raise NotFound("account", account_id)

    async def _own_organization(
        self, conn: AsyncConnection, account_id: str, organization_id: int
    ) -> None:
        found = (
            await conn.execute(
                sa.select(_org.id).where(_org.id == organization_id, _org.account_id == account_id)
            )
        ).first()
        if found is None:
            raise NotFound("organization", organization_id)
