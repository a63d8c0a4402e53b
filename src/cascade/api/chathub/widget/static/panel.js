// <operator-chat-panel>: the operator's chats with unread counts, one conversation, a
// reply box (text and an image), kept live through the hub. Shapes are SPEC E3/E4's.

import { ApiError, ChatApi } from "./api.js";
import { clear, h, when } from "./dom.js";
import { ChatHubLink } from "./hub.js";
import { CSS } from "./styles.js";

export const TAG = "operator-chat-panel";

const CHAT_STATUS = ["New", "Open", "Waiting", "On pause", "Closed"];
const MESSAGE_STATUS = ["Sending", "Sent", "Rejected", "Read"];
const MESSAGE_MARK = ["…", "✓", "!", "✓✓"];
const SOURCE = { 1: "Viber", 2: "Telegram" };
const OPERATOR = 0;
const MAX_IMAGE_BYTES = 20 * 1024 * 1024; // the documented limit of a media upload
const IMAGE_FORMATS = { "image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp" };
const PHOTO = 1;
const CHATS_PER_PAGE = 50;
const MESSAGES_PER_PAGE = 50;
const FEW = 20; // a newest page this short brings the one before it along
const NEAR_EDGE_PX = 40; // scrolled this close to the end of a list: load its next page

const key = (id) => String(id);

function chatFrom(dto) {
  const id = dto.id ?? dto.chatId;
  return {
    id,
    theme: dto.theme ?? "",
    chatStatus: dto.chatStatus ?? dto.status ?? 0,
    countUnread: dto.countUnread ?? 0,
    source: dto.source ?? dto.messSource,
    client: { name: dto.client?.name ?? "", phone: dto.client?.phone ?? dto.phone ?? "" },
    lastMessageAt: dto.lastMessageAt ?? dto.createdAt ?? null,
  };
}

function messageFrom(raw) {
  return {
    id: raw.id ?? raw.messageId ?? null,
    chatId: raw.chatId,
    text: raw.message ?? raw.textMessage ?? raw.text ?? "",
    author: raw.author ?? 1,
    status: raw.status ?? null,
    createdAt: raw.createdAt ?? new Date().toISOString(),
    media: raw.media ?? null,
  };
}

function instant(iso) {
  const at = Date.parse(iso ?? "");
  return Number.isNaN(at) ? Infinity : at;
}

function itemsOf(loaded) {
  return Array.isArray(loaded) ? loaded : loaded?.items ?? [];
}

function isImage(media) {
  const format = String(media.format ?? media.contentType ?? media.mimeType ?? "").toLowerCase();
  const name = String(media.name ?? media.uri ?? "").toLowerCase();
  return media.type === PHOTO || format.startsWith("image/") ||
    ["jpg", "jpeg", "png", "gif", "webp"].includes(format) ||
    /\.(jpe?g|png|gif|webp)(\?|$)/.test(name);
}

function readBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1] ?? "");
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

class OperatorChatPanel extends HTMLElement {
  constructor() {
    super();
    this.chats = new Map();
    this.messages = new Map(); // the open chat's, by id (or a local key while sending)
    this.selected = null;
    this.local = 0;
    this.chatPage = 0; // the chat list's pages loaded, from the first
    this.chatTotal = null;
    this.oldestPage = 1; // the open conversation's oldest page loaded
    this.announced = new Set(); // ids of the messages the hub announced
    this.root = this.attachShadow({ mode: "open" });
    this.build();
  }

  configure({ baseUrl, token }) {
    if (this.api) return;
    if (!token) {
      this.setState("unauthorized");
      this.notify("No operator token: add token=\"…\" to the script tag.");
      return;
    }
    this.api = new ChatApi(baseUrl, token);
    this.hub = new ChatHubLink(baseUrl, token, {
      ReceiveMessage: (message) => this.received(messageFrom(message)),
      ReceiveMediaMessage: (data) => this.receivedMedia(data),
      ChatCreated: (dto) => this.chatCreated(dto),
      ChatStatusChanged: (chatId, status) => this.chatStatusChanged(chatId, status),
      MessageStatusChanged: (id, status) => this.messageStatusChanged(id, status),
    }, (state, error) => this.hubState(state, error));
    this.hub.start();
    this.loadChats();
  }

  disconnectedCallback() {
    this.hub?.stop();
  }

  // --- the frame -----------------------------------------------------------------------

