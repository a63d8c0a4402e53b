"""What each consumer may ask of the store: one Protocol per consumer.

- the API: `ApiStore` (its routes: reading back, short links, flash-call codes, callback
  registration, bots' webhooks, health), `IntakeStore` (intake: messages and variables),
  `AccountStore` (authentication, and the administration of accounts and credentials),
  `PriceStore` (the price table, loaded by the command line), `ChatStore` (ChatHub's
  organizations and operators, and the installation's shared secrets), `ConsoleStore`
  (the console's search and a period's figures);
- the engine: `EngineStore` (the worker: claims, transitions, send intents, kept reports,
  senders and contacts), `InboundStore` (what webhooks and sessions learnt: reports,
  contacts, survey answers, incoming messages), `CallbackStore` (the webhook dispatcher).

`cascade.store.sql.SqlStore` implements every one (checked by mypy there); the composition
root builds it and hands each consumer the part it types.

Implementations translate driver errors into `StoreError` and its subclasses, so no
caller ever catches a SQLAlchemy or driver exception.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Protocol

from cascade.domain.cancel import CancelOutcome, CancelRequest
from cascade.domain.chats import (
    Chat,
    ChatArrival,
    ChatEntry,
    ChatMessage,
    ChatPage,
    ChatQuery,
    ChatReceipts,
    ChatStats,
    ChatStatus,
    NewMedia,
    Operator,
    OperatorChange,
    OperatorStatus,
    OperatorSync,
    Organization,
    PendingMedia,
    StoredMedia,
)
from cascade.domain.delivery import Verdict
from cascade.domain.events import BotChatMessage, ChatMessageStatus, DeliveryReport, InboundMessage
from cascade.domain.funnel import StepCount
from cascade.domain.prices import PriceTable
from cascade.domain.records import (
    AttemptChange,
    Claimed,
    Contact,
    Lease,
    NewAttempt,
    SenderRow,
    Transition,
)
from cascade.domain.search import MessagePage, MessageQuery
from cascade.domain.series import BucketRow
from cascade.domain.timeline import MessageHistory
from cascade.domain.variables import VariableKey
from cascade.store.base import (
    Account,
    CallbackKind,
    Credential,
    CredentialKind,
    Login,
    MessageListView,
    MessageView,
    NewMessage,
    SpendRow,
    StoredIncoming,
    StoreFigures,
)

# --- the API ------------------------------------------------------------------------------


class AccountStore(Protocol):
    """Accounts and credentials: the API's authenticator looks them up; the command line
    and the embedded gateway administer them."""

    async def create_account(self, name: str, default_from_name: str) -> Account: ...
    async def get_account(self, account_id: str) -> Account | None: ...
    async def find_account(self, name: str) -> Account | None:
        """The oldest account with this name."""

    async def set_account_limits(
        self,
        account_id: str,
        *,
        send: tuple[float, int] | None = None,
        status: tuple[float, int] | None = None,
    ) -> bool: ...
    async def set_channel_order(self, account_id: str, order: Sequence[str] | None) -> bool: ...
    async def set_suspended(self, account_id: str, suspended: bool) -> bool:
        """Suspend the account, or lift its suspension; False: no such account."""

    async def add_api_key(self, account_id: str, key_hash: str) -> str:
        """Store a key's hash; return the key's id."""

    async def revoke_api_key(self, key_id: str) -> bool: ...
    async def add_bot(self, account_id: str, channel: str, token: str, token_hash: str) -> str:
        """Register a bot of a bot channel; return its id."""

    async def find_credential(
        self, kind: CredentialKind, secret_hash: str
    ) -> Credential | None: ...

    async def set_login(self, account_id: str, login: str, password_hash: str) -> bool:
        """Create the account's login, or replace its password hash; False: no such
        account. Raises LoginTaken when the login belongs to another account."""

    async def find_login(self, login: str) -> Login | None: ...
    async def replace_password_hash(self, login: str, old_hash: str, new_hash: str) -> bool:
        """Store a password's hash made again with newer parameters, unless the password
        was changed meanwhile (the stored hash is no longer `old_hash`)."""


class IntakeStore(Protocol):
    """What the API's intake stores: new messages, and the account's variables."""

    async def accept(self, account_id: str, messages: Sequence[NewMessage]) -> list[str]:
        """Commit new messages with their first delivery task, in one transaction.

        Returns one messageId per item, in order: the new id, or the id already stored
        under the same tracking id with the same fingerprint (an idempotent repeat). An
        item without a tracking id is a repeat when the same content (fingerprint) was
        stored for the account within the last 24 hours. Raises TrackingIdConflict when a
        tracking id is stored with another fingerprint. Items must carry distinct tracking
        ids and, when id-less, distinct fingerprints.
        """

    async def accept_list(
        self, account_id: str, messages: Sequence[NewMessage]
    ) -> tuple[int, list[str]]:
        """As `accept`, for one core-API message list (SPEC D4): also returns the list's
        new id (an integer), which each new message of it keeps. A repeat keeps the list
        it was first stored in."""

    async def stored_tracking_ids(
        self, account_id: str, tracking_ids: Collection[str]
    ) -> dict[str, tuple[str, bytes]]:
        """Which of these tracking ids the account's messages have, each with its message's
        id and fingerprint (what `accept` would find: a dry run's look-up, storing nothing)."""

    async def account_variables(self, account_id: str) -> dict[VariableKey, str]: ...
    async def upsert_variables(
        self, account_id: str, values: Mapping[VariableKey, str]
    ) -> None: ...


class ApiStore(Protocol):
    """What the API's routes ask besides intake and authentication."""

    # --- health -------------------------------------------------------------------------
    async def ping(self) -> None:
        """Raise StoreError unless the database answers."""

    async def schema_revision(self) -> str | None: ...

    # --- reading back -------------------------------------------------------------------
    async def message_view(
        self, account_id: str, *, message_id: str | None = None, tracking_id: str | None = None
    ) -> MessageView | None: ...
    async def message_list(
        self, account_id: str, list_id: int, offset: int, limit: int
    ) -> MessageListView | None:
        """One page of a core-API message list, its messages ordered by id (None: the
        account has no such list)."""

    async def message_history(
        self,
        account_id: str | None,
        *,
        message_id: str | None = None,
        tracking_id: str | None = None,
    ) -> list[MessageHistory]:
        """What the store keeps of a message, for its timeline (`domain.timeline`): the
        account's message with this id or tracking id (empty: none). `account_id` None:
        any account's (the command line's look-up), when a tracking id may name one
        message in each of several accounts (oldest first)."""

    # --- cancelling (SPEC A9) ----------------------------------------------------------
    async def cancel_messages(self, account_id: str, request: CancelRequest) -> list[CancelOutcome]:
        """Cancel the account's messages the request names, in one transaction, as
        `cascade.domain.cancel.decide_cancel` says for each: one outcome per id, in the
        request's order; an unknown id, or another account's, is `not_found` and changes
        nothing."""

    async def follow_link(self, code: str, at_ms: int, user_agent: str | None) -> str | None:
        """Record a click on a short link; return its target, or None for an unknown code."""

    # --- flash-call codes ---------------------------------------------------------------
    async def verify_code(self, account_id: str, message_id: str, hashed: str) -> Verdict:
        """What the check came to; a wrong code uses up one attempt (see SqlStore)."""

    # --- webhooks in and out ------------------------------------------------------------
    async def sender(self, sender_id: str) -> SenderRow | None: ...
    async def add_callback(
        self, account_id: str, url: str, secret: str, kind: CallbackKind = CallbackKind.STATUS
    ) -> str: ...
    async def list_callbacks(
        self, account_id: str, kind: CallbackKind = CallbackKind.STATUS
    ) -> list[tuple[str, str]]: ...
    async def remove_callback(self, account_id: str, callback_id: str) -> bool: ...


class PriceStore(Protocol):
    """The price table (SPEC D9): loaded whole by `cascade prices load`, read by whatever
    prices a send (the status, a dry run, the console), mostly through a `PriceBook`."""

    async def load_prices(self, table: PriceTable) -> int:
        """Replace the whole table with `table`'s prices, in one transaction (a price file
        is the operator's whole table: nothing of the old one is kept); return the new
        version. Raises ValueError, storing nothing, for a price the table cannot hold
        (negative, a billion or more, more than six decimal places)."""

    async def price_table(self) -> PriceTable:
        """The current table with its version (empty, version 0, before any load)."""

    async def price_version(self) -> int:
        """The current table's version, cheaply: each load's is greater (0: none yet)."""


class ConsoleStore(Protocol):
    """What the console (SPEC F) reads of an account's messages: a search, and the figures
    of a period (its messages accepted at or after `since_ms` and before `until_ms`)."""

    async def search_messages(self, account_id: str, query: MessageQuery) -> MessagePage:
        """The account's messages that match every filter of `query`, the latest accepted
        first (ties by id, descending), one page of them, with how many match in all."""

    async def step_counts(self, account_id: str, since_ms: int, until_ms: int) -> list[StepCount]:
        """The steps of the period's messages, by channel and status: attempt rows, and
        steps passed over at once (kept on the message) counted apart (`passed_over`)."""

    async def spend_rows(self, account_id: str, since_ms: int, until_ms: int) -> list[SpendRow]:
        """The period's messages that have an attempt the provider took (with its id),
        each with those attempts only, in no particular order."""

    async def throughput(
        self, account_id: str, since_ms: int, until_ms: int, size_ms: int
    ) -> list[BucketRow]:
        """The period cut in buckets of `size_ms` from `since_ms`: per bucket that had
        any, the messages accepted in it, and the messages whose confirmation (a
        `delivered` or `read` attempt's end) came in it with the sum and the largest of
        their latencies (confirmation minus the later of acceptance and schedule)."""


class ChatStore(Protocol):
    """ChatHub (SPEC E1-E2): organizations, the bots they own, their operators; and the
    installation's shared secrets (the JWT signing key). Writes that name an account,
    organization or bot the account does not have raise `NotFound`, writing nothing."""

    async def installation_secret(self, name: str, candidate: str) -> str:
        """The secret stored under `name`; `candidate` is stored first when none is (the
        first process to ask wins, and every process gets the same one)."""

    async def create_organization(self, account_id: str, name: str) -> Organization: ...
    async def organizations(self, account_id: str) -> list[Organization]:
        """The account's organizations, oldest first."""

    async def organization(self, organization_id: int) -> Organization | None:
        """An organization by id, whichever account's (the command line's look-up)."""

    async def attach_bots(
        self, account_id: str, organization_id: int, bot_ids: Sequence[str]
    ) -> None:
        """Make the organization own these bots of its account, taking each from the
        organization that owned it, if any (a bot belongs to at most one)."""

    async def organization_bots(self, organization_id: int) -> list[str]:
        """The ids of the bots the organization owns, in the order they were attached."""

    async def bot_organization(self, bot_id: str) -> Organization | None:
        """The organization that owns the bot (its chats join it), if any."""

    async def operators(
        self, account_id: str, organization_id: int | None = None
    ) -> list[Operator]:
        """The account's operators (of one organization, when given), deleted ones too,
        by id."""

    async def operator(self, account_id: str, operator_id: int) -> Operator | None: ...
    async def synchronize_operators(
        self, account_id: str, items: Sequence[OperatorSync]
    ) -> list[Operator]:
        """Upsert, in one transaction: an item with an id updates the account's operator
        of that id (name, organization; its status stays) or creates it active with that
        id; one without an id creates an active operator with the next id after the
        account's highest. Operators not named are left as they are. Returns the
        operators in the items' order. Items must carry distinct ids."""

    async def set_operator_status(
        self, account_id: str, operator_id: int, status: OperatorStatus
    ) -> OperatorChange | None:
        """Set an operator's status and, in the same transaction, place its organization's
        chats as `cascade.domain.chats.placements_after` says: the operator, and the chats
        placed as they are now (the oldest first); None: the account has no such
        operator."""

    # --- chats (SPEC E3) ---------------------------------------------------------------

    async def chat(self, account_id: str, chat_id: int) -> Chat | None: ...
    async def list_chats(self, account_id: str, query: ChatQuery) -> ChatPage:
        """The chats that match, the latest message first, one page of them."""

    async def chat_messages(
        self, account_id: str, chat_id: int, page: int, per_page: int
    ) -> list[ChatMessage] | None:
        """A page of the chat's messages, oldest first; None: no such chat."""

    async def mark_chat_read(self, account_id: str, chat_id: int) -> None: ...
    async def set_chat_status(
        self, account_id: str, chat_id: int, status: ChatStatus
    ) -> Chat | None: ...
    async def delete_chat(self, account_id: str, chat_id: int) -> bool:
        """Remove the chat with its messages and their media; False: no such chat."""

    async def add_operator_message(
        self, account_id: str, chat_id: int, text: str, media: NewMedia | None = None
    ) -> ChatEntry | None:
        """Store an operator's message (New), with its media; the chat's first response
        time is set by the first, and a New chat becomes Open. None: no such chat."""

    async def settle_operator_message(
        self,
        message_id: int,
        status: ChatMessageStatus,
        provider_id: str | None,
        reason: str | None = None,
    ) -> ChatEntry | None:
        """What the platform answered to the send: its status and id; receipts that came
        first (kept as orphan reports) are applied."""

    async def chat_media(self, account_id: str, chat_id: int, media_id: int) -> StoredMedia | None:
        """A media of one of the chat's messages."""

    async def public_chat_media(self, token: str) -> StoredMedia | None: ...
    async def claim_due_media(self, limit: int = 20, lease_ms: int = 60_000) -> list[PendingMedia]:
        """People's media whose fetch is due, the longest waiting first, each leased for
        `lease_ms`: another process does not take it meanwhile, and it is due again after
        if nothing settles it (`attach_chat_media`, `chat_media_failed`)."""

    async def attach_chat_media(self, message_id: int, media: NewMedia) -> ChatEntry | None: ...
    async def chat_media_failed(
        self, message_id: int, reason: str, retry_at_ms: int | None
    ) -> None: ...
    async def chat_stats(self, account_id: str) -> ChatStats:
        """For the console: the account's chats by status, and first-response times."""


# --- the engine ---------------------------------------------------------------------------


class InboundStore(Protocol):
    """What channels' webhooks and sessions learnt, applied (`cascade.engine.inbound`)."""

    async def record_reports(self, reports: Sequence[DeliveryReport]) -> list[bool]:
        """Apply delivery reports in one transaction; for each, whether it found its
        attempt (one that matches none yet is kept, and applied once it does)."""

    async def link_contact(
        self, channel: str, sender_id: str, phone: str, address: str
    ) -> None: ...
    async def set_contact_reachable(
        self, channel: str, sender_id: str, address: str, reachable: bool
    ) -> int: ...
    async def record_survey_answer(
        self, channel: str, sender_id: str, address: str, answer: str, message_id: str | None
    ) -> bool: ...
    async def record_chat_messages(
        self, messages: Sequence[BotChatMessage]
    ) -> list[ChatArrival | None]:
        """Store what people wrote to bots, in one transaction: each finds its chat or
        begins one (joined to its bot's organization, given an operator by the assignment
        rule). None: a message the platform repeated, or one to an unknown bot."""

    async def record_chat_receipts(self, reports: Sequence[DeliveryReport]) -> ChatReceipts:
        """Apply receipts for operators' chat messages (found by provider id and channel)."""

    async def record_incoming(
        self, messages: Sequence[InboundMessage]
    ) -> list[StoredIncoming | None]:
        """Store what people wrote, in one transaction, each with the events it owes the
        account's incoming URLs (see `cascade.store.sql.incoming` for which account); for
        each, what was stored, or None (a piece of an SMS still waiting for the others, or
        a message the provider repeated)."""


class RouteStore(Protocol):
    """What deciding a message's route reads: the accounts' bots and the phones' contacts
    (the engine's planner, and a dry run's preview of it)."""

    async def senders(self, account_ids: Iterable[str]) -> list[SenderRow]: ...
    async def contacts(self, phones: Iterable[str]) -> dict[tuple[str, str, str], Contact]: ...


class EngineStore(InboundStore, RouteStore, Protocol):
    """The engine's worker: claims due work, commits its transitions and send intents,
    reads senders and contacts, and sweeps the reports kept."""

    async def claim(self, owner: str, now_ms: int, lease_ms: int, limit: int) -> list[Claimed]:
        """Take up to `limit` due messages for `lease_ms` (see `cascade.store.sql.ledger`)."""

    async def next_due_ms(self) -> int | None: ...
    async def apply(self, transitions: Sequence[Transition]) -> None:
        """Commit engine decisions, in one transaction."""

    async def record_intents(
        self,
        new: Sequence[NewAttempt],
        resent: Sequence[AttemptChange],
        plans: Sequence[Transition] = (),
        results: Sequence[Transition] = (),
        lease: Lease | None = None,
    ) -> frozenset[str]:
        """Commit `sending` attempts after the plans that led to them, and `results`
        last, in one transaction; under a `lease`, only for the messages whose task that
        claim still holds, returning the refused ones' ids (see `cascade.store.sql.ledger`)."""

    async def match_orphans(self) -> None:
        """Apply the kept reports that now find their attempt."""

    async def flush_incoming_parts(self, older_than_ms: int) -> list[StoredIncoming]:
        """Store the pieces of SMS whose first piece came at or before `older_than_ms`
        (the rest never came) as the message they make so far."""

    async def close(self) -> None: ...


class CallbackStore(Protocol):
    """The webhook dispatcher's part: the events owed, claimed and settled."""

    async def claim_callback_events(
        self, now_ms: int, lease_ms: int, limit: int
    ) -> list[tuple[int, str, str, str, int]]: ...

    async def finish_callback_events(
        self, delivered: Sequence[int], retry: Sequence[tuple[int, int]]
    ) -> None: ...

    async def messages_by_id(self, message_ids: Collection[str]) -> list[MessageView]:
        """These messages' views, whichever account's (an event names its message, not its
        account: the core API's webhooks are priced from them); unknown ids left out."""


class FiguresStore(Protocol):
    """The metrics' part: aggregates read when they are scraped."""

    async def figures(self, now_ms: int, first_response_bounds_ms: Sequence[int]) -> StoreFigures:
        """The backlog due at `now_ms`, and ChatHub's chats (`StoreFigures`)."""


class Store(
    AccountStore,
    IntakeStore,
    ApiStore,
    PriceStore,
    ChatStore,
    ConsoleStore,
    EngineStore,
    CallbackStore,
    FiguresStore,
    Protocol,
):
    """Every consumer's part in one: what each implementation (SqlStore, MemoryStore) is."""
