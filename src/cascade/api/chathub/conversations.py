"""ChatHub's chats (SPEC E3-E4): the commands REST and the hub share, the live events, and
the fetching of people's media.

- `Conversations.send` is an operator's message, from `POST /api/chat/{id}/message` and
  the hub's `SendMessage` / `SendMediaMessage` alike: stored (New) and shown at once to
  every connection that sees the chat but the one sending it (`ReceiveMessage`, or
  `ReceiveMediaMessage` with an upload), sent on the bot's own protocol through its channel
  (`cascade.channels.bot_chat.BotChat`), settled with what the platform said (Telegram's
  acceptance is Success; Viber's answer leaves it New until its `delivered` / `seen`
  receipt makes it Success / Read; a refusal is Rejected), and announced with
  `MessageStatusChanged`.
- `Conversations.announce_placed`: chats an operator's status change handed to another
  operator or released (`cascade.domain.chats.placements_after`) are sent again as
  `ChatCreated`, as they are now (see the method for why that event).
- `Conversations.announce` turns what a webhook stored (`cascade.engine.inbound.Applied`)
  into hub events — `ChatCreated`, `ReceiveMessage`, `MessageStatusChanged` — published
  through the hub's bus from the API process that stored them, so every process's
  connections get them.
- `MediaFetcher` fetches people's media after the webhook was answered: the message is
  stored first with its platform reference, the bytes follow (`ReceiveMediaMessage`); a
  failed fetch is tried again later (`RETRY_S`), and the message is never lost.

Who sees what: an event goes to the chat's organization (`Audience(account,
organization)`): a company token or API key sees every chat of its account, an operator
token its organization's (SPEC E1: an operator token reaches only its own organization's
chats; E4: a company token sees all). A company's connection sees its account's every
organization, those created after it connected too; an operator's holds the organization
it had when it connected, so a change of who the operator is closes its connections
(`Dismissal`s below, sent by the routes and the CLI that make the change): deleted, with
no reconnect (its token is refused from then on); moved to another organization, with
`allowReconnect` (reconnecting, it holds the new one); and an account suspended closes
all of its account's connections, with no reconnect.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import mimetypes
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol
from urllib.parse import quote

import msgspec

from cascade.api.chathub.hub import Audience, Dismissal, Hub, HubError, HubPrincipal
from cascade.api.chathub.tokens import ChatPrincipal
from cascade.api.chathub.wire import ChatError
from cascade.api.chathub.wire import iso_ms as iso
from cascade.channels.bot_chat import BotChat, MediaFetchError, MediaTooLarge, OutgoingMedia
from cascade.clock import Clock
from cascade.domain.chats import (
    MAX_CHAT_TEXT,
    MAX_MEDIA_BYTES,
    Chat,
    ChatArrival,
    ChatEntry,
    ChatMessage,
    NewMedia,
    Operator,
    PendingMedia,
    media_name_problem,
)
from cascade.domain.events import ChatMessageStatus, MediaRef
from cascade.domain.records import SenderRow
from cascade.domain.sending import Sender
from cascade.store import ChatStore

log = logging.getLogger(__name__)

MEDIA_TOO_LARGE = f"The media is larger than {MAX_MEDIA_BYTES} bytes (20 MB)"
# tries of a person's media after the first: seconds to wait before each
RETRY_S = (5, 30, 120, 600, 1800)
FETCH_POLL_S = 30.0
# an operator's send the platform throttled, or that reached nothing, is tried again after
# these many seconds (the caller waits: a REST call or a hub invocation)
SEND_RETRY_S = (1.0, 2.0)  # media due are looked for this often, and at once when one arrives


class ConversationStore(ChatStore, Protocol):
    async def sender(self, sender_id: str) -> SenderRow | None: ...


# --- who sees what ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChatHubPrincipal:
    """A ChatHub principal as the hub sees it (`HubPrincipal`)."""

    chat: ChatPrincipal

    @property
    def id(self) -> str:
        if self.chat.operator_id is not None:
            return f"operator:{self.chat.account.id}:{self.chat.operator_id}"
        return f"company:{self.chat.account.id}"

    @property
    def account_id(self) -> str:
        return self.chat.account.id

    @property
    def expires_at_ms(self) -> int | None:
        return self.chat.expires_at_ms

    def sees(self, audience: Audience) -> bool:
        if audience.account_id != self.chat.account.id:
            return False
        if self.chat.is_company:
            return True
        org = audience.organization_id
        return org is not None and org.isdigit() and self.chat.sees(int(org))

    def dismissed_by(self, dismissal: Dismissal) -> bool:
        if dismissal.account_id != self.chat.account.id:
            return False
        if dismissal.operator_id is None:  # the whole account
            return True
        if self.chat.operator_id is None or str(self.chat.operator_id) != dismissal.operator_id:
            return False
        keep = dismissal.organization_id
        return keep is None or not (keep.isdigit() and self.chat.sees(int(keep)))


def sees_chat(principal: ChatPrincipal, chat: Chat) -> bool:
    if chat.account_id != principal.account.id:
        return False
    if chat.organization_id is None:
        return principal.is_company
    return principal.is_company or principal.sees(chat.organization_id)


def audience_of(chat: Chat) -> Audience:
    org = None if chat.organization_id is None else str(chat.organization_id)
    return Audience(chat.account_id, org)


OPERATOR_DELETED = "The operator was deleted"
OPERATOR_MOVED = "The operator moved to another organization; reconnect to see its chats"
ACCOUNT_SUSPENDED = "The account is suspended"


def operator_deleted(operator: Operator) -> Dismissal:
    """The deleted operator's connections close for good (its token is refused now)."""
    return Dismissal(operator.account_id, OPERATOR_DELETED, operator_id=str(operator.id))