  build() {
    if ("adoptedStyleSheets" in this.root && typeof CSSStyleSheet.prototype.replaceSync === "function") {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      this.root.adoptedStyleSheets = [sheet];
    } else {
      this.root.append(h("style", { text: CSS }));
    }
    this.stateText = h("span", { class: "state-text", text: "Connecting…" });
    this.chatList = h("ul", { class: "chat-list", role: "listbox", "aria-label": "Chats" });
    this.moreChats = h("button", {
      class: "more-chats", type: "button", hidden: true, text: "More chats",
      onclick: () => this.loadMoreChats(),
    });
    this.olderButton = h("button", {
      class: "older", type: "button", hidden: true, text: "Load older messages",
      onclick: () => this.loadOlder(),
    });
    this.noChats = h("p", { class: "empty", text: "No chats yet" });
    this.who = h("span", { class: "who", text: "Choose a chat" });
    this.statusSelect = h(
      "select",
      { class: "chat-status", "aria-label": "Chat status", disabled: true, onchange: () => this.changeStatus() },
      CHAT_STATUS.map((name, value) => h("option", { value, text: name })),
    );
    this.list = h("ol", {
      class: "messages", "aria-live": "polite",
      onscroll: () => { if (this.list.scrollTop < NEAR_EDGE_PX) this.loadOlder(); },
    });
    this.input = h("textarea", {
      class: "reply-text", rows: 2, placeholder: "Write a reply…", "aria-label": "Reply", disabled: true,
      onkeydown: (event) => {
        if (event.key === "Enter" && !event.shiftKey) {
          event.preventDefault();
          this.sendText();
        }
      },
    });
    this.fileInput = h("input", {
      class: "reply-image", type: "file", accept: Object.keys(IMAGE_FORMATS).join(","),
      "aria-label": "Attach an image", disabled: true, onchange: () => this.sendImage(),
    });
    this.sendButton = h("button", { class: "send", type: "submit", disabled: true, text: "Send" });
    this.noticeBox = h("div", { class: "notice", role: "status", hidden: true });
    this.root.append(
      h("div", { class: "panel", part: "panel" },
        h("header", {},
          h("strong", { text: "Chats" }),
          h("span", { class: "state" }, h("i", { class: "dot" }), this.stateText)),
        h("div", { class: "body" },
          this.chatsPane = h("aside", { class: "chats", onscroll: () => this.nearListEnd() },
            this.chatList, this.moreChats, this.noChats),
          h("section", { class: "conversation" },
            h("div", { class: "conversation-head" }, this.who, this.statusSelect),
            this.olderButton,
            this.list,
            h("form", { class: "reply", onsubmit: (event) => { event.preventDefault(); this.sendText(); } },
              this.input,
              h("label", { class: "attach", title: "Send an image" }, "Image", this.fileInput),
              this.sendButton))),
        this.noticeBox),
    );
  }

  setState(state) {
    this.dataset.state = state;
    this.stateText.textContent = {
      connecting: "Connecting…", connected: "Live", reconnecting: "Reconnecting…",
      disconnected: "Offline — retrying", unauthorized: "Token refused",
    }[state] ?? state;
  }

  hubState(state, error) {
    this.setState(state);
    if (state === "unauthorized") this.notify("The operator token was refused (expired or invalid).");
    else if (state === "connected") {
      if (this.hubNotice) this.notify("");
      if (this.everConnected) this.loadChats(); // what happened while it was away
      this.everConnected = true;
    } else if (error && state === "disconnected") {
      this.notify(`Live updates are off: ${error.message ?? error}`);
      this.hubNotice = true;
    }
  }

  notify(text) {
    this.hubNotice = false;
    this.noticeBox.textContent = text;
    this.noticeBox.hidden = !text;
  }

  failed(what, error) {
    if (error instanceof ApiError && error.status === 401) {
      this.setState("unauthorized");
      this.notify("The operator token was refused (expired or invalid).");
      return;
    }
    this.notify(`${what}: ${error.message ?? error}`);
  }

  // --- chats ---------------------------------------------------------------------------

  // The first page again (at the start, after a reconnection, for a chat not heard of);
  // the pages after it as the operator scrolls to the list's end or asks for more.
  async loadChats() {
    try {
      this.takeChats(await this.api.chats({ page: 1, perPage: CHATS_PER_PAGE }), 1);
    } catch (error) {
      this.failed("Could not load the chats", error);
    }
  }

  async loadMoreChats() {
    if (this.loadingChats || !this.moreChatsToLoad()) return;
    this.loadingChats = true;
    try {
      const next = this.chatPage + 1;
      this.takeChats(await this.api.chats({ page: next, perPage: CHATS_PER_PAGE }), next);
    } catch (error) {
      this.failed("Could not load more chats", error);
    } finally {
      this.loadingChats = false;
    }
  }

