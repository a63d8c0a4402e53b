"""The store over SQLAlchemy Core: SQLite (default, one file, WAL) and PostgreSQL.

SQLite allows one writer at a time, so writes go through their own engine holding a
single connection whose transactions start with BEGIN IMMEDIATE: writers queue in the
pool instead of failing on a lock upgrade, and other processes wait on busy_timeout.
Reads use a separate pool and, thanks to WAL, never block on the writer.

The hot transactions (intake, claims, plans, send intents and results, delivery reports)
are plain functions over a synchronous `Connection`, run whole by `_transact`: on SQLite
in one thread that owns a connection of its own (`SqliteTransactor`, in
`cascade.store.sqlite_runtime` with the rest of SQLite's writer runtime); on PostgreSQL
through `run_sync` on the async connection.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from cascade.clock import Clock
from cascade.domain.message import Status
from cascade.domain.variables import VariableKey
from cascade.store import schema as t
from cascade.store.base import (
    Account,
    AttemptView,
    Conflict,
    Credential,
    CredentialKind,
    MessageView,
    NewMessage,
    StoreError,
    TrackingIdConflict,
)
from cascade.store.bulk import Bulk
from cascade.store.delivery import DeliveryQueries
from cascade.store.sqlite_runtime import SqliteTransactor, sqlite_engine, synchronous_invalid

_IN_CHUNK = 500  # tracking ids per IN (...) lookup
_CONFLICT_RETRIES = 3  # a concurrent request may insert the same tracking id first
IDEMPOTENCY_WINDOW_MS = 86_400_000  # id-less repeats of the same content within a day


_PG_PROBE = sa.text(
    "SELECT x.tid, m.id, m.fingerprint FROM unnest(CAST(:ids AS varchar[])) AS x(tid) "
    "CROSS JOIN LATERAL (SELECT id, fingerprint FROM messages "
    "WHERE account_id = :account AND tracking_id = x.tid LIMIT 1) AS m"
)
_PG_IDEM_PROBE = sa.text(
    "SELECT m.fingerprint, m.id FROM unnest(CAST(:keys AS varchar[])) AS x(k) "
    "CROSS JOIN LATERAL (SELECT fingerprint, id, created_at FROM messages "
    "WHERE account_id = :account AND idem_key = x.k LIMIT 1) AS m "
    "WHERE m.created_at >= :oldest"
)
_GROUP_MESSAGES = 5000  # a group commit takes requests until it holds this many messages


@dataclass
class _Waiting:
    """A request waiting for its group commit."""

    account_id: str
    items: Sequence[NewMessage]
    done: asyncio.Future[list[str]]


# the columns `_rows` fills, in its order
_MESSAGE_COLUMNS = (
    "id, account_id, tracking_id, fingerprint, idem_key, route, message_type, from_name, "
    "phone, text, survey_options, fallback, media, ttl, telegram_bot_id, viber_bot_id, "
    "status, created_at, scheduled_at, expires_at, updated_at"
)
_INSERT_MESSAGE = Bulk(
    f"INSERT INTO messages ({_MESSAGE_COLUMNS}) "  # noqa: S608 - constant text
    f"VALUES ({', '.join('?' * (_MESSAGE_COLUMNS.count(',') + 1))})",
    json_rows=False,  # the fingerprint is a BLOB
)
_INSERT_TASK = Bulk("INSERT INTO tasks (message_id, due_at) VALUES (?, ?)")


def _rows(
    account_id: str, item: NewMessage
) -> tuple[tuple[Any, ...], tuple[str, int], list[dict[str, Any]]]:
    """The message, task and short-link rows of one new message."""
    d = item.draft
    encode = msgspec.json.encode
    now = d.created_at_ms
    message = (
        item.id,
        account_id,
        d.tracking_id or item.id,
        d.fingerprint,
        _idem_key(d.fingerprint, now) if d.tracking_id is None else None,
        d.route.value,
        d.message_type.value,
        d.from_name,
        d.phone,
        d.text,
        encode(d.survey_options).decode() if d.survey_options else None,
        encode({"messageType": d.fallback.message_type.value, "text": d.fallback.text}).decode()
        if d.fallback
        else None,
        encode(d.media).decode() if d.media else None,
        d.ttl,
        item.telegram_bot_id,
        item.viber_bot_id,
        Status.SCHEDULED.value,
        now,
        d.scheduled_at_ms,
        d.expires_at_ms,
        now,
    )
    task = (item.id, d.due_at_ms)
    links = [
        {"code": link.code, "message_id": item.id, "url": link.url, "created_at": now}
        for link in d.short_links
    ]
    return message, task, links


def _idem_key(fingerprint: bytes, at_ms: int) -> str:
    """Content fingerprint + the day it falls in (days are the window's buckets)."""
    return f"{fingerprint.hex()}:{at_ms // IDEMPOTENCY_WINDOW_MS}"


def async_url(url: str) -> str:
    """Map a plain database URL to the async driver Cascade uses for it."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not a database URL: {url!r}")
    base = scheme.split("+", 1)[0]
    if base == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    if base in ("postgresql", "postgres"):
        return f"postgresql+asyncpg://{rest}"
    raise ValueError(f"unsupported database: {scheme} (use sqlite or postgresql)")


T = TypeVar("T")


@contextmanager
def _store_errors() -> Iterator[None]:
    """The database's errors as the store's own."""
    try:
        yield
    except sa.exc.IntegrityError as err:
        raise Conflict(str(err)) from err
    except sa.exc.SQLAlchemyError as err:
        raise StoreError(str(err)) from err
    except OSError as err:
        raise StoreError(str(err)) from err


class SqlStore(DeliveryQueries):
    def __init__(
        self,
        url: str,
        clock: Clock,
        *,
        sqlite_synchronous: str = "FULL",
        pool_size: int = 10,
    ) -> None:
        self.url = async_url(url)
        self._clock = clock
        self._accepts: deque[_Waiting] = deque()
        self._accepting = False
        self.dialect = "sqlite" if self.url.startswith("sqlite") else "postgresql"
        if synchronous_invalid(sqlite_synchronous):
            raise ValueError(f"invalid SQLite synchronous mode: {sqlite_synchronous}")
        if self.dialect == "sqlite":
            self._reader = sqlite_engine(
                self.url, synchronous=sqlite_synchronous, writer=False, pool_size=pool_size
            )
            self._writer = sqlite_engine(
                self.url, synchronous=sqlite_synchronous, writer=True, pool_size=1
            )
            self._transactor: SqliteTransactor | None = SqliteTransactor(
                self.url, sqlite_synchronous
            )
        else:
            self._reader = self._writer = create_async_engine(
                self.url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False
            )
            self._transactor = None

    # --- plumbing ---------------------------------------------------------------------

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        with _store_errors():
            async with self._writer.begin() as conn:
                yield conn

    async def _transact(self, work: Callable[[Connection], T]) -> T:
        """Run `work` as one write transaction (see the module's docstring)."""
        if self._transactor is None:
            async with self._write() as conn:
                return await conn.run_sync(work)
        with _store_errors():
            return await self._transactor.run(work)

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        with _store_errors():
            async with self._reader.connect() as conn:
                yield conn

    async def close(self) -> None:
        if self._transactor is not None:
            await asyncio.to_thread(self._transactor.close)
        await self._writer.dispose()
        if self._reader is not self._writer:
            await self._reader.dispose()

    async def ping(self) -> None:
        async with self._read() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def schema_revision(self) -> str | None:
        async with self._read() as conn:
            try:
                row = await conn.execute(sa.text("SELECT version_num FROM alembic_version"))
                value = row.scalar()
            except sa.exc.DBAPIError:
                return None
        return str(value) if value is not None else None

    # --- accounts and credentials -----------------------------------------------------

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
                    )
                    .where(where)
                    .order_by(a.created_at)
                    .limit(1)
                )
            ).first()
        if row is None:
            return None
        order = tuple(row.channel_order.split(",")) if row.channel_order else None
        return Account(*row[:-1], channel_order=order)

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

    async def verify_code(self, account_id: str, message_id: str, hashed: str) -> str:
        """Check a flash-call code's hash: OK, WRONG, EXHAUSTED, EXPIRED or UNKNOWN.

        A wrong code uses up one attempt; once none are left even the right code fails.
        Every guess takes its attempt first, in one conditional UPDATE that holds the row
        until the end of the transaction, so parallel guesses (PostgreSQL) are judged one
        at a time and never more than the attempts allowed; the right code then gives its
        attempt back. Only a guess that got no attempt reads why.
        """
        v = t.verifications.c
        m = t.messages.c
        now = self._clock.now_ms()
        mine = sa.exists().where(m.id == v.message_id, m.account_id == account_id)
        take = (
            t.verifications.update()
            .where(
                v.message_id == message_id,
                mine,
                v.verified_at.is_(None),
                v.attempts_left > 0,
                v.expires_at > now,
            )
            .values(attempts_left=v.attempts_left - 1)
            .returning(v.code_hash, v.attempts_left)
        )
        read = sa.select(v.code_hash, v.attempts_left, v.expires_at, v.verified_at).where(
            v.message_id == message_id, mine
        )
        async with self._write() as conn:
            # a second round only when the code was replaced between the two statements
            for _ in range(3):
                taken = (await conn.execute(take)).first()
                if taken is not None:
                    stored, left = taken
                    if hmac.compare_digest(stored, hashed):
                        await conn.execute(
                            t.verifications.update()
                            .where(v.message_id == message_id)
                            .values(verified_at=now, attempts_left=v.attempts_left + 1)
                        )
                        return "OK"
                    return "WRONG" if left > 0 else "EXHAUSTED"
                row = (await conn.execute(read)).first()
                if row is None:
                    return "UNKNOWN"
                stored, left, expires_at, verified_at = row
                if verified_at is not None:
                    return "OK" if hmac.compare_digest(stored, hashed) else "WRONG"
                if left <= 0:
                    return "EXHAUSTED"
                if now >= expires_at:
                    return "EXPIRED"
            return "UNKNOWN"

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

    async def add_bot(
        self, account_id: str, kind: CredentialKind, token: str, token_hash: str
    ) -> str:
        bot_id = str(uuid.uuid4())
        async with self._write() as conn:
            await conn.execute(
                t.bots.insert().values(
                    id=bot_id,
                    account_id=account_id,
                    kind=kind.value,
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
                    sa.select(b.account_id, b.id).where(
                        b.token_hash == secret_hash, b.kind == kind.value, b.revoked_at.is_(None)
                    )
                )
            ).first()
        return Credential(row[0], kind, row[1]) if row else None

    # --- intake -----------------------------------------------------------------------

    async def accept(self, account_id: str, messages: Sequence[NewMessage]) -> list[str]:
        """Commit new messages with their first tasks (see Store.accept).

        Requests that arrive while a commit is under way wait for the next one and share
        it (group commit): one transaction, one lookup and one multi-row insert for all of
        them, each request still judged on its own — a conflict in one fails that one only.
        """
        if not messages:
            return []
        waiting = _Waiting(account_id, messages, asyncio.get_running_loop().create_future())
        self._accepts.append(waiting)
        if not self._accepting:
            self._accepting = True
            asyncio.get_running_loop().create_task(self._drain_accepts())
        return await asyncio.shield(waiting.done)

    async def _drain_accepts(self) -> None:
        try:
            while self._accepts:
                group: list[_Waiting] = []
                size = 0
                while self._accepts and (not group or size < _GROUP_MESSAGES):
                    waiting = self._accepts.popleft()
                    group.append(waiting)
                    size += len(waiting.items)
                await self._commit_group(group)
        finally:
            self._accepting = False

    async def _commit_group(self, group: list[_Waiting]) -> None:
        outcomes: list[list[str] | BaseException]
        for attempt in range(_CONFLICT_RETRIES):
            try:
                outcomes = list(await self._transact(lambda conn: self._accept_group(conn, group)))
            except Conflict as err:
                # Another process stored one of these tracking ids between our lookup and
                # our insert; the next round sees it and answers as for a repeat.
                if attempt < _CONFLICT_RETRIES - 1:
                    continue
                outcomes = [err] * len(group)
            except Exception as err:  # the store failed: every request in the group learns it
                outcomes = [err] * len(group)
            for waiting, outcome in zip(group, outcomes, strict=True):
                if waiting.done.done():
                    continue
                if isinstance(outcome, BaseException):
                    waiting.done.set_exception(outcome)
                else:
                    waiting.done.set_result(outcome)
            return

    def _accept_group(
        self, conn: Connection, group: Sequence[_Waiting]
    ) -> list[list[str] | StoreError]:
        accounts: dict[str, list[NewMessage]] = {}
        for waiting in group:
            accounts.setdefault(waiting.account_id, []).extend(waiting.items)
        existing: dict[str, dict[str, tuple[str, bytes]]] = {}
        repeats: dict[str, dict[bytes, str]] = {}
        for account_id, items in accounts.items():
            tracked = [m.draft.tracking_id for m in items if m.draft.tracking_id]
            existing[account_id] = (
                self._stored_fingerprints(conn, account_id, tracked) if tracked else {}
            )
            keyless = [m for m in items if m.draft.tracking_id is None]
            repeats[account_id] = self._recent_repeats(conn, account_id, keyless) if keyless else {}

        taken: dict[tuple[str, str], tuple[str, bytes]] = {}  # by this group, so far
        outcomes: list[list[str] | StoreError] = []
        message_rows: list[tuple[Any, ...]] = []
        task_rows: list[tuple[str, int]] = []
        due_now = False  # some message is due at once (not scheduled for later)
        link_rows: list[dict[str, Any]] = []
        for waiting in group:
            account_id = waiting.account_id
            ids: list[str] = []
            mine: dict[tuple[str, str], tuple[str, bytes]] = {}
            rows: list[NewMessage] = []
            conflict: StoreError | None = None
            for index, item in enumerate(waiting.items):
                d = item.draft
                if d.tracking_id is None:
                    key = (account_id, "~" + d.fingerprint.hex())
                    stored_id = repeats[account_id].get(d.fingerprint)
                    stored = (stored_id, d.fingerprint) if stored_id else None
                else:
                    key = (account_id, d.tracking_id)
                    stored = existing[account_id].get(d.tracking_id)
                stored = stored or taken.get(key) or mine.get(key)
                if stored is not None:
                    if stored[1] != d.fingerprint:
                        conflict = TrackingIdConflict(index)
                        break
                    ids.append(stored[0])
                    continue
                ids.append(item.id)
                mine[key] = (item.id, d.fingerprint)
                rows.append(item)
            if conflict is not None:
                outcomes.append(conflict)
                continue
            taken.update(mine)
            outcomes.append(ids)
            for item in rows:
                due_now = due_now or item.draft.due_at_ms <= item.draft.created_at_ms
                message, task, links = _rows(account_id, item)
                message_rows.append(message)
                task_rows.append(task)
                link_rows.extend(links)
        if message_rows:
            _INSERT_MESSAGE.run(conn, message_rows)
            _INSERT_TASK.run(conn, task_rows)
            if link_rows:
                conn.execute(t.short_links.insert(), link_rows)
            if due_now:
                self._notify(conn)  # wake PostgreSQL workers: work is due now
        return outcomes

    def _recent_repeats(
        self, conn: Connection, account_id: str, items: Sequence[NewMessage]
    ) -> dict[bytes, str]:
        """Id-less messages stored with the same content within the idempotency window."""
        m = t.messages.c
        keys: list[str] = []
        for item in items:
            d = item.draft
            keys.append(_idem_key(d.fingerprint, d.created_at_ms))
            keys.append(_idem_key(d.fingerprint, d.created_at_ms - IDEMPOTENCY_WINDOW_MS))
        oldest = min(item.draft.created_at_ms for item in items) - IDEMPOTENCY_WINDOW_MS
        found: dict[bytes, str] = {}
        if self.dialect == "postgresql":  # one index probe per key (see _stored_fingerprints)
            rows = conn.execute(
                _PG_IDEM_PROBE, {"account": account_id, "keys": keys, "oldest": oldest}
            )
            for fingerprint, message_id in rows:
                found[bytes(fingerprint)] = message_id
            return found
        query = sa.select(m.fingerprint, m.id).where(
            m.account_id == account_id,
            m.idem_key.in_(sa.bindparam("keys", expanding=True)),
            m.created_at >= oldest,
        )
        for start in range(0, len(keys), _IN_CHUNK):
            for fingerprint, message_id in conn.execute(
                query, {"keys": keys[start : start + _IN_CHUNK]}
            ):
                found[bytes(fingerprint)] = message_id
        return found

    def _stored_fingerprints(
        self, conn: Connection, account_id: str, tracking: Sequence[str]
    ) -> dict[str, tuple[str, bytes]]:
        m = t.messages.c
        found: dict[str, tuple[str, bytes]] = {}
        if self.dialect == "postgresql":
            # One index probe per id, whatever the planner believes: with equality on both
            # columns of the unique index it cannot do otherwise, even on a young table whose
            # statistics say it is tiny (where a plain IN list ends up filtering every row
            # of the account).
            rows = conn.execute(_PG_PROBE, {"account": account_id, "ids": list(tracking)})
            for tracking_id, message_id, fingerprint in rows:
                found[tracking_id] = (message_id, bytes(fingerprint))
            return found
        query = sa.select(m.tracking_id, m.id, m.fingerprint).where(
            m.account_id == account_id, m.tracking_id.in_(sa.bindparam("ids", expanding=True))
        )
        for start in range(0, len(tracking), _IN_CHUNK):
            chunk = tracking[start : start + _IN_CHUNK]
            for tracking_id, message_id, fingerprint in conn.execute(query, {"ids": chunk}):
                found[tracking_id] = (message_id, bytes(fingerprint))
        return found

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

    # --- reading back -----------------------------------------------------------------

    async def message_view(
        self, account_id: str, *, message_id: str | None = None, tracking_id: str | None = None
    ) -> MessageView | None:
        m = t.messages.c
        if message_id is not None:
            where = m.id == message_id
        elif tracking_id is not None:
            where = m.tracking_id == tracking_id
        else:
            raise ValueError("message_id or tracking_id is required")
        async with self._read() as conn:
            row = (
                await conn.execute(
                    sa.select(
                        m.id,
                        m.tracking_id,
                        m.status,
                        m.channel,
                        m.reason,
                        m.message_type,
                        m.route,
                        m.phone,
                        m.text,
                        m.created_at,
                        m.scheduled_at,
                        m.expires_at,
                        m.updated_at,
                        m.survey_answer,
                        m.skipped,
                    ).where(where, m.account_id == account_id)
                )
            ).first()
            if row is None:
                return None
            a = t.attempts.c
            steps = [
                (r[0], r[5], AttemptView(*r[1:]))
                for r in await conn.execute(
                    sa.select(
                        a.step,
                        a.channel,
                        a.status,
                        a.reason,
                        a.provider_message_id,
                        a.started_at,
                        a.finished_at,
                        a.parts,
                        a.detail,
                    )
                    .where(a.message_id == row.id)
                    .order_by(a.step, a.started_at)
                )
            ]
            clicks = (
                await conn.execute(
                    sa.select(sa.func.count())
                    .select_from(t.clicks.join(t.short_links))
                    .where(t.short_links.c.message_id == row.id)
                )
            ).scalar_one()
        # the steps skipped at once are kept on the message; they show among the attempts
        for step, channel, status, reason, _sender, at in msgspec.json.decode(row.skipped or "[]"):
            steps.append((step, at, AttemptView(channel, status, reason, None, at, at)))
        steps.sort(key=lambda s: (s[0], s[1]))
        return MessageView(
            id=row.id,
            tracking_id=row.tracking_id,
            status=row.status,
            channel=row.channel,
            reason=row.reason,
            message_type=row.message_type,
            route=row.route,
            phone=row.phone,
            text=row.text,
            created_at_ms=row.created_at,
            scheduled_at_ms=row.scheduled_at,
            expires_at_ms=row.expires_at,
            updated_at_ms=row.updated_at,
            attempts=tuple(view for _, _, view in steps),
            clicks=int(clicks),
            survey_answer=row.survey_answer,
        )

    async def follow_link(self, code: str, at_ms: int, user_agent: str | None) -> str | None:
        s = t.short_links.c
        async with self._write() as conn:
            url = (await conn.execute(sa.select(s.url).where(s.code == code))).scalar()
            if url is None:
                return None
            await conn.execute(t.clicks.insert().values(code=code, at=at_ms, user_agent=user_agent))
        return str(url)