def operator_moved(operator: Operator) -> Dismissal:
    """The moved operator's connections that hold another organization than its own now
    close, and may reconnect (they then hold this one)."""
    return Dismissal(
        operator.account_id,
        OPERATOR_MOVED,
        allow_reconnect=True,
        operator_id=str(operator.id),
        organization_id=str(operator.organization_id),
    )


def account_suspended(account_id: str) -> Dismissal:
    """Every connection of the suspended account closes, with no reconnect."""
    return Dismissal(account_id, ACCOUNT_SUSPENDED)


# --- the wire -----------------------------------------------------------------------------


class MediaOut(msgspec.Struct, frozen=True):
    id: int
    uri: str
    name: str
    format: str  # its MIME type
    size: int


class MessageOut(msgspec.Struct, frozen=True, omit_defaults=True):
    id: int
    chatId: int  # noqa: N815 - the provider's names
    message: str
    author: int
    status: int
    createdAt: str  # noqa: N815
    media: MediaOut | None = None
    mediaPending: bool = False  # noqa: N815 - a person's media still being fetched


class ClientOut(msgspec.Struct, frozen=True):
    name: str | None
    phone: str | None


class OperatorRef(msgspec.Struct, frozen=True):
    id: int
    name: str
    photo: str | None = None


class ChatOut(msgspec.Struct, frozen=True):
    id: int
    theme: str | None
    operator: OperatorRef | None
    chatStatus: int  # noqa: N815
    countUnread: int  # noqa: N815
    source: int | None
    client: ClientOut
    lastMessageAt: str  # noqa: N815


class ChatCreatedOut(ChatOut, frozen=True):
    """`ChatCreated(chatDTO)`: the list item, plus the provider's `messSource` and the
    chat's organization."""

    messSource: int | None  # noqa: N815
    organizationId: int | None  # noqa: N815


class ReceivedOut(msgspec.Struct, frozen=True, omit_defaults=True):
    """`ReceiveMessage(message)` and `ReceiveMediaMessage(mediaData)`: the message with
    its chat's person (`phone`, `clientName`) and where it came from."""

    id: int
    chatId: int  # noqa: N815
    message: str
    author: int
    status: int
    createdAt: str  # noqa: N815
    phone: str | None
    clientName: str | None  # noqa: N815
    source: int | None
    organizationId: int | None  # noqa: N815
    operatorId: int | None  # noqa: N815
    media: MediaOut | None = None
    mediaPending: bool = False  # noqa: N815


def media_uri(chat_id: int, media_id: int) -> str:
    """Where an operator reads a media (relative to the public URL; authenticated)."""
    return f"/api/chat/{chat_id}/media/{media_id}"


def message_out(message: ChatMessage, base_url: str = "") -> MessageOut:
    return MessageOut(
        message.id,
        message.chat_id,
        message.text,
        int(message.author),
        int(message.status),
        iso(message.created_at_ms),
        _media_out(message, base_url),
        message.media_pending,
    )


def _media_out(message: ChatMessage, base_url: str) -> MediaOut | None:
    m = message.media
    if m is None:
        return None
    return MediaOut(m.id, base_url + media_uri(message.chat_id, m.id), m.name, m.mime, m.size)


def operator_ref(chat: Chat, operators: Mapping[int, Operator]) -> OperatorRef | None:
    if chat.operator_id is None:
        return None
    found = operators.get(chat.operator_id)
    return OperatorRef(chat.operator_id, found.name if found else "")


