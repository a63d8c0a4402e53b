// The provider's own ChathubClient (shared/provider-examples/chathub-client.js), its URL
// pointed at a running Cascade, as an operator's software uses it: a company token from
// the login and password (getToken), the hub (connect), and a reply (sendTextMessage) to
// each of the first <replies> people's messages it receives. Every hub event is printed
// as one JSON line after "@@ ", for the Python test (tests/test_chathub_live.py) to check.
// Each reply is a text (sendTextMessage) and then a picture (sendMediaMessage, shaped as
// the example's own mediaDTO: {Name, Format, DataBase64, Type}).
//   node chat_client.js <example.js> <base URL> <login> <password> <replies>
"use strict";
const signalR = require("@microsoft/signalr");
const { loadChathubClient } = require("./example");

const [examplePath, baseUrl, login, password, repliesArg] = process.argv.slice(2);
const say = (line) => process.stdout.write("@@ " + JSON.stringify(line) + "\n");
// a 1x1 PNG
const PNG_BASE64 =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

async function main() {
  const ChathubClient = loadChathubClient(examplePath, baseUrl, signalR);
  const client = new ChathubClient();
  let replies = Number(repliesArg);
  const event = (name) => (...args) => say({ step: "event", name, args });
  client.handleNewChat = event("ChatCreated");
  client.handleMediaMessage = event("ReceiveMediaMessage");
  client.handleChatStatusChange = event("ChatStatusChanged");
  client.handleMessageStatusChange = event("MessageStatusChanged");
  client.handleTextMessage = async (message) => {
    say({ step: "event", name: "ReceiveMessage", args: [message] });
    if (replies <= 0) return;
    replies -= 1;
    try {
      await client.sendTextMessage(message.chatId, "Operator: got '" + message.message + "'");
      say({ step: "sent", chatId: message.chatId });
      await client.sendMediaMessage(message.chatId, {
        Name: "photo.png",
        Format: "png",
        DataBase64: PNG_BASE64,
        Type: 1, // MediaType.Photo
      });
      say({ step: "sentMedia", chatId: message.chatId });
    } catch (err) {
      say({ step: "sendFailed", error: String(err) });
    }
  };
  const token = await client.getToken(login, password);
  say({ step: "token", parts: String(token).split(".").length });
  await client.connect();
  say({ step: "connected" });
}

main().catch((err) => {
  say({ step: "failed", error: String(err && err.stack ? err.stack : err) });
  process.exit(1);
});
