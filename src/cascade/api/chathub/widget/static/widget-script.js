// The operator chat panel (Cascade, SPEC E5). A page embeds it with one tag:
//
//   <script type="module" id="operator-chat-panel-script"
//           src="{public URL}/widget/operator-chat-panel/widget-script.js"
//           token="<operator JWT>"></script>
//
// and an <operator-chat-panel> element appears after the tag (or, when the page already
// has one, that one is used). Cascade's address is where this file came from: its URL,
// two levels up. Everything else is loaded from a versioned path, cached for good.

const VERSION = "__CASCADE_WIDGET_VERSION__";
const SCRIPT_ID = "operator-chat-panel-script";

const here = new URL(import.meta.url);
const baseUrl = new URL("../../", here).href;

function ownScript() {
  const byId = document.getElementById(SCRIPT_ID);
  if (byId instanceof HTMLScriptElement) return byId;
  const path = here.origin + here.pathname;
  return [...document.querySelectorAll("script[src]")].find(
    (s) => s.src.split("?")[0] === path,
  ) ?? null;
}

const { TAG, definePanel } = await import(new URL(`v/${VERSION}/panel.js`, here).href);
definePanel();

const script = ownScript();
const token = script?.getAttribute("token") ?? "";
let panels = [...document.querySelectorAll(TAG)];
if (panels.length === 0) {
  const panel = document.createElement(TAG);
  if (script && script.parentElement && script.parentElement !== document.head) {
    script.after(panel);
  } else {
    document.body.append(panel);
  }
  panels = [panel];
}
for (const panel of panels) {
  panel.configure({ baseUrl, token: panel.getAttribute("token") || token });
}
