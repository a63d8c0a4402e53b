"""The in-memory store's tables: one dataclass per row of `cascade.store.schema`'s tables,
its fields named as the columns (so tests read either store's rows alike), and the dicts
that hold them."""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from typing import Any

from cascade.clock import Clock


@dataclass(slots=True, kw_only=True)
class AccountRow:
    id: str
    name: str
    default_from_name: str
    send_rate: float | None = None
    send_burst: int | None = None
    status_rate: float | None = None
    status_burst: int | None = None
    channel_order: str | None = None
    created_at: int
    suspended_at: int | None = None


@dataclass(slots=True, kw_only=True)
class ApiKeyRow:
    id: str
    account_id: str
    key_hash: str
    created_at: int
    revoked_at: int | None = None


@dataclass(slots=True, kw_only=True)
class LoginRow:
    login: str
    account_id: str
    password_hash: str
    created_at: int
    updated_at: int


@dataclass(slots=True, kw_only=True)
class BotRow:
    id: str
    account_id: str
    channel: str
    token: str
    token_hash: str
    webhook_secret: str
    created_at: int
    revoked_at: int | None = None


@dataclass(slots=True, kw_only=True)
class MessageRow:
    id: str
    account_id: str
    tracking_id: str
    fingerprint: bytes
    idem_key: str | None
    route: str
    message_type: str
    from_name: str
    phone: str
    text: str | None
    survey_options: str | None
    fallback: str | None
    media: str | None
    plan: str | None = None  # JSON, as the SQL column
    ttl: int
    pinned_bots: str | None  # comma-separated, as the SQL column
    status: str
    step: int = 0
    channel: str | None = None
    reason: str | None = None
    survey_answer: str | None = None
    skipped: str | None = None
    event_seq: int = 0
    created_at: int
    scheduled_at: int | None
    expires_at: int
    updated_at: int
    surface: str = "cascade"
    list_id: int | None = None
    cancel_requested_at: int | None = None


@dataclass(slots=True, kw_only=True)
class MessageListRow:
    id: int
    account_id: str
    created_at: int


@dataclass(slots=True, kw_only=True)
class TaskRow:
    message_id: str
    due_at: int
    lease_owner: str | None = None
    lease_until: int | None = None
    tries: int = 0


@dataclass(slots=True, kw_only=True)
class AttemptRow:
    id: str
    message_id: str
    step: int
    channel: str
    status: str
    reason: str | None
    sender_id: str | None
    address: str | None
    provider_message_id: str | None = None
    parts: int | None = None
    parts_delivered: int = 0
    detail: str | None = None
    started_at: int
    finished_at: int | None
    window_ends_at: int | None = None


@dataclass(slots=True, kw_only=True)
class OrphanRow:
    id: int
    channel: str
    provider_message_id: str
    state: str
    reason: str | None
    at: int
    recipient: str | None
    text_prefix: str | None
    attempt_id: str | None = None


@dataclass(slots=True, kw_only=True)
class ProviderRefRow:
    channel: str
    provider_message_id: str
    attempt_id: str
    delivered: bool = False


@dataclass(slots=True, kw_only=True)
class VerificationRow:
    message_id: str
    code_hash: str
    attempts_left: int
    expires_at: int
    verified_at: int | None = None


@dataclass(slots=True, kw_only=True)
class ContactRow:
    channel: str
    sender_id: str
    phone: str
    address: str
    reachable: bool
    updated_at: int


@dataclass(slots=True, kw_only=True)
class CallbackRow:
    id: str
    account_id: str
    url: str
    secret: str
    created_at: int
    revoked_at: int | None = None
    kind: str = "status"


@dataclass(slots=True, kw_only=True)
class CallbackEventRow:
    id: int
    callback_id: str
    message_id: str | None = None
    incoming_id: str | None = None
    seq: int
    payload: str
    due_at: int
    lease_until: int | None = None
    tries: int = 0
    delivered_at: int | None = None


@dataclass(slots=True, kw_only=True)
class IncomingMessageRow:
    id: str
    account_id: str | None
    channel: str
    phone: str
    to_address: str
    alpha_name: str
    text: str
    provider_id: str | None
    parts: int = 1
    parts_expected: int = 1
    received_at: int


@dataclass(slots=True, kw_only=True)
class IncomingPartRow:
    id: int
    channel: str
    phone: str
    to_address: str
    reference: int
    total: int
    number: int
    text: str
    received_at: int
    incoming_id: str | None = None  # None: waiting; else the message it was joined into


@dataclass(slots=True, kw_only=True)
class VariableRow:
    account_id: str
    type: str
    var_id: int
    value: str
    updated_at: int


@dataclass(slots=True, kw_only=True)
class ShortLinkRow:
    code: str
    message_id: str
    url: str
    created_at: int


@dataclass(slots=True, kw_only=True)
class ClickRow:
    id: int
    code: str
    at: int
    user_agent: str | None


@dataclass(slots=True, kw_only=True)
class PriceLoadRow:
    id: int
    loaded_at: int
    prices: int


@dataclass(slots=True, kw_only=True)
class PriceRow:
    channel: str
    country_prefix: str
    price_micros: int
    currency: str
    load_id: int


@dataclass(slots=True, kw_only=True)
class InstallationSecretRow:
    name: str
    value: str
    created_at: int


