// The provider's own ChathubClient (shared/provider-examples/chathub-client.js), its URL
// pointed at Cascade, driven through one scenario with the official @microsoft/signalr
// client. Each step prints one JSON line after "@@ "; the Python test (tests/test_hub_clients.py)
// reads them, publishes an event when told "connected", and checks every line.
//   node hub_client.js <example.js> <base URL> <token>
"use strict";
const signalR = require("@microsoft/signalr");
const { loadChathubClient } = require("./example");

const [examplePath, baseUrl, token] = process.argv.slice(2);
// report lines are marked: the example and the library log to the console too
const say = (line) => process.stdout.write("@@ " + JSON.stringify(line) + "\n");

async function main() {
  // a client that allows Long Polling only is told at negotiate that the server has none
  const pollingOnly = new signalR.HubConnectionBuilder()
    .withUrl(baseUrl + "/chathub", {
      accessTokenFactory: () => token,
      transport: signalR.HttpTransportType.LongPolling,
    })
    .configureLogging(signalR.LogLevel.None)
    .build();
  try {
    await pollingOnly.start();
    say({ step: "longPolling", error: null });
  } catch (err) {
    say({ step: "longPolling", error: String(err) });
  }

  // a token the server does not know
  const stranger = new signalR.HubConnectionBuilder()
    .withUrl(baseUrl + "/chathub", { accessTokenFactory: () => "not-a-token" })
    .configureLogging(signalR.LogLevel.None)
    .build();
  try {
    await stranger.start();
    say({ step: "badToken", error: null });
  } catch (err) {
    say({ step: "badToken", error: String(err) });
  }

  const ChathubClient = loadChathubClient(examplePath, baseUrl, signalR);
  const client = new ChathubClient();
  client.token = token;
  const seen = [];
  let announce = null;
  const arrived = new Promise((resolve) => (announce = resolve));
  client.handleTextMessage = (message) => {
    seen.push(message);
    announce();
  };
  client.handleChatStatusChange = (chatId, status) => say({ step: "status", chatId, status });
  await client.connect();
  const closed = new Promise((resolve) => client.connection.onclose((err) => resolve(err)));
  say({ step: "connected", connectionId: client.connection.connectionId });

  await arrived;
  say({ step: "received", message: seen[0] });

  await client.sendTextMessage(5, "Hello from the official client");
  const result = await client.connection.invoke("SendMessage", 6, "with its result");
  say({ step: "invoked", result });
  await client.sendMediaMessage(7, {
    Name: "image.jpg",
    Format: "jpg",
    DataBase64: "aGVsbG8=",
    Type: 1,
  });
  say({ step: "media" });

  try {
    await client.connection.invoke("SendMessage", 5);
    say({ step: "wrongArity", error: null });
  } catch (err) {
    say({ step: "wrongArity", error: String(err), state: client.connection.state });
  }
  const after = await client.connection.invoke("SendMessage", 8, "still connected");
  say({ step: "afterError", result: after });

  say({ step: "waitingForExpiry" });
  const error = await closed;
  say({ step: "closed", error: String(error), state: client.connection.state });
}

main().then(
  () => process.exit(0),
  (err) => {
    say({ step: "failed", error: String(err && err.stack ? err.stack : err) });
    process.exit(1);
  },
);
