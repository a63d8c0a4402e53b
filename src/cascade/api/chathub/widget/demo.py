"""`GET /widget/demo`: a page to try the operator chat panel in a browser at once.

Served only when CASCADE_WIDGET_DEMO is on (`cascade up` turns it on). The page holds no
credential: it is a sign-in form. Signed in with a company login, the page itself asks
ChatHub for a company token (`POST /api/company/get-token`), lists the operators
(`GET /api/operator`), takes an operator token for the first active one (`POST
/api/operator/get-token`) and adds the widget's one script tag with that token, as an
embedding page would. The tokens live in the page's memory only: nothing is stored, and
a reload asks again.

Its one inline script is allowed by its hash in the page's Content-Security-Policy; the
rest (the widget, its modules, ChatHub, the hub) is this origin's.
"""

from __future__ import annotations

import base64
import hashlib
import html

from litestar import Response, Router, get

PATH = "/widget/demo"

_SCRIPT = """
const base = new URL("../", location.href);
const form = document.getElementById("sign-in");
const notice = document.getElementById("notice");

async function call(method, path, body, token) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(new URL(path, base), {
    method, headers, credentials: "omit",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const found = await response.json().catch(() => null);
  if (!response.ok) throw new Error(found?.detail ?? `HTTP ${response.status}`);
  return found;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  notice.textContent = "";
  const login = document.getElementById("login").value;
  const password = document.getElementById("password").value;
  try {
    const company = (await call("POST", "api/company/get-token", { login, password })).token;
    const operators = await call("GET", "api/operator", undefined, company);
    const operator = operators.find((op) => op.status === 0);
    if (!operator) throw new Error("the account has no active operator (cascade operators add)");
    const { token } = await call("POST", "api/operator/get-token", { id: operator.id }, company);
    form.hidden = true;
    document.getElementById("who").textContent =
      `Operator ${operator.name} (id ${operator.id}) of ${operator.organization.name}`;
    const script = document.createElement("script");
    script.type = "module";
    script.id = "operator-chat-panel-script";
    script.src = new URL("widget/operator-chat-panel/widget-script.js", base).href;
    script.setAttribute("token", token);
    document.getElementById("desk").append(script);
  } catch (error) {
    notice.textContent = `Could not sign in: ${error.message}`;
  }
});
"""

_CSP = (
    "default-src 'self'; script-src 'self' 'sha256-{digest}'; style-src 'self' "
    "'unsafe-inline'; img-src 'self' blob: data:; connect-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


def demo_page(login: str) -> str:
    """The page; `login` fills the login field (the demo account's)."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cascade — operator chat panel demo</title>
<link rel="icon" href="data:,">
<style>
body {{ font: 15px/1.5 system-ui, sans-serif; margin: 24px auto; max-width: 1000px;
  padding: 0 16px; color: #1d2330; }}
form {{ display: flex; gap: 8px; align-items: end; flex-wrap: wrap; margin: 16px 0; }}
label {{ display: flex; flex-direction: column; font-size: 13px; }}
input, button {{ font: inherit; padding: 6px 8px; }}
#notice {{ color: #b42318; }}
#desk {{ height: 600px; }}
</style></head><body>
<h1>Operator chat panel</h1>
<p>Sign in with the company login <code>cascade up</code> printed. The page asks ChatHub
for a token of the first active operator and shows that operator's panel, as any page
embedding the widget's script tag would.</p>
<form id="sign-in">
<label>Login <input id="login" name="login" autocomplete="username" required
  value="{html.escape(login)}"></label>
<label>Password <input id="password" name="password" type="password"
  autocomplete="current-password" required></label>
<button type="submit">Sign in</button>
</form>
<p id="notice" role="alert"></p>
<p id="who"></p>
<div id="desk"></div>
<script type="module">{_SCRIPT}</script>
</body></html>"""


def demo_router(login: str) -> Router:
    page = demo_page(login).encode()
    digest = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
    headers = {
        "Content-Security-Policy": _CSP.format(digest=digest),
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }

    @get("/", include_in_schema=False)
    async def demo() -> Response[bytes]:
        return Response(page, media_type="text/html", headers=headers)

    return Router(path=PATH, route_handlers=[demo])
