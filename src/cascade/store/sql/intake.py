"""Intake: new messages committed with their first delivery tasks, in group commits."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cascade.clock import Clock
from cascade.domain.content import encode_plan
from cascade.domain.message import Status
from cascade.store import schema as t
from cascade.store.base import (
    IDEMPOTENCY_WINDOW_MS,
    Conflict,
    NewMessage,
    StoreError,
    TrackingIdConflict,
)
from cascade.store.base import idem_key as _idem_key
from cascade.store.bulk import Bulk
from cascade.store.sql.database import Database

_CONFLICT_RETRIES = 3  # a concurrent request may insert the same tracking id first


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
# SQLite: the same look-ups as one constant statement each, the keys as one JSON array
# parameter, handed straight to the driver: nothing for SQLAlchemy to build, compile or
# expand per group (that had cost more CPU than the rest of a one-message transaction)
_SQLITE_PROBE = (
    "SELECT tracking_id, id, fingerprint FROM messages WHERE account_id = ? "
    "AND tracking_id IN (SELECT value FROM json_each(?))"
)
_SQLITE_IDEM_PROBE = (
    "SELECT fingerprint, id FROM messages WHERE account_id = ? "
    "AND idem_key IN (SELECT value FROM json_each(?)) AND created_at >= ?"
)
_GROUP_MESSAGES = 5000  # a group commit takes requests until it holds this many messages


@dataclass
class _Waiting:
    """A request waiting for its group commit; a message list's gets its list id."""

    account_id: str
    items: Sequence[NewMessage]
    done: asyncio.Future[list[str]]
    listed: bool = False
    list_id: int | None = None


# the columns `_rows` fills, in its order
_MESSAGE_COLUMNS = (
    "id, account_id, tracking_id, fingerprint, idem_key, route, message_type, from_name, "
    "phone, text, survey_options, fallback, media, plan, ttl, pinned_bots, "
    "status, created_at, scheduled_at, expires_at, updated_at, surface, list_id"
)
_INSERT_MESSAGE = Bulk(
    f"INSERT INTO messages ({_MESSAGE_COLUMNS}) "  # noqa: S608 - constant text
    f"VALUES ({', '.join('?' * (_MESSAGE_COLUMNS.count(',') + 1))})",
    # the fingerprint is a BLOB: on SQLite a group's rows are still one statement step,
    # run by SQLite without the GIL, instead of a step per row, each winning the GIL back
    # from the event loop's thread
    blobs=(3,),
)
_INSERT_TASK = Bulk("INSERT INTO tasks (message_id, due_at) VALUES (?, ?)")


def _rows(
    account_id: str, item: NewMessage, list_id: int | None
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
        encode_plan(d.plan) if d.plan else None,
        d.ttl,
        ",".join(item.pinned_bots) or None,
        Status.SCHEDULED.value,
        now,
        d.scheduled_at_ms,
        d.expires_at_ms,
        now,
        item.surface.value,
        list_id,
    )
    task = (item.id, d.due_at_ms)
    links = [
        {"code": link.code, "message_id": item.id, "url": link.url, "created_at": now}
        for link in d.short_links
    ]
    return message, task, links


class Intake(Database):
    def __init__(
        self,
        url: str,
        clock: Clock,
        *,
        sqlite_synchronous: str = "FULL",
        pool_size: int = 10,
    ) -> None:
        super().__init__(url, clock, sqlite_synchronous=sqlite_synchronous, pool_size=pool_size)
        self._accepts: deque[_Waiting] = deque()
        self._accepting = False

    async def accept(self, account_id: str, messages: Sequence[NewMessage]) -> list[str]:
        """Commit new messages with their first tasks (see IntakeStore.accept).

        Requests that arrive while a commit is under way wait for the next one and share
        it (group commit): one transaction, one lookup and one multi-row insert for all of
        them, each request still judged on its own — a conflict in one fails that one only.
        """
        if not messages:
            return []
        waiting = _Waiting(account_id, messages, asyncio.get_running_loop().create_future())
        return await self._wait_for_commit(waiting)

    async def accept_list(
        self, account_id: str, messages: Sequence[NewMessage]
    ) -> tuple[int, list[str]]:
        """Commit a message list (see IntakeStore.accept_list): as `accept`, in the same
        group commits, with a new list id its new messages keep."""
        loop = asyncio.get_running_loop()
        waiting = _Waiting(account_id, messages, loop.create_future(), listed=True)
        ids = await self._wait_for_commit(waiting)
        if waiting.list_id is None:  # numbered in the transaction that stored the result
            raise StoreError("a message list was committed without its id")
        return waiting.list_id, ids

    async def _wait_for_commit(self, waiting: _Waiting) -> list[str]:
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
        new: list[tuple[_Waiting, list[NewMessage]]] = []  # each request's new messages
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
            new.append((waiting, rows))
        self._number_lists(conn, [waiting for waiting, _ in new if waiting.listed])
        message_rows: list[tuple[Any, ...]] = []
        task_rows: list[tuple[str, int]] = []
        due_now = False  # some message is due at once (not scheduled for later)
        link_rows: list[dict[str, Any]] = []
        for waiting, rows in new:
            for item in rows:
                due_now = due_now or item.draft.due_at_ms <= item.draft.created_at_ms
                message, task, links = _rows(waiting.account_id, item, waiting.list_id)
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

    def _number_lists(self, conn: Connection, listed: Sequence[_Waiting]) -> None:
        """Give each message list its id: one multi-row insert, its ids returned in the
        order of its rows."""
        if not listed:
            return
        lists = t.message_lists
        rows = [{"account_id": w.account_id, "created_at": self._clock.now_ms()} for w in listed]
        returned = conn.execute(
            lists.insert().returning(lists.c.id, sort_by_parameter_order=True), rows
        )
        for waiting, list_id in zip(listed, returned.scalars(), strict=True):
            waiting.list_id = int(list_id)

    def _recent_repeats(
        self, conn: Connection, account_id: str, items: Sequence[NewMessage]
    ) -> dict[bytes, str]:
        """Id-less messages stored with the same content within the idempotency window."""
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
        keys_json = msgspec.json.encode(keys).decode()
        for fingerprint, message_id in conn.exec_driver_sql(
            _SQLITE_IDEM_PROBE, (account_id, keys_json, oldest)
        ):
            found[bytes(fingerprint)] = message_id
        return found

    async def stored_tracking_ids(
        self, account_id: str, tracking_ids: Collection[str]
    ) -> dict[str, tuple[str, bytes]]:
        if not tracking_ids:
            return {}
        wanted = list(tracking_ids)
        async with self._read() as conn:
            return await conn.run_sync(
                lambda sync: self._stored_fingerprints(sync, account_id, wanted)
            )

    def _stored_fingerprints(
        self, conn: Connection, account_id: str, tracking: Sequence[str]
    ) -> dict[str, tuple[str, bytes]]:
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
        ids_json = msgspec.json.encode(list(tracking)).decode()
        for tracking_id, message_id, fingerprint in conn.exec_driver_sql(
            _SQLITE_PROBE, (account_id, ids_json)
        ):
            found[tracking_id] = (message_id, bytes(fingerprint))
        return found
