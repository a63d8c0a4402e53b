// ChatHub's REST calls the panel makes (SPEC E3), with the operator's bearer token.

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
  }
}

export class ChatApi {
  constructor(baseUrl, token) {
    this.baseUrl = baseUrl;
    this.token = token;
  }

  url(path, query) {
    const url = new URL(path, this.baseUrl);
    for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, String(v));
    return url;
  }

  async request(method, path, { query, body } = {}) {
    const headers = { Authorization: `Bearer ${this.token}`, Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(this.url(path, query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit", // the token is the credential: no cookies cross over
    });
    const text = await response.text();
    let parsed = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    if (!response.ok) {
      const detail = parsed && typeof parsed === "object" ? parsed.detail ?? parsed.title : "";
      throw new ApiError(response.status, typeof detail === "string" ? detail : "");
    }
    return parsed;
  }

  chats({ page = 1, perPage = 50 } = {}) {
    return this.request("GET", "api/chat/chats", { query: { page, per_page: perPage } });
  }

  messages(chatId, { page = 1, perPage = 50 } = {}) {
    return this.request("GET", `api/chat/${encodeURIComponent(chatId)}/messages`, {
      query: { page, per_page: perPage },
    });
  }

  // How many messages a chat has. The messages come oldest first, in pages that never
  // shift (a new message goes at the end), and the answer carries no total: pages of
  // one message are asked for, doubling to overshoot the end, then halving back to it —
  // about 2·log2(n) small requests, and only for a chat longer than one page.
  async messageCount(chatId) {
    const has = async (n) => ((await this.messages(chatId, { page: n, perPage: 1 })) ?? []).length > 0;
    if (!(await has(1))) return 0;
    let low = 1;
    let high = 2;
    while (await has(high)) {
      low = high;
      high *= 2;
    }
    while (high - low > 1) {
      const middle = Math.floor((low + high) / 2);
      if (await has(middle)) low = middle;
      else high = middle;
    }
    return low;
  }

  sendText(chatId, text) {
    return this.request("POST", `api/chat/${encodeURIComponent(chatId)}/message`, {
      body: { textMessage: text, author: 0 },
    });
  }

  sendMedia(chatId, text, media) {
    return this.request("POST", `api/chat/${encodeURIComponent(chatId)}/message`, {
      body: { textMessage: text, author: 0, media },
    });
  }

  setStatus(chatId, status) {
    return this.request("PUT", "api/chat/status", { body: { id: chatId, status } });
  }

  // A person's media, served to operators at an authenticated URL (E3): fetched with the
  // token when it is Cascade's own, as a blob the page shows through an object URL.
  async mediaUrl(uri) {
    let url;
    try {
      url = new URL(uri, this.baseUrl);
    } catch {
      return null;
    }
    if (url.origin === new URL(this.baseUrl).origin) {
      const response = await fetch(url, {
        headers: { Authorization: `Bearer ${this.token}` },
        credentials: "omit",
      });
      if (!response.ok) throw new ApiError(response.status, "");
      return URL.createObjectURL(await response.blob());
    }
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  }
}