def chat_out(chat: Chat, operators: Mapping[int, Operator], sources: Mapping[str, int]) -> ChatOut:
    source = sources.get(chat.channel)
    return ChatOut(
        chat.id,
        chat.theme,
        operator_ref(chat, operators),
        int(chat.status),
        chat.unread,
        source,
        ClientOut(chat.client_name, chat.client_phone),
        iso(chat.last_message_at_ms),
    )


def received_out(
    chat: Chat, message: ChatMessage, base_url: str, sources: Mapping[str, int]
) -> ReceivedOut:
    return ReceivedOut(
        message.id,
        chat.id,
        message.text,
        int(message.author),
        int(message.status),
        iso(message.created_at_ms),
        chat.client_phone,
        chat.client_name,
        sources.get(chat.channel),
        chat.organization_id,
        chat.operator_id,
        _media_out(message, base_url),
        message.media_pending,
    )


# --- an operator's upload -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Upload:
    name: str
    format: str | None
    data_base64: str
    type: int | None = None


class HubMedia(msgspec.Struct, frozen=True):
    """`SendMediaMessage`'s second argument, as the provider's client sends it."""

    Name: str
    DataBase64: str
    Format: str | None = None
    Type: int | None = None


def decode_upload(upload: Upload, where: str = "media.") -> NewMedia:
    """An operator's upload as bytes with a name and a MIME type; `ChatError` 400 for a
    bad name or base64, 413 above `MAX_MEDIA_BYTES`."""
    name = upload.name.strip()
    problem = media_name_problem(name)
    if problem is not None:
        raise ChatError(400, f"{where}name: {problem}", f"{where}name")
    raw = upload.data_base64.strip()
    if raw.startswith("data:") and "," in raw:  # a data URL, as browsers make them
        raw = raw.split(",", 1)[1]
    raw = "".join(raw.split())
    if len(raw) // 4 * 3 > MAX_MEDIA_BYTES + 2:
        raise ChatError(413, MEDIA_TOO_LARGE, f"{where}dataBase64")
    try:
        data = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise ChatError(
            400, f"{where}dataBase64 is not valid base64", f"{where}dataBase64"
        ) from None
    if not data:
        raise ChatError(400, f"{where}dataBase64 is empty", f"{where}dataBase64")
    if len(data) > MAX_MEDIA_BYTES:
        raise ChatError(413, MEDIA_TOO_LARGE, f"{where}dataBase64")
    mime = _mime(upload.format, name)
    if "." not in name.rsplit("/", 1)[-1]:
        name += mimetypes.guess_extension(mime) or ""
    return NewMedia(name, mime, data)


def _mime(fmt: str | None, name: str) -> str:
    """`format` is a MIME type (`image/jpeg`, the provider's REST example) or an extension
    (`jpg`, its hub example); else the name's extension says."""
    fmt = (fmt or "").strip().lower()
    if "/" in fmt and len(fmt) <= 100:
        return fmt
    if fmt:
        guessed = mimetypes.types_map.get("." + fmt.lstrip("."))
        if guessed:
            return guessed
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


# --- the commands and the events --------------------------------------------------------------