@dataclass(slots=True, kw_only=True)
class OrganizationRow:
    id: int
    account_id: str
    name: str
    created_at: int


@dataclass(slots=True, kw_only=True)
class OrganizationBotRow:
    bot_id: str
    organization_id: int
    attached_at: int


@dataclass(slots=True, kw_only=True)
class OperatorRow:
    account_id: str
    id: int
    organization_id: int
    name: str
    status: int
    created_at: int
    updated_at: int


@dataclass(slots=True, kw_only=True)
class ChatRow:
    id: int
    account_id: str
    organization_id: int | None
    bot_id: str
    channel: str
    address: str
    client_name: str | None
    client_phone: str | None
    status: int
    operator_id: int | None
    theme: str | None = None
    created_at: int
    last_message_at: int
    unread: int
    first_client_at: int | None
    first_response_at: int | None = None


@dataclass(slots=True, kw_only=True)
class ChatMediaRow:
    id: int
    account_id: str
    token: str
    name: str
    mime: str
    size: int
    data: bytes
    created_at: int


@dataclass(slots=True, kw_only=True)
class ChatMessageRow:
    id: int
    chat_id: int
    author: int
    content: str
    text: str
    status: int
    reason: str | None = None
    provider_id: str | None
    media_id: int | None = None
    media_ref: str | None = None
    media_due_at: int | None = None
    media_tries: int = 0
    media_error: str | None = None
    created_at: int


@dataclass
class Tables:
    """Every table, keyed by its primary key (insertion order is kept, as dicts do)."""

    accounts: dict[str, AccountRow] = field(default_factory=dict)
    api_keys: dict[str, ApiKeyRow] = field(default_factory=dict)
    logins: dict[str, LoginRow] = field(default_factory=dict)
    bots: dict[str, BotRow] = field(default_factory=dict)
    messages: dict[str, MessageRow] = field(default_factory=dict)
    message_lists: dict[int, MessageListRow] = field(default_factory=dict)
    tasks: dict[str, TaskRow] = field(default_factory=dict)
    attempts: dict[str, AttemptRow] = field(default_factory=dict)
    orphan_reports: dict[int, OrphanRow] = field(default_factory=dict)
    provider_refs: dict[tuple[str, str], ProviderRefRow] = field(default_factory=dict)
    verifications: dict[str, VerificationRow] = field(default_factory=dict)
    contacts: dict[tuple[str, str, str], ContactRow] = field(default_factory=dict)
    callbacks: dict[str, CallbackRow] = field(default_factory=dict)
    callback_events: dict[int, CallbackEventRow] = field(default_factory=dict)
    incoming_messages: dict[str, IncomingMessageRow] = field(default_factory=dict)
    # by (channel, phone, to_address, reference, total, number), as uq_incoming_parts
    incoming_parts: dict[tuple[str, str, str, int, int, int], IncomingPartRow] = field(
        default_factory=dict
    )
    variables: dict[tuple[str, str, int], VariableRow] = field(default_factory=dict)
    short_links: dict[str, ShortLinkRow] = field(default_factory=dict)
    clicks: dict[int, ClickRow] = field(default_factory=dict)
    price_loads: dict[int, PriceLoadRow] = field(default_factory=dict)
    prices: dict[tuple[str, str], PriceRow] = field(default_factory=dict)  # (chan, prefix)
    installation_secrets: dict[str, InstallationSecretRow] = field(default_factory=dict)
    organizations: dict[int, OrganizationRow] = field(default_factory=dict)
    organization_bots: dict[str, OrganizationBotRow] = field(default_factory=dict)  # by bot
    operators: dict[tuple[str, int], OperatorRow] = field(default_factory=dict)  # (acct, id)
    chats: dict[int, ChatRow] = field(default_factory=dict)
    chat_media: dict[int, ChatMediaRow] = field(default_factory=dict)
    chat_messages: dict[int, ChatMessageRow] = field(default_factory=dict)
    # the unique indexes the SQL schema has, and the lookups it indexes
    by_tracking: dict[tuple[str, str], str] = field(default_factory=dict)  # (acct, tid)
    by_idem: dict[tuple[str, str], str] = field(default_factory=dict)  # (acct, idem key)
    by_provider: dict[tuple[str, str], str] = field(default_factory=dict)  # (chan, pid)
    serial: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


class MemoryBase:
    """The tables and the clock every part of `MemoryStore` shares."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._t = Tables()

    def rows(self, table: str) -> list[dict[str, Any]]:
        """A copy of a table's rows as {column: value} (for tests; see the schema)."""
        stored: dict[Any, Any] = getattr(self._t, table)
        return [dataclasses.asdict(row) for row in stored.values()]

    def _set_provider_id(self, attempt: AttemptRow, provider_id: str | None) -> None:
        if provider_id is None or provider_id == attempt.provider_message_id:
            return
        if attempt.provider_message_id is not None:
            old = (attempt.channel, attempt.provider_message_id)
            if self._t.by_provider.get(old) == attempt.id:
                del self._t.by_provider[old]
        attempt.provider_message_id = provider_id
        self._t.by_provider[(attempt.channel, provider_id)] = attempt.id

    async def ping(self) -> None:
        return None

    async def schema_revision(self) -> str | None:
        """The head revision: memory always has the newest schema."""
        from cascade.store.migrate import head_revision

        return head_revision()

    async def close(self) -> None:
        return None
