// Loads the provider's ChathubClient (shared/provider-examples/chathub-client.js, kept
// verbatim in this directory) as published: without its top-level usage lines (a CommonJS
// script has no top-level await), with only its URL changed to Cascade's.
"use strict";
const fs = require("fs");

function loadChathubClient(examplePath, baseUrl, signalR) {
  let source = fs.readFileSync(examplePath, "utf8");
  source = source.split("// Usage example")[0];
  source = source.split("https://chatapi.smsbat.com").join(baseUrl);
  return new Function("signalR", source + "\nreturn ChathubClient;")(signalR);
}

module.exports = { loadChathubClient };