class Conversations:
    def __init__(
        self,
        store: ConversationStore,
        hub: Hub,
        channels: Mapping[str, BotChat],
        clock: Clock,
        public_url: str,
        sources: Mapping[str, int],
    ) -> None:
        self.store = store
        self.hub = hub
        self.channels = channels
        self.sources = sources  # ChatHub's `source` number of each chat channel (E3)
        self.clock = clock
        self.public_url = public_url.rstrip("/")
        self.fetcher = MediaFetcher(self)

    # --- reading ---------------------------------------------------------------------------

    async def visible_chat(self, principal: ChatPrincipal, chat_id: int) -> Chat:
        chat = await self.store.chat(principal.account.id, chat_id)
        if chat is None or not sees_chat(principal, chat):
            raise ChatError(404, "No such chat", "chatId")
        return chat

    async def operators(self, account_id: str) -> dict[int, Operator]:
        return {op.id: op for op in await self.store.operators(account_id)}

    # --- an operator's message ---------------------------------------------------------------

    async def send(
        self,
        principal: ChatPrincipal,
        chat_id: int,
        text: str,
        media: NewMedia | None,
        origin: str | None = None,
    ) -> ChatMessage:
        """`origin`: the hub connection sending it, which is answered with the message
        rather than told of it."""
        if len(text) > MAX_CHAT_TEXT:
            raise ChatError(400, f"textMessage is longer than {MAX_CHAT_TEXT} characters")
        if "\x00" in text:  # no database text holds one (PostgreSQL)
            raise ChatError(400, "textMessage cannot contain a NUL character", "textMessage")
        if not text.strip() and media is None:
            raise ChatError(400, "textMessage is empty and there is no media", "textMessage")
        before = await self.visible_chat(principal, chat_id)
        channel = self.channels.get(before.channel)
        if channel is None:
            raise ChatError(
                409, f"The {before.channel} channel is not enabled on this installation"
            )
        entry = await self.store.add_operator_message(principal.account.id, chat_id, text, media)
        if entry is None:  # deleted meanwhile
            raise ChatError(404, "No such chat", "chatId")
        if entry.chat.status is not before.status:
            await self.hub.publish(
                "ChatStatusChanged", [chat_id, int(entry.chat.status)], audience_of(entry.chat)
            )
        # whoever else sees the chat sees the answer as it is written (the sender's other
        # tabs and devices too); the sending connection has it in its completion, and a
        # client answering each ReceiveMessage would otherwise answer its own answer
        event = "ReceiveMessage" if entry.message.media is None else "ReceiveMediaMessage"
        await self.announce_message(event, entry.chat, entry.message, origin)
        status, provider_id, reason = await self._deliver(entry, channel, text, media)
        settled = await self.store.settle_operator_message(
            entry.message.id, status, provider_id, reason
        )
        message = settled.message if settled is not None else entry.message
        if message.status is not ChatMessageStatus.NEW:
            await self.hub.publish(
                "MessageStatusChanged", [message.id, int(message.status)], audience_of(entry.chat)
            )
        return message

    async def _deliver(
        self, entry: ChatEntry, channel: BotChat, text: str, media: NewMedia | None
    ) -> tuple[ChatMessageStatus, str | None, str | None]:
        row = await self.store.sender(entry.chat.bot_id)
        if row is None:
            return ChatMessageStatus.REJECTED, None, "BOT_REVOKED"
        sender = Sender(row.id, row.token, row.webhook_secret)
        outgoing = None
        if media is not None:
            stored = entry.message.media
            url = None
            if stored is not None:
                url = f"{self.public_url}/api/chat/media/public/{stored.token}/" + quote(
                    stored.name
                )
            outgoing = OutgoingMedia(media.data, media.name, media.mime, url)
        for delay in (*SEND_RETRY_S, None):
            try:
                if outgoing is None:
                    sent = await channel.send_chat_text(sender, entry.chat.address, text)
                else:
                    sent = await channel.send_chat_media(sender, entry.chat.address, outgoing, text)
            except Exception:  # a channel's fault must not lose the stored message
                log.exception("chathub: sending message %s failed", entry.message.id)
                return ChatMessageStatus.REJECTED, None, "SEND_FAILED"
            # throttled (Telegram: about one message a second in a chat) or nothing reached
            # the platform: the same send again, a little later
            if not sent.retryable or delay is None:
                break
            await asyncio.sleep(delay)
        return sent.status, sent.provider_id or None, sent.reason

    # --- live events ---------------------------------------------------------------------------

    async def announce_arrival(self, entry: ChatArrival) -> None:
        audience = audience_of(entry.chat)
        if entry.created:
            operators = await self.operators(entry.chat.account_id)
            await self.hub.publish(
                "ChatCreated", [chat_created(entry.chat, operators, self.sources)], audience
            )
        elif entry.reopened:
            await self.hub.publish(
                "ChatStatusChanged", [entry.chat.id, int(entry.chat.status)], audience
            )
        await self.announce_message("ReceiveMessage", entry.chat, entry.message)
        if entry.message.media_pending:
            self.fetcher.wake()

    async def announce_placed(self, chats: Sequence[Chat]) -> None:
        """Chats an operator's status change placed (`OperatorChange.placed`): each as it is
        now, its new operator or none, to whoever sees it. SPEC E4 names no assignment
        event; `ChatCreated(chatDTO)` is its one event that carries a chat's operator, and
        clients take it by the chat's id (the widget updates a chat it has already)."""
        if not chats:
            return
        operators = await self.operators(chats[0].account_id)
        for chat in chats:
            await self.hub.publish(
                "ChatCreated", [chat_created(chat, operators, self.sources)], audience_of(chat)
            )

    async def announce_message(
        self, event: str, chat: Chat, message: ChatMessage, origin: str | None = None
    ) -> None:
        """`ReceiveMessage` / `ReceiveMediaMessage` with a message of `chat`, to every
        connection that sees it but `origin`."""
        audience = replace(audience_of(chat), except_connection=origin)
        await self.hub.publish(
            event, [received_out(chat, message, self.public_url, self.sources)], audience
        )

    async def announce_status(self, entry: ChatEntry) -> None:
        await self.hub.publish(
            "MessageStatusChanged",
            [entry.message.id, int(entry.message.status)],
            audience_of(entry.chat),
        )

    # --- the hub's methods ---------------------------------------------------------------------

    def register(self, hub: Hub) -> None:
        async def send_message(caller: HubPrincipal, chat_id: int, text: str) -> MessageOut:
            message = await self._hub_send(caller, chat_id, text, None)
            return message_out(message, self.public_url)

        async def send_media_message(
            caller: HubPrincipal, chat_id: int, media: HubMedia
        ) -> MessageOut:
            try:
                upload = decode_upload(
                    Upload(media.Name, media.Format, media.DataBase64, media.Type), ""
                )
            except ChatError as err:
                raise HubError(err.detail) from None
            message = await self._hub_send(caller, chat_id, "", upload)
            return message_out(message, self.public_url)

        hub.register("SendMessage", send_message)
        hub.register("SendMediaMessage", send_media_message)

    async def _hub_send(
        self, caller: HubPrincipal, chat_id: int, text: str, media: NewMedia | None
    ) -> ChatMessage:
        if not isinstance(caller, ChatHubPrincipal):
            raise HubError("This connection cannot send chat messages")
        try:
            return await self.send(caller.chat, chat_id, text, media, self.hub.invoker())
        except ChatError as err:
            raise HubError(err.detail) from None