  takeChats(page, number) {
    for (const dto of itemsOf(page)) this.upsertChat(chatFrom(dto), { fromList: true });
    if (typeof page?.total === "number") this.chatTotal = page.total;
    this.chatPage = Math.max(this.chatPage, number);
    this.renderChats();
  }

  moreChatsToLoad() {
    return this.chatTotal !== null && this.chatPage * CHATS_PER_PAGE < this.chatTotal;
  }

  nearListEnd() {
    const pane = this.chatsPane;
    if (pane.scrollTop + pane.clientHeight >= pane.scrollHeight - NEAR_EDGE_PX) this.loadMoreChats();
  }

  upsertChat(chat, { fromList = false } = {}) {
    const known = this.chats.get(key(chat.id));
    if (!known) {
      this.chats.set(key(chat.id), chat);
      return chat;
    }
    // a chat the operator is reading has nothing unread, whatever an older list says
    const merged = { ...known, ...chat, client: { ...known.client, ...chat.client } };
    if (!fromList) merged.countUnread = known.countUnread;
    if (this.selected === key(chat.id)) merged.countUnread = 0;
    this.chats.set(key(chat.id), merged);
    return merged;
  }

  renderChats() {
    const chats = [...this.chats.values()].sort(
      (a, b) => String(b.lastMessageAt ?? "").localeCompare(String(a.lastMessageAt ?? "")),
    );
    clear(this.chatList);
    for (const chat of chats) {
      const name = chat.client.name || chat.client.phone || `Chat ${chat.id}`;
      const unread = chat.countUnread > 0
        ? h("span", { class: "unread", "aria-label": `${chat.countUnread} unread`, text: chat.countUnread })
        : null;
      this.chatList.append(
        h("li", {
          class: "chat", role: "option", tabindex: 0, "data-chat-id": chat.id,
          "data-status": chat.chatStatus, "aria-selected": this.selected === key(chat.id) ? "true" : "false",
          onclick: () => this.select(chat.id),
          onkeydown: (event) => { if (event.key === "Enter") this.select(chat.id); },
        },
          h("span", { class: "name", text: name }),
          unread,
          h("span", { class: "preview", text: chat.preview ?? chat.theme ?? "" }),
          h("span", { class: "meta" },
            h("span", { class: "source", text: SOURCE[chat.source] ?? "" }),
            h("span", { class: "status", text: CHAT_STATUS[chat.chatStatus] ?? "" }),
            h("time", { text: when(chat.lastMessageAt) }))));
    }
    this.noChats.hidden = chats.length > 0;
    this.moreChats.hidden = !this.moreChatsToLoad();
  }

  chatCreated(dto) {
    const known = this.chats.has(key(chatFrom(dto).id));
    const chat = this.upsertChat(chatFrom(dto));
    // its count holds the message(s) it began with, whose ReceiveMessage comes next
    if (!known) chat.precounted = chat.countUnread;
    this.renderChats();
  }

  chatStatusChanged(chatId, status) {
    const chat = this.chats.get(key(chatId));
    if (!chat) return;
    chat.chatStatus = status;
    if (this.selected === key(chatId)) this.statusSelect.value = String(status);
    this.renderChats();
  }

  async changeStatus() {
    const chat = this.chats.get(this.selected);
    const status = Number(this.statusSelect.value);
    if (!chat) return;
    try {
      await this.api.setStatus(chat.id, status);
      chat.chatStatus = status;
      this.renderChats();
    } catch (error) {
      this.statusSelect.value = String(chat.chatStatus);
      this.failed("Could not change the chat's status", error);
    }
  }

  // --- one conversation ----------------------------------------------------------------

  async select(chatId) {
    const chat = this.chats.get(key(chatId));
    if (!chat) return;
    this.selected = key(chatId);
    chat.countUnread = 0;
    this.messages.clear();
    this.oldestPage = 1;
    this.olderButton.hidden = true;
    clear(this.list);
    this.who.textContent = chat.client.name || chat.client.phone || `Chat ${chat.id}`;
    this.statusSelect.value = String(chat.chatStatus);
    for (const control of [this.statusSelect, this.input, this.fileInput, this.sendButton]) {
      control.disabled = false;
    }
    this.renderChats();
    try {
      const pages = await this.latestPages(chat.id);
      if (this.selected !== key(chatId)) return;
      for (const [, items] of pages) {
        for (const raw of items) this.addMessage(messageFrom({ chatId: chat.id, ...raw }));
      }
      this.oldestPage = pages[0][0];
      this.olderButton.hidden = this.oldestPage <= 1;
      this.notify("");
    } catch (error) {
      this.failed("Could not load the conversation", error);
    }
  }

