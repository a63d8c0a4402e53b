"""The in-memory store's API side: accounts and credentials, intake, variables, reading
back, short links, senders and contacts, callbacks and their events."""

from __future__ import annotations

import hmac
import secrets
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence

import msgspec

from cascade.domain.content import encode_plan
from cascade.domain.delivery import Verdict
from cascade.domain.message import MessageType, Status
from cascade.domain.records import Contact, SenderRow
from cascade.domain.variables import VariableKey
from cascade.store.base import (
    IDEMPOTENCY_WINDOW_MS,
    Account,
    AttemptView,
    CallbackKind,
    Conflict,
    Credential,
    CredentialKind,
    Login,
    LoginTaken,
    MessageListView,
    MessageView,
    NewMessage,
    TrackingIdConflict,
    idem_key,
    view_of,
)
from cascade.store.memory.tables import (
    AccountRow,
    ApiKeyRow,
    BotRow,
    CallbackRow,
    ClickRow,
    ContactRow,
    LoginRow,
    MemoryBase,
    MessageListRow,
    MessageRow,
    ShortLinkRow,
    TaskRow,
    VariableRow,
)


class Records(MemoryBase):
    # --- accounts and credentials -------------------------------------------------------

    async def create_account(self, name: str, default_from_name: str) -> Account:
        account = Account(str(uuid.uuid4()), name, default_from_name, None, None, None, None)
        self._t.accounts[account.id] = AccountRow(
            id=account.id,
            name=name,
            default_from_name=default_from_name,
            created_at=self._clock.now_ms(),
        )
        return account

    async def get_account(self, account_id: str) -> Account | None:
        row = self._t.accounts.get(account_id)
        return _account(row) if row else None

    async def find_account(self, name: str) -> Account | None:
        found = [a for a in self._t.accounts.values() if a.name == name]
        return _account(min(found, key=lambda a: a.created_at)) if found else None

    async def set_channel_order(self, account_id: str, order: Sequence[str] | None) -> bool:
        row = self._t.accounts.get(account_id)
        if row is None:
            return False
        row.channel_order = ",".join(order) if order is not None else None
        return True

    async def set_suspended(self, account_id: str, suspended: bool) -> bool:
        row = self._t.accounts.get(account_id)
        if row is None:
            return False
        row.suspended_at = self._clock.now_ms() if suspended else None
        return True

    async def set_account_limits(
        self,
        account_id: str,
        *,
        send: tuple[float, int] | None = None,
        status: tuple[float, int] | None = None,
    ) -> bool:
        if not send and not status:
            return True
        row = self._t.accounts.get(account_id)
        if row is None:
            return False
        if send:
            row.send_rate, row.send_burst = send
        if status:
            row.status_rate, row.status_burst = status
        return True

    async def add_api_key(self, account_id: str, key_hash: str) -> str:
        if any(k.key_hash == key_hash for k in self._t.api_keys.values()):
            raise Conflict("api key hash is taken")
        key_id = str(uuid.uuid4())
        self._t.api_keys[key_id] = ApiKeyRow(
            id=key_id, account_id=account_id, key_hash=key_hash, created_at=self._clock.now_ms()
        )
        return key_id

    async def revoke_api_key(self, key_id: str) -> bool:
        row = self._t.api_keys.get(key_id)
        if row is None or row.revoked_at is not None:
            return False
        row.revoked_at = self._clock.now_ms()
        return True

    async def add_bot(self, account_id: str, channel: str, token: str, token_hash: str) -> str:
        if any(b.token_hash == token_hash for b in self._t.bots.values()):
            raise Conflict("bot token hash is taken")
        bot_id = str(uuid.uuid4())
        self._t.bots[bot_id] = BotRow(
            id=bot_id,
            account_id=account_id,
            channel=channel,
            token=token,
            token_hash=token_hash,
            webhook_secret=secrets.token_hex(16),
            created_at=self._clock.now_ms(),
        )
        return bot_id

    async def find_credential(self, kind: CredentialKind, secret_hash: str) -> Credential | None:
        if kind is CredentialKind.API_KEY:
            for k in self._t.api_keys.values():
                if k.key_hash == secret_hash and k.revoked_at is None:
                    return Credential(k.account_id, kind, None)
            return None
        for b in self._t.bots.values():
            if b.token_hash == secret_hash and b.revoked_at is None:
                return Credential(b.account_id, kind, b.id, b.channel)
        return None

    # --- logins ---------------------------------------------------------------------------

    async def set_login(self, account_id: str, login: str, password_hash: str) -> bool:
        row = self._t.logins.get(login)
        now = self._clock.now_ms()
        if row is not None and row.account_id != account_id:
            raise LoginTaken(login)
        if row is not None:
            row.password_hash, row.updated_at = password_hash, now
            return True
        if account_id not in self._t.accounts:
            return False
        self._t.logins[login] = LoginRow(
            login=login,
            account_id=account_id,
            password_hash=password_hash,
            created_at=now,
            updated_at=now,
        )
        return True

    async def find_login(self, login: str) -> Login | None:
        row = self._t.logins.get(login)
        return Login(row.login, row.account_id, row.password_hash) if row else None

    async def replace_password_hash(self, login: str, old_hash: str, new_hash: str) -> bool:
        row = self._t.logins.get(login)
        if row is None or row.password_hash != old_hash:
            return False
        row.password_hash, row.updated_at = new_hash, self._clock.now_ms()
        return True

    # --- variables ----------------------------------------------------------------------

    async def account_variables(self, account_id: str) -> dict[VariableKey, str]:
        return {
            (v.type, v.var_id): v.value
            for v in self._t.variables.values()
            if v.account_id == account_id
        }

    async def upsert_variables(self, account_id: str, values: Mapping[VariableKey, str]) -> None:
        now = self._clock.now_ms()
        for (kind, ident), value in values.items():
            self._t.variables[(account_id, kind, ident)] = VariableRow(
                account_id=account_id, type=kind, var_id=ident, value=value, updated_at=now
            )

    # --- intake -------------------------------------------------------------------------

    async def accept(self, account_id: str, messages: Sequence[NewMessage]) -> list[str]:
        """Commit new messages with their first tasks (see IntakeStore.accept): every item
        is judged first, and nothing is stored when one conflicts."""
        return self._accept(account_id, messages, None)

    async def accept_list(
        self, account_id: str, messages: Sequence[NewMessage]
    ) -> tuple[int, list[str]]:
        """As `accept`, numbering the list first (see IntakeStore.accept_list); a list
        whose items conflict takes no number."""
        list_id = len(self._t.message_lists) + 1
        ids = self._accept(account_id, messages, list_id)
        self._t.message_lists[list_id] = MessageListRow(
            id=list_id, account_id=account_id, created_at=self._clock.now_ms()
        )
        return list_id, ids

    def _accept(
        self, account_id: str, messages: Sequence[NewMessage], list_id: int | None
    ) -> list[str]:
        if not messages:
            return []
        t = self._t
        keyless = [m.draft.created_at_ms for m in messages if m.draft.tracking_id is None]
        oldest = min(keyless) - IDEMPOTENCY_WINDOW_MS if keyless else 0
        ids: list[str] = []
        mine: dict[str, tuple[str, bytes]] = {}
        rows: list[NewMessage] = []
        for index, item in enumerate(messages):
            d = item.draft
            stored: tuple[str, bytes] | None = None
            if d.tracking_id is None:
                key = "~" + d.fingerprint.hex()
                for at in (d.created_at_ms, d.created_at_ms - IDEMPOTENCY_WINDOW_MS):
                    found = t.by_idem.get((account_id, idem_key(d.fingerprint, at)))
                    if found is not None and t.messages[found].created_at >= oldest:
                        stored = (found, d.fingerprint)
            else:
                key = d.tracking_id
                found = t.by_tracking.get((account_id, d.tracking_id))
                if found is not None:
                    stored = (found, t.messages[found].fingerprint)
            stored = stored or mine.get(key)
            if stored is not None:
                if stored[1] != d.fingerprint:
                    raise TrackingIdConflict(index)
                ids.append(stored[0])
                continue
            ids.append(item.id)
            mine[key] = (item.id, d.fingerprint)
            rows.append(item)
        for item in rows:
            self._insert_message(account_id, item, list_id)
        return ids

    def _insert_message(self, account_id: str, item: NewMessage, list_id: int | None) -> None:
        d = item.draft
        encode = msgspec.json.encode
        now = d.created_at_ms
        key = idem_key(d.fingerprint, now) if d.tracking_id is None else None
        row = MessageRow(
            id=item.id,
            account_id=account_id,
            tracking_id=d.tracking_id or item.id,
            fingerprint=d.fingerprint,
            idem_key=key,
            route=d.route.value,
            message_type=d.message_type.value,
            from_name=d.from_name,
            phone=d.phone,
            text=d.text,
            survey_options=encode(d.survey_options).decode() if d.survey_options else None,
            fallback=encode(
                {"messageType": d.fallback.message_type.value, "text": d.fallback.text}
            ).decode()
            if d.fallback
            else None,
            media=encode(d.media).decode() if d.media else None,
            plan=encode_plan(d.plan) if d.plan else None,
            ttl=d.ttl,
            pinned_bots=",".join(item.pinned_bots) or None,
            status=Status.SCHEDULED.value,
            created_at=now,
            scheduled_at=d.scheduled_at_ms,
            expires_at=d.expires_at_ms,
            updated_at=now,
            surface=item.surface.value,
            list_id=list_id,
        )
        t = self._t
        t.messages[row.id] = row
        t.by_tracking[(account_id, row.tracking_id)] = row.id
        if key is not None:
            t.by_idem[(account_id, key)] = row.id
        t.tasks[row.id] = TaskRow(message_id=row.id, due_at=d.due_at_ms)
        for link in d.short_links:
            t.short_links[link.code] = ShortLinkRow(
                code=link.code, message_id=row.id, url=link.url, created_at=now
            )

    async def stored_tracking_ids(
        self, account_id: str, tracking_ids: Collection[str]
    ) -> dict[str, tuple[str, bytes]]:
        t = self._t
        found: dict[str, tuple[str, bytes]] = {}
        for tracking_id in tracking_ids:
            message_id = t.by_tracking.get((account_id, tracking_id))
            if message_id is not None:
                found[tracking_id] = (message_id, t.messages[message_id].fingerprint)
        return found

    # --- reading back -------------------------------------------------------------------

    async def message_view(
        self, account_id: str, *, message_id: str | None = None, tracking_id: str | None = None
    ) -> MessageView | None:
        t = self._t
        if message_id is not None:
            row = t.messages.get(message_id)
        elif tracking_id is not None:
            found = t.by_tracking.get((account_id, tracking_id))
            row = t.messages.get(found) if found else None
        else:
            raise ValueError("message_id or tracking_id is required")
        if row is None or row.account_id != account_id:
            return None
        return self._view(row)

    async def messages_by_id(self, message_ids: Collection[str]) -> list[MessageView]:
        rows = (self._t.messages.get(message_id) for message_id in message_ids)
        return [self._view(row) for row in rows if row is not None]

    async def message_list(
        self, account_id: str, list_id: int, offset: int, limit: int
    ) -> MessageListView | None:
        listed = self._t.message_lists.get(list_id)
        if listed is None or listed.account_id != account_id:
            return None
        rows = sorted(
            (m for m in self._t.messages.values() if m.list_id == list_id),
            key=lambda m: (m.created_at, m.id),
        )
        page = rows[offset : offset + limit]
        return MessageListView(
            list_id, listed.created_at, len(rows), tuple(self._view(m) for m in page)
        )

    def _view(self, row: MessageRow) -> MessageView:
        t = self._t
        steps = [
            (
                a.step,
                a.started_at,
                AttemptView(
                    a.channel,
                    a.status,
                    a.reason,
                    a.provider_message_id,
                    a.started_at,
                    a.finished_at,
                    a.parts,
                    a.detail,
                    a.step,
                ),
            )
            for a in t.attempts.values()
            if a.message_id == row.id
        ]
        codes = {s.code for s in t.short_links.values() if s.message_id == row.id}
        clicks = sum(1 for c in t.clicks.values() if c.code in codes)
        return view_of(row, steps, clicks)

    async def follow_link(self, code: str, at_ms: int, user_agent: str | None) -> str | None:
        link = self._t.short_links.get(code)
        if link is None:
            return None
        click_id = next(self._t.serial)
        self._t.clicks[click_id] = ClickRow(id=click_id, code=code, at=at_ms, user_agent=user_agent)
        return link.url

    # --- senders, contacts, survey answers ----------------------------------------------

    async def senders(self, account_ids: Iterable[str]) -> list[SenderRow]:
        accounts = set(account_ids)
        bots = [
            b for b in self._t.bots.values() if b.account_id in accounts and b.revoked_at is None
        ]
        bots.sort(key=lambda b: b.created_at)
        return [_sender(b) for b in bots]

    async def sender(self, sender_id: str) -> SenderRow | None:
        b = self._t.bots.get(sender_id)
        return _sender(b) if b is not None and b.revoked_at is None else None

    async def contacts(self, phones: Iterable[str]) -> dict[tuple[str, str, str], Contact]:
        wanted = set(phones)
        return {
            key: Contact(c.address, c.reachable)
            for key, c in self._t.contacts.items()
            if c.phone in wanted
        }

    async def link_contact(self, channel: str, sender_id: str, phone: str, address: str) -> None:
        await self.upsert_contacts([(channel, sender_id, phone, address, True)])

    async def upsert_contacts(self, rows: Sequence[tuple[str, str, str, str, bool]]) -> int:
        """Insert or replace contacts (channel, sender_id, phone, address, reachable)."""
        now = self._clock.now_ms()
        for ch, s, p, a, r in rows:
            self._t.contacts[(ch, s, p)] = ContactRow(
                channel=ch, sender_id=s, phone=p, address=a, reachable=r, updated_at=now
            )
        return len(rows)

    async def set_contact_reachable(
        self, channel: str, sender_id: str, address: str, reachable: bool
    ) -> int:
        return self._set_reachable(channel, sender_id, address, reachable, self._clock.now_ms())

    def _set_reachable(
        self, channel: str, sender_id: str, address: str, reachable: bool, now: int
    ) -> int:
        changed = 0
        for c in self._t.contacts.values():
            if (c.channel, c.sender_id, c.address) == (channel, sender_id, address):
                c.reachable, c.updated_at = reachable, now
                changed += 1
        return changed

    async def record_survey_answer(
        self, channel: str, sender_id: str, address: str, answer: str, message_id: str | None
    ) -> bool:
        t = self._t
        survey = MessageType.VIBER_SURVEY
        if message_id is None:
            # the newest survey sent to this user through this sender
            sent = [
                a
                for a in t.attempts.values()
                if (a.channel, a.sender_id, a.address) == (channel, sender_id, address)
                and a.message_id in t.messages
                and t.messages[a.message_id].message_type == survey
            ]
            if not sent:
                return False
            message_id = max(sent, key=lambda a: a.started_at).message_id
        row = t.messages.get(message_id)
        if row is None or row.message_type != survey:
            return False
        row.survey_answer, row.updated_at = answer, self._clock.now_ms()
        return True

    # --- status-webhook callbacks -------------------------------------------------------

    async def add_callback(
        self, account_id: str, url: str, secret: str, kind: CallbackKind = CallbackKind.STATUS
    ) -> str:
        callback_id = str(uuid.uuid4())
        self._t.callbacks[callback_id] = CallbackRow(
            id=callback_id,
            account_id=account_id,
            url=url,
            secret=secret,
            created_at=self._clock.now_ms(),
            kind=kind,
        )
        return callback_id

    async def list_callbacks(
        self, account_id: str, kind: CallbackKind = CallbackKind.STATUS
    ) -> list[tuple[str, str]]:
        found = [
            c
            for c in self._t.callbacks.values()
            if c.account_id == account_id and c.kind == kind and c.revoked_at is None
        ]
        found.sort(key=lambda c: c.created_at)
        return [(c.id, c.url) for c in found]

    async def remove_callback(self, account_id: str, callback_id: str) -> bool:
        c = self._t.callbacks.get(callback_id)
        if c is None or c.account_id != account_id or c.revoked_at is not None:
            return False
        c.revoked_at = self._clock.now_ms()
        return True

    async def claim_callback_events(
        self, now_ms: int, lease_ms: int, limit: int
    ) -> list[tuple[int, str, str, str, int]]:
        """Due webhook events: (event id, url, secret, payload, tries so far)."""
        due = [
            e
            for e in self._t.callback_events.values()
            if e.delivered_at is None and e.due_at <= now_ms
        ]
        due.sort(key=lambda e: e.due_at)
        claimed = due[:limit]
        for e in claimed:
            e.due_at = now_ms + lease_ms
        claimed.sort(key=lambda e: (e.message_id or "", e.seq, e.id))
        callbacks = self._t.callbacks
        return [
            (
                e.id,
                callbacks[e.callback_id].url,
                callbacks[e.callback_id].secret,
                e.payload,
                e.tries,
            )
            for e in claimed
        ]

    async def finish_callback_events(
        self, delivered: Sequence[int], retry: Sequence[tuple[int, int]]
    ) -> None:
        """Mark events acknowledged; reschedule the others at their backoff time."""
        events = self._t.callback_events
        now = self._clock.now_ms()
        for event_id in delivered:
            if event_id in events:
                events[event_id].delivered_at = now
        for event_id, due in retry:
            if event_id in events:
                events[event_id].due_at = due
                events[event_id].tries += 1

    # --- flash-call codes ---------------------------------------------------------------

    async def verify_code(self, account_id: str, message_id: str, hashed: str) -> Verdict:
        """Check a flash-call code's hash: OK, WRONG, EXHAUSTED, EXPIRED or UNKNOWN (as
        `cascade.store.sql.verification` does: a wrong code uses up one attempt)."""
        now = self._clock.now_ms()
        message = self._t.messages.get(message_id)
        v = self._t.verifications.get(message_id)
        if v is None or message is None or message.account_id != account_id:
            return Verdict.UNKNOWN
        right = hmac.compare_digest(v.code_hash, hashed)
        if v.verified_at is None and v.attempts_left > 0 and v.expires_at > now:
            if right:
                v.verified_at = now
                return Verdict.OK
            v.attempts_left -= 1
            return Verdict.WRONG if v.attempts_left > 0 else Verdict.EXHAUSTED
        if v.verified_at is not None:
            return Verdict.OK if right else Verdict.WRONG
        if v.attempts_left <= 0:
            return Verdict.EXHAUSTED
        return Verdict.EXPIRED


def _account(row: AccountRow) -> Account:
    order = tuple(row.channel_order.split(",")) if row.channel_order else None
    return Account(
        row.id,
        row.name,
        row.default_from_name,
        row.send_rate,
        row.send_burst,
        row.status_rate,
        row.status_burst,
        channel_order=order,
        suspended=row.suspended_at is not None,
    )


def _sender(b: BotRow) -> SenderRow:
    return SenderRow(b.id, b.account_id, b.channel, b.token, b.webhook_secret)
