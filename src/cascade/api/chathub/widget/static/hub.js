// The live side: the official SignalR browser client (vendored from the npm registry,
// @microsoft/signalr, see vendor/) connected to Cascade's /chathub with the token.

import "./vendor/signalr.min.js"; // its UMD build: defines globalThis.signalR

const EVENTS = [
  "ReceiveMessage",
  "ReceiveMediaMessage",
  "ChatCreated",
  "ChatStatusChanged",
  "MessageStatusChanged",
];
const RETRY_MS = [0, 2000, 5000, 10000, 30000];

export class ChatHubLink {
  // `handlers`: an event name → its function; `onState(state, error)` hears
  // connecting | connected | reconnecting | disconnected | unauthorized.
  constructor(baseUrl, token, handlers, onState) {
    const signalR = globalThis.signalR;
    this.onState = onState;
    this.stopped = false;
    this.attempt = 0;
    this.connection = new signalR.HubConnectionBuilder()
      .withUrl(new URL("chathub", baseUrl).href, {
        accessTokenFactory: () => token,
        transport: signalR.HttpTransportType.WebSockets, // the only one Cascade offers
        withCredentials: false, // a bearer token, no cookies: any allowed origin works
      })
      .withAutomaticReconnect(RETRY_MS)
      .configureLogging(signalR.LogLevel.Warning)
      .build();
    for (const name of EVENTS) {
      const handler = handlers[name];
      if (handler) this.connection.on(name, (...args) => handler(...args));
    }
    this.connection.onreconnecting((error) => onState("reconnecting", error));
    this.connection.onreconnected(() => onState("connected"));
    this.connection.onclose((error) => {
      if (!this.stopped) this.restart(error);
    });
  }

  get connected() {
    return this.connection.state === globalThis.signalR.HubConnectionState.Connected;
  }

  async start() {
    this.onState("connecting");
    try {
      await this.connection.start();
      this.attempt = 0;
      this.onState("connected");
    } catch (error) {
      this.restart(error);
    }
  }

  restart(error) {
    if (this.stopped) return;
    // the client reports a refused negotiate in its message ("Status code '401'")
    if (error && (error.statusCode === 401 || /\b401\b/.test(String(error.message ?? "")))) {
      this.onState("unauthorized", error);
      return;
    }
    this.onState("disconnected", error);
    const delay = RETRY_MS[Math.min(this.attempt, RETRY_MS.length - 1)] || 1000;
    this.attempt += 1;
    this.timer = setTimeout(() => this.start(), delay);
  }

  invoke(method, ...args) {
    return this.connection.invoke(method, ...args);
  }

  async stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.connection.stop();
  }
}