  // The newest messages: the last page (and the one before when it is short), as
  // [[page number, items], …] oldest first. One request for a chat of one page.
  async latestPages(chatId) {
    const fetchPage = async (page) =>
      itemsOf(await this.api.messages(chatId, { page, perPage: MESSAGES_PER_PAGE }));
    const first = await fetchPage(1);
    if (first.length < MESSAGES_PER_PAGE) return [[1, first]];
    const last = Math.max(1, Math.ceil((await this.api.messageCount(chatId)) / MESSAGES_PER_PAGE));
    if (last === 1) return [[1, first]];
    const pages = [[last, await fetchPage(last)]];
    if (pages[0][1].length < FEW) {
      pages.unshift([last - 1, last - 1 === 1 ? first : await fetchPage(last - 1)]);
    }
    return pages;
  }

  async loadOlder() {
    const chatId = this.selected;
    const chat = this.chats.get(chatId);
    if (this.loadingOlder || !chat || this.oldestPage <= 1) return;
    this.loadingOlder = true;
    const page = this.oldestPage - 1;
    try {
      const items = itemsOf(await this.api.messages(chat.id, { page, perPage: MESSAGES_PER_PAGE }));
      if (this.selected !== chatId) return;
      const fromBottom = this.list.scrollHeight - this.list.scrollTop;
      // newest first, each put before the rest: the page lands above, in its order
      for (const raw of [...items].reverse()) {
        this.addMessage(messageFrom({ chatId: chat.id, ...raw }), { older: true });
      }
      this.list.scrollTop = this.list.scrollHeight - fromBottom; // the view stays put
      this.oldestPage = page;
      this.olderButton.hidden = page <= 1;
    } catch (error) {
      this.failed("Could not load older messages", error);
    } finally {
      this.loadingOlder = false;
    }
  }

  received(message) {
    let chat = this.chats.get(key(message.chatId));
    if (!chat) {
      chat = this.upsertChat(chatFrom({ id: message.chatId, phone: message.phone ?? "" }));
      this.loadChats(); // a chat it had not heard of: its name and status from the list
    }
    chat.lastMessageAt = message.createdAt;
    chat.preview = message.text || (message.media ? `[${message.media.name ?? "attachment"}]` : "");
    // a message is counted once: its media's ReceiveMediaMessage follows its ReceiveMessage
    const fresh = message.id === null || !this.announced.has(key(message.id));
    if (message.id !== null) this.announced.add(key(message.id));
    if (this.selected === key(message.chatId)) this.addMessage(message);
    else if (message.author !== OPERATOR && fresh) {
      if (chat.precounted > 0) chat.precounted -= 1;
      else chat.countUnread = (chat.countUnread ?? 0) + 1;
    }
    this.renderChats();
  }

  receivedMedia(data) {
    const media = data.media ?? data;
    this.received(messageFrom({ ...data, chatId: data.chatId ?? media.chatId, media }));
  }

  messageStatusChanged(messageId, status) {
    const entry = this.messages.get(key(messageId));
    if (!entry) return;
    entry.message.status = status;
    this.renderMark(entry);
  }

  addMessage(message, { older = false } = {}) {
    // the operator's own message, already shown while it was being sent: now it has an id
    if (message.id !== null && this.messages.has(key(message.id))) {
      const entry = this.messages.get(key(message.id));
      entry.message = { ...entry.message, ...message };
      this.renderMark(entry);
      return entry;
    }
    if (message.author === OPERATOR && message.id !== null) {
      for (const [local, entry] of this.messages) {
        if (entry.pending && entry.message.text === message.text) {
          this.messages.delete(local);
          return this.settle(entry, message);
        }
      }
    }
    const entry = this.renderMessage(message);
    const id = message.id !== null ? key(message.id) : `local-${++this.local}`;
    this.messages.set(id, entry);
    if (older) this.list.prepend(entry.el);
    else this.placeInOrder(entry);
    return entry;
  }

  // By time, as instants: the server writes whole seconds ("…:12Z"), a reply being sent
  // has the browser's milliseconds ("…:12.345Z"), and as text the two sort the wrong way.
  // A message of the same instant goes after those already shown.
  placeInOrder(entry) {
    const at = instant(entry.message.createdAt);
    let before = null;
    for (const other of this.list.children) {
      if (instant(other.dataset.createdAt) > at) { before = other; break; }
    }
    this.list.insertBefore(entry.el, before);
    this.list.scrollTop = this.list.scrollHeight;
  }

