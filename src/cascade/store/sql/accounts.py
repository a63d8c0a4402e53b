"""Accounts, their credentials (API keys, bots, logins) and their stored variables."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from cascade.domain.variables import VariableKey
from cascade.store import schema as t
from cascade.store.base import Account, Credential, CredentialKind, Login, LoginTaken
from cascade.store.sql.database import Database


class Accounts(Database):
    async def create_account(self, name: str, default_from_name: str) -> Account:
        account = Account(str(uuid.uuid4()), name, default_from_name, None, None, None, None)
        async with self._write() as conn:
            await conn.execute(
                t.accounts.insert().values(
                    id=account.id,
                    name=name,
                    default_from_name=default_from_name,
                    created_at=self._clock.now_ms(),
                )
            )
        return account

    async def get_account(self, account_id: str) -> Account | None:
        return await self._one_account(t.accounts.c.id == account_id)

    async def find_account(self, name: str) -> Account | None:
        return await self._one_account(t.accounts.c.name == name)

    async def _one_account(self, where: sa.ColumnElement[bool]) -> Account | None:
        a = t.accounts.c
        async with self._read() as conn:
            row = (
                await conn.execute(
                    sa.select(
                        a.id,
                        a.name,
                        a.default_from_name,
                        a.send_rate,
                        a.send_burst,
                        a.status_rate,
                        a.status_burst,
                        a.channel_order,
                        a.suspended_at,
                    )
                    .where(where)
                    .order_by(a.created_at)
                    .limit(1)
                )
            ).first()
        if row is None:
            return None
        order = tuple(row.channel_order.split(",")) if row.channel_order else None
        return Account(*row[:-2], channel_order=order, suspended=row.suspended_at is not None)

    async def set_suspended(self, account_id: str, suspended: bool) -> bool:
        a = t.accounts.c
        async with self._write() as conn:
            result = await conn.execute(
                t.accounts.update()
                .where(a.id == account_id)
                .values(suspended_at=self._clock.now_ms() if suspended else None)
            )
        return bool(result.rowcount)

    async def set_channel_order(self, account_id: str, order: Sequence[str] | None) -> bool:
        """The account's own channel order; channels left out are off. None: all, in the
        route's order."""
        async with self._write() as conn:
            result = await conn.execute(
                t.accounts.update()
                .where(t.accounts.c.id == account_id)
                .values(channel_order=",".join(order) if order is not None else None)
            )
        return bool(result.rowcount)

    async def set_account_limits(
        self,
        account_id: str,
        *,
        send: tuple[float, int] | None = None,
        status: tuple[float, int] | None = None,
    ) -> bool:
        values: dict[str, Any] = {}
        if send:
            values.update(send_rate=send[0], send_burst=send[1])
        if status:
            values.update(status_rate=status[0], status_burst=status[1])
        if not values:
            return True
        async with self._write() as conn:
            result = await conn.execute(
                t.accounts.update().where(t.accounts.c.id == account_id).values(**values)
            )
        return bool(result.rowcount)

    async def add_api_key(self, account_id: str, key_hash: str) -> str:
        key_id = str(uuid.uuid4())
        async with self._write() as conn:
            await conn.execute(
                t.api_keys.insert().values(
                    id=key_id,
                    account_id=account_id,
                    key_hash=key_hash,
                    created_at=self._clock.now_ms(),
                )
            )
        return key_id

    async def revoke_api_key(self, key_id: str) -> bool:
        k = t.api_keys.c
        async with self._write() as conn:
            result = await conn.execute(
                t.api_keys.update()
                .where(k.id == key_id, k.revoked_at.is_(None))
                .values(revoked_at=self._clock.now_ms())
            )
        return bool(result.rowcount)

    async def add_bot(self, account_id: str, channel: str, token: str, token_hash: str) -> str:
        bot_id = str(uuid.uuid4())
        async with self._write() as conn:
            await conn.execute(
                t.bots.insert().values(
                    id=bot_id,
                    account_id=account_id,
                    channel=channel,
                    token=token,
                    token_hash=token_hash,
                    webhook_secret=secrets.token_hex(16),
                    created_at=self._clock.now_ms(),
                )
            )
        return bot_id

    async def find_credential(self, kind: CredentialKind, secret_hash: str) -> Credential | None:
        async with self._read() as conn:
            if kind is CredentialKind.API_KEY:
                k = t.api_keys.c
                account_id = (
                    await conn.execute(
                        sa.select(k.account_id).where(
                            k.key_hash == secret_hash, k.revoked_at.is_(None)
                        )
                    )
                ).scalar()
                return Credential(account_id, kind, None) if account_id else None
            b = t.bots.c
            row = (
                await conn.execute(
                    sa.select(b.account_id, b.id, b.channel).where(
                        b.token_hash == secret_hash, b.revoked_at.is_(None)
                    )
                )
            ).first()
        return Credential(row[0], kind, row[1], row[2]) if row else None

    # --- logins ---------------------------------------------------------------------------

    async def set_login(self, account_id: str, login: str, password_hash: str) -> bool:
        lg = t.logins.c
        now = self._clock.now_ms()
        async with self._write() as conn:
            owner = (await conn.execute(sa.select(lg.account_id).where(lg.login == login))).scalar()
            if owner is not None and owner != account_id:
                raise LoginTaken(login)
            if owner is not None:
                await conn.execute(
                    t.logins.update()
                    .where(lg.login == login)
                    .values(password_hash=password_hash, updated_at=now)
                )
                return True
            exists = (
                await conn.execute(sa.select(t.accounts.c.id).where(t.accounts.c.id == account_id))
            ).first()
            if exists is None:
                return False
            await conn.execute(
                t.logins.insert().values(
                    login=login,
                    account_id=account_id,
                    password_hash=password_hash,
                    created_at=now,
                    updated_at=now,
                )
            )
        return True

    async def find_login(self, login: str) -> Login | None:
        lg = t.logins.c
        async with self._read() as conn:
            row = (
                await conn.execute(
                    sa.select(lg.login, lg.account_id, lg.password_hash).where(lg.login == login)
                )
            ).first()
        return Login(*row) if row else None

    async def replace_password_hash(self, login: str, old_hash: str, new_hash: str) -> bool:
        lg = t.logins.c
        async with self._write() as conn:
            result = await conn.execute(
                t.logins.update()
                .where(lg.login == login, lg.password_hash == old_hash)
                .values(password_hash=new_hash, updated_at=self._clock.now_ms())
            )
        return bool(result.rowcount)

    # --- variables ----------------------------------------------------------------------

    async def account_variables(self, account_id: str) -> dict[VariableKey, str]:
        v = t.variables.c
        async with self._read() as conn:
            rows = await conn.execute(
                sa.select(v.type, v.var_id, v.value).where(v.account_id == account_id)
            )
            return {(kind, ident): value for kind, ident, value in rows}

    async def upsert_variables(self, account_id: str, values: Mapping[VariableKey, str]) -> None:
        if not values:
            return
        now = self._clock.now_ms()
        insert = (sqlite_dialect if self.dialect == "sqlite" else pg_dialect).insert(t.variables)
        statement = insert.on_conflict_do_update(
            index_elements=["account_id", "type", "var_id"],
            set_={"value": insert.excluded.value, "updated_at": insert.excluded.updated_at},
        )
        rows = [
            {
                "account_id": account_id,
                "type": kind,
                "var_id": ident,
                "value": value,
                "updated_at": now,
            }
            for (kind, ident), value in values.items()
        ]
        async with self._write() as conn:
            await conn.execute(statement, rows)