def chat_created(
    chat: Chat, operators: Mapping[int, Operator], sources: Mapping[str, int]
) -> ChatCreatedOut:
    out = chat_out(chat, operators, sources)
    return ChatCreatedOut(
        **msgspec.structs.asdict(out), messSource=out.source, organizationId=chat.organization_id
    )


# --- people's media ---------------------------------------------------------------------------


class MediaFetcher:
    """Fetches people's media whose time has come, in the background of each API process:
    woken when a message with media is stored, else every `FETCH_POLL_S`. Each media is
    leased while it is fetched (`claim_due_media`), so processes do not fetch it twice."""

    def __init__(self, conversations: Conversations) -> None:
        self._c = conversations
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Look for media due now (starting the fetcher if the app's startup has not)."""
        self._wake.set()
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.fetch_due()
            except Exception:  # the store is down, say: try again at the next turn
                log.exception("chathub: fetching people's media failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), FETCH_POLL_S)
            self._wake.clear()

    async def fetch_due(self) -> int:
        """Fetch every media due now; how many were stored."""
        stored = 0
        while True:
            due = await self._c.store.claim_due_media()
            if not due:
                return stored
            for pending in due:
                stored += await self._fetch(pending)

    async def _fetch(self, pending: PendingMedia) -> int:
        store, clock = self._c.store, self._c.clock
        channel = self._c.channels.get(pending.channel)
        row = await store.sender(pending.bot_id)
        give_up: str | None = None
        if channel is None:
            give_up = f"CHANNEL_DISABLED: {pending.channel}"
        elif row is None:
            give_up = "BOT_REVOKED"
        if give_up is not None or channel is None or row is None:
            await store.chat_media_failed(pending.message_id, give_up or "", None)
            return 0
        ref = MediaRef(pending.ref, pending.name, pending.mime, pending.size)
        try:
            fetched = await channel.fetch_media(Sender(row.id, row.token, row.webhook_secret), ref)
        except MediaTooLarge as err:
            await store.chat_media_failed(pending.message_id, err.reason, None)
            return 0
        except MediaFetchError as err:
            retry = None
            if pending.tries < len(RETRY_S):
                retry = clock.now_ms() + RETRY_S[pending.tries] * 1000
            log.warning(
                "chathub: media of message %s not fetched (%s); %s",
                pending.message_id,
                err.reason,
                "will retry" if retry else "giving up",
            )
            await store.chat_media_failed(pending.message_id, err.reason, retry)
            return 0
        name = fetched.name or pending.name or _default_name(pending.message_id, fetched.mime)
        entry = await store.attach_chat_media(
            pending.message_id, NewMedia(name[:200], fetched.mime, fetched.data)
        )
        if entry is None:
            return 0
        await self._c.announce_message("ReceiveMediaMessage", entry.chat, entry.message)
        return 1


def _default_name(message_id: int, mime: str) -> str:
    return f"media-{message_id}{mimetypes.guess_extension(mime) or ''}"