  renderMessage(message) {
    const mine = message.author === OPERATOR;
    const mark = h("span", { class: "mark" });
    const body = h("div", { class: "text", text: message.text });
    const el = h("li", {
      class: `message ${mine ? "operator" : "client"}`,
      "data-author": mine ? "operator" : "client",
      "data-message-id": message.id ?? "",
      "data-created-at": message.createdAt,
    },
      message.media ? this.renderMedia(message.media) : null,
      message.text ? body : null,
      h("div", { class: "meta" }, h("time", { text: when(message.createdAt) }), mark));
    const entry = { el, mark, message, pending: false };
    this.renderMark(entry);
    return entry;
  }

  renderMark(entry) {
    const { status, author, id } = entry.message;
    entry.el.dataset.messageId = id ?? "";
    if (author !== OPERATOR) return;
    const shown = entry.failed ? 2 : entry.pending ? 0 : status ?? 1;
    entry.el.dataset.status = String(shown);
    entry.mark.textContent = MESSAGE_MARK[shown] ?? "";
    entry.mark.title = entry.failed ? `Not sent: ${entry.failed}` : MESSAGE_STATUS[shown] ?? "";
  }

  renderMedia(media) {
    const name = String(media.name ?? "attachment");
    const holder = h("div", { class: "media" }, h("span", { class: "media-name", text: name }));
    const uri = media.uri ?? media.url;
    if (uri) {
      this.api.mediaUrl(String(uri)).then((url) => {
        if (!url) return;
        const shown = isImage(media)
          ? h("img", { src: url, alt: name, loading: "lazy" })
          : h("a", { href: url, download: name, target: "_blank", rel: "noopener noreferrer", text: name });
        holder.replaceChildren(shown);
      }).catch(() => holder.classList.add("unavailable"));
    }
    return holder;
  }

  // --- replying ------------------------------------------------------------------------

  pendingEntry(chat, text, media) {
    const message = { id: null, chatId: chat.id, text, author: OPERATOR, status: 0,
      createdAt: new Date().toISOString(), media };
    const entry = this.addMessage(message);
    entry.pending = true;
    this.renderMark(entry);
    return entry;
  }

  settle(entry, result) {
    entry.pending = false;
    if (result && typeof result === "object" && result.id !== undefined) {
      const message = messageFrom({ chatId: entry.message.chatId, ...result });
      entry.message = { ...entry.message, id: message.id, status: message.status ?? 1 };
      for (const [local, other] of this.messages) if (other === entry) this.messages.delete(local);
      this.messages.set(key(message.id), entry);
      if (typeof result.createdAt === "string") { // the server's time, not this browser's
        entry.message.createdAt = result.createdAt;
        entry.el.dataset.createdAt = result.createdAt;
        this.placeInOrder(entry);
      }
    } else {
      entry.message.status = entry.message.status || 1;
    }
    this.renderMark(entry);
    return entry;
  }

  async sendText() {
    const chat = this.chats.get(this.selected);
    const text = this.input.value.trim();
    if (!chat || !text) return;
    this.input.value = "";
    const entry = this.pendingEntry(chat, text, null);
    try {
      const result = this.hub.connected
        ? await this.hub.invoke("SendMessage", chat.id, text)
        : await this.api.sendText(chat.id, text);
      this.settle(entry, result);
      chat.lastMessageAt = entry.message.createdAt;
      chat.preview = text;
      this.renderChats();
    } catch (error) {
      entry.pending = false;
      entry.failed = error.message ?? String(error);
      this.renderMark(entry);
      this.failed("The reply was not sent", error);
    }
  }

  async sendImage() {
    const chat = this.chats.get(this.selected);
    const file = this.fileInput.files?.[0];
    this.fileInput.value = "";
    if (!chat || !file) return;
    const format = IMAGE_FORMATS[file.type];
    if (!format) return this.notify("Only JPEG, PNG, GIF and WebP images can be sent.");
    if (file.size > MAX_IMAGE_BYTES) return this.notify("The image is larger than 20 MB.");
    const caption = this.input.value.trim();
    this.input.value = "";
    const entry = this.pendingEntry(chat, caption, null);
    const preview = URL.createObjectURL(file);
    entry.el.prepend(h("div", { class: "media" }, h("img", { src: preview, alt: file.name })));
    try {
      const dataBase64 = await readBase64(file);
      const result = await this.api.sendMedia(chat.id, caption, {
        name: file.name, format: file.type, dataBase64, type: PHOTO,
      });
      this.settle(entry, result);
    } catch (error) {
      entry.pending = false;
      entry.failed = error.message ?? String(error);
      this.renderMark(entry);
      this.failed("The image was not sent", error);
    }
  }
}

export function definePanel() {
  if (!customElements.get(TAG)) customElements.define(TAG, OperatorChatPanel);
}
