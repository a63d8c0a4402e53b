"""The console at `/console` (SPEC F): a wire surface like the APIs beside it — it
decodes a person's forms and links, authorizes them by their session (`sessions.py`),
reads the store and calls the same commands, and answers with server-rendered pages
(`pages.py`, templates beside it).

Every page but sign-in needs a signed-in session; without one (none, forged, tampered
with, expired) a page redirects to sign-in. Every POST carries the session's CSRF token,
else 403 and nothing is done. Everything read is the signed-in account's: another
account's message is 404, as if it did not exist. Bad input is shown on the page; a
store that cannot be reached is a 503 page, any other fault a 500 page, never a trace.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

from litestar import Request, Response, Router, get, post
from litestar.datastructures import Cookie
from litestar.exceptions import HTTPException
from litestar.params import FromPath
from litestar.response import File

from cascade.api.auth import Authenticator, Unauthorized
from cascade.api.console import charts, forms
from cascade.api.console.pages import duration, render, when
from cascade.api.console.sessions import COOKIE, Session, Sessions
from cascade.api.ratelimit import client_address, retry_after_header
from cascade.api.sign_in_throttle import TOO_MANY_SIGN_INS, TooManyAttempts
from cascade.cancel import cancel_messages
from cascade.clock import Clock
from cascade.domain.chats import ChatStatus
from cascade.domain.delivery import is_final
from cascade.domain.funnel import Outcome, funnel
from cascade.domain.message import Status
from cascade.domain.series import bucket_size_ms, series
from cascade.domain.spend import SpentMessage, spend
from cascade.domain.timeline import timeline
from cascade.store import StoreError
from cascade.store.price_book import PriceBook
from cascade.store.protocols import AccountStore, ApiStore, ChatStore, ConsoleStore

log = logging.getLogger(__name__)

AnyRequest = Request[Any, Any, Any]
HTML = "text/html; charset=utf-8"
STATIC = Path(__file__).parent / "static"
SIGN_IN = "/console/sign-in"
HOME = "/console/messages"
MAX_LOGIN = 200
MAX_PASSWORD = 1_024  # argon2 hashes any length; a megabyte of password is an attack
BAD_LOGIN = "Invalid login or password"  # an unknown login and a wrong password alike
HEADERS = {
    # nothing but the console's own files; no script at all (the charts are SVG)
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

# what the cancel command answered (SPEC A9), as the message's page tells it
CANCEL_ANSWERS = {
    **{
        status.value: f"Nothing to cancel: it is {status.value} already."
        for status in Status
        if is_final(status.value)
    },
    # a message cancelled now, or before: the command answers both alike
    "cancelled": "Cancelled: no step of it will be sent.",
    "cancelling": "Cancelling: the step in flight ends first, then no further step is taken.",
}


class Reads(ConsoleStore, ApiStore, ChatStore, AccountStore, Protocol):
    """What the console reads of the store."""


@dataclass(frozen=True, slots=True)
class Console:
    store: Reads
    auth: Authenticator
    clock: Clock
    sessions: Sessions
    prices: PriceBook
    channels: Sequence[str]  # every channel, in the order routes try them
    baseline_channel: str  # what "all-SMS" sends every message by
    baseline_parts: Callable[[str | None], int]  # a text's parts on that channel


@dataclass(frozen=True, slots=True)
class _SignedIn:
    account_id: str
    session: Session


class _SignInFirst(Exception):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class _Refused(Exception):
    """A page's answer other than 200, as a page: 403, 404."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(title)
        self.status, self.title, self.detail = status, title, detail


def _no_such_message() -> _Refused:
    return _Refused(404, "No such message", "This account has no message with that id.")


def _page(
    template: str,
    status: int = 200,
    cookies: Sequence[Cookie] = (),
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> Response[str]:
    return Response(
        render(template, **context),
        status_code=status,
        media_type=HTML,
        headers={**HEADERS, **(headers or {})},
        cookies=list(cookies),
    )


def _redirect(location: str, cookies: Sequence[Cookie] = ()) -> Response[bytes]:
    headers = {**HEADERS, "Location": location}
    return Response(b"", status_code=303, headers=headers, cookies=list(cookies))


def _safe_next(target: str | None) -> str:
    """Where to go after sign-in: a console page of this site only, never elsewhere."""
    if (
        target
        and target.startswith("/console/")
        and not target.startswith("//")
        and "\\" not in target
        and ".." not in target
        and all(c.isprintable() for c in target)
    ):
        return target
    return HOME


def console_router(console: Console) -> Router:
    c = console
    sessions = c.sessions
    statuses = [s.value for s in Status]

    def session_cookie(value: str, max_age: int) -> Cookie:
        return Cookie(value=value, **sessions.cookie_attributes(max_age))

    async def current(request: AnyRequest) -> _SignedIn | None:
        """The request's signed-in session, if its account still may sign in (one
        suspended since, or gone, is signed out at its next page)."""
        session = await sessions.decode(request.cookies.get(COOKIE))
        if session is None or session.account_id is None:
            return None
        account = await c.store.get_account(session.account_id)
        if account is None or account.suspended:
            return None
        return _SignedIn(session.account_id, session)

    async def who(request: AnyRequest) -> _SignedIn:
        me = await current(request)
        if me is None:
            path = request.url.path
            query = request.url.query
            raise _SignInFirst(f"{path}?{query}" if query else path)
        return me

    async def checked(request: AnyRequest, session: Session | None) -> Mapping[str, str]:
        """The POSTed form, if it carries the session's CSRF token; else 403."""
        form = await request.form()
        token = form.get("csrf")
        if session is None or not session.carries(token if isinstance(token, str) else None):
            raise _Refused(
                403,
                "This form has expired",
                "It did not carry this session's token. Go back, reload the page, and try again.",
            )
        return {k: v for k, v in form.items() if isinstance(v, str)}

    def frame(session: Session, section: str, **context: Any) -> dict[str, Any]:
        return {"session": session, "section": section, **context}

    # --- signing in and out -------------------------------------------------------------

    @get("/")
    async def home() -> Response[bytes]:
        return _redirect(HOME)

    @get("/sign-in")
    async def sign_in_page(request: AnyRequest) -> Response[Any]:
        if await current(request) is not None:
            return _redirect(HOME)
        session = await sessions.decode(request.cookies.get(COOKIE))
        cookies = []
        if session is None or session.signed_in:  # none, or its account's suspended
            session = sessions.anonymous()
            cookies.append(session_cookie(await sessions.encode(session), 3_600))
        target = _safe_next(request.query_params.get("next"))
        return _page("sign_in.html", cookies=cookies, csrf=session.csrf, next=target, error=None)

    @post("/sign-in", status_code=200)
    async def sign_in(request: AnyRequest) -> Response[Any]:
        session = await sessions.decode(request.cookies.get(COOKIE))
        form = await checked(request, session)
        if session is None:  # checked() has refused it already
            raise _SignInFirst(SIGN_IN)
        login, password = form.get("login", ""), form.get("password", "")
        target = _safe_next(form.get("next"))
        principal = None
        # a login with a control character cannot exist (`security.login_problem`), and
        # PostgreSQL could not even compare one with a NUL
        possible = login.isprintable() and 0 < len(login) <= MAX_LOGIN
        if possible and len(password) <= MAX_PASSWORD:
            try:
                principal = await c.auth.authenticate_login(
                    login, password, client_address(request)
                )
            except TooManyAttempts as refused:
                return _page(
                    "sign_in.html",
                    status=429,
                    headers={"Retry-After": retry_after_header(refused.decision)},
                    csrf=session.csrf,
                    next=target,
                    error=TOO_MANY_SIGN_INS,
                )
            except Unauthorized:
                principal = None
        if principal is None or principal.account.suspended:
            error = "The account is suspended" if principal is not None else BAD_LOGIN
            return _page("sign_in.html", status=401, csrf=session.csrf, next=target, error=error)
        fresh = sessions.signed_in(principal.account.id, login)
        value = await sessions.encode(fresh)
        return _redirect(target, [session_cookie(value, sessions.lifetime_s)])

    @post("/sign-out", status_code=200)
    async def sign_out(request: AnyRequest) -> Response[Any]:
        await checked(request, await sessions.decode(request.cookies.get(COOKIE)))
        return _redirect(SIGN_IN, [session_cookie("", 0)])

    # --- messages -----------------------------------------------------------------------

    @get("/messages")
    async def messages(request: AnyRequest) -> Response[Any]:
        me = await who(request)
        params = {k: v for k, v in request.query_params.items() if isinstance(v, str)}
        found = forms.search(params, statuses, c.channels)
        page = await c.store.search_messages(me.account_id, found.query)
        kept = {k: v for k, v in found.typed.items() if v}

        def link(n: int) -> str:
            return f"{HOME}?{urlencode({**kept, 'page': n})}"

        last = max(1, -(-page.total // found.per_page))
        return _page(
            "messages.html",
            **frame(
                me.session,
                "messages",
                search=found,
                page=page,
                statuses=statuses,
                channels=c.channels,
                previous=link(found.page - 1) if found.page > 1 else None,
                following=link(found.page + 1) if found.page < last else None,
                last=last,
            ),
        )

    @get("/messages/{message_id:str}")
    async def message(request: AnyRequest, message_id: FromPath[str]) -> Response[Any]:
        me = await who(request)
        histories = await c.store.message_history(me.account_id, message_id=message_id)
        if not histories:
            raise _no_such_message()
        shown = timeline(histories[0])
        answer = request.query_params.get("cancel")  # only ours is shown, never any text
        return _page(
            "message.html",
            **frame(
                me.session,
                "messages",
                timeline=shown,
                message=shown.history,
                cancellable=not is_final(shown.history.status),
                cancel_answer=CANCEL_ANSWERS.get(answer) if isinstance(answer, str) else None,
            ),
        )

    @post("/messages/{message_id:str}/cancel", status_code=200)
    async def cancel(request: AnyRequest, message_id: FromPath[str]) -> Response[Any]:
        me = await current(request)
        await checked(request, me.session if me is not None else None)
        if me is None:  # checked() has refused it already
            raise _SignInFirst(f"{HOME}/{message_id}")
        if "\x00" in message_id:
            raise _no_such_message()
        [outcome] = await cancel_messages(c.store, me.account_id, message_ids=[message_id])
        answer = outcome.status
        if answer == "not_found":
            raise _no_such_message()
        return _redirect(f"{HOME}/{message_id}?{urlencode({'cancel': answer})}")

    # --- figures ------------------------------------------------------------------------

    def period_of(request: AnyRequest) -> forms.Period:
        params = {k: v for k, v in request.query_params.items() if isinstance(v, str)}
        return forms.period(params, c.clock.now_ms())

    @get("/funnel")
    async def funnel_page(request: AnyRequest) -> Response[Any]:
        me = await who(request)
        period = period_of(request)
        rows = await c.store.step_counts(me.account_id, period.since_ms, period.until_ms)
        found = funnel(rows, c.channels)
        bars = {f.channel: charts.stacked([(o.value, f.counts[o]) for o in Outcome]) for f in found}
        return _page(
            "funnel.html",
            **frame(
                me.session,
                "funnel",
                period=period,
                periods=forms.PERIODS,
                funnel=found,
                outcomes=list(Outcome),
                bars=bars,
            ),
        )

    @get("/spend")
    async def spend_page(request: AnyRequest) -> Response[Any]:
        me = await who(request)
        period = period_of(request)
        rows = await c.store.spend_rows(me.account_id, period.since_ms, period.until_ms)
        table = await c.prices.table()
        figures = spend(
            table,
            (SpentMessage(r.phone, r.attempts, c.baseline_parts(r.text)) for r in rows),
            c.baseline_channel,
        )
        return _page(
            "spend.html",
            **frame(
                me.session,
                "spend",
                period=period,
                periods=forms.PERIODS,
                spend=figures,
                baseline=c.baseline_channel,
                prices=len(table),
            ),
        )

    @get("/activity")
    async def activity(request: AnyRequest) -> Response[Any]:
        me = await who(request)
        period = period_of(request)
        size = bucket_size_ms(period.since_ms, period.until_ms)
        since = period.since_ms - period.since_ms % size  # whole buckets, on the clock
        until = period.until_ms - period.until_ms % size + size
        rows = await c.store.throughput(me.account_id, since, until, size)
        points = series(rows, since, until, size)
        starts = [when(p.start_ms).removesuffix(" UTC")[5:16] for p in points]
        throughput = charts.chart(
            "Messages per bucket",
            starts,
            {
                "accepted": [p.accepted for p in points],
                "delivered": [p.delivered for p in points],
            },
            kind="bars",
        )
        latency = charts.chart(
            "Time to delivery",
            starts,
            {
                "average": [p.latency_avg_ms for p in points],
                "slowest": [p.latency_max_ms for p in points],
            },
            kind="lines",
            label=lambda v: duration(round(v)),
        )
        return _page(
            "activity.html",
            **frame(
                me.session,
                "activity",
                period=period,
                periods=forms.PERIODS,
                bucket=duration(size),
                charts=[throughput, latency],
                totals={
                    "accepted": sum(p.accepted for p in points),
                    "delivered": sum(p.delivered for p in points),
                },
            ),
        )

    @get("/chats")
    async def chats(request: AnyRequest) -> Response[Any]:
        me = await who(request)
        stats = await c.store.chat_stats(me.account_id)
        return _page(
            "chats.html",
            **frame(
                me.session,
                "chats",
                stats=stats,
                statuses=[
                    (s.name.replace("_", " ").title(), stats.by_status.get(s, 0))
                    for s in ChatStatus
                ],
                open_chats=sum(n for s, n in stats.by_status.items() if s.is_open),
            ),
        )

    @get("/static/console.css", media_type="text/css")
    async def stylesheet() -> File:
        return File(
            STATIC / "console.css",
            content_disposition_type="inline",
            headers={"Cache-Control": "max-age=3600"},
        )

    # --- answers other than a page --------------------------------------------------------

    def on_sign_in_first(request: AnyRequest, exc: _SignInFirst) -> Response[bytes]:
        return _redirect(f"{SIGN_IN}?{urlencode({'next': exc.path})}")

    def on_refused(request: AnyRequest, exc: _Refused) -> Response[str]:
        return _page("error.html", status=exc.status, title=exc.title, detail=exc.detail)

    def on_http(request: AnyRequest, exc: HTTPException) -> Response[str]:
        if exc.status_code >= 500:
            return on_fault(request, exc)
        return _page(
            "error.html", status=exc.status_code, title="Not possible", detail=str(exc.detail)
        )

    def on_fault(request: AnyRequest, exc: Exception) -> Response[str]:
        if isinstance(exc, StoreError):
            log.warning("console: store unavailable on %s: %s", request.url.path, exc)
            return _page(
                "error.html",
                status=503,
                title="The database is unavailable",
                detail="Try again in a moment.",
            )
        log.error("console: fault on %s %s", request.method, request.url.path, exc_info=exc)
        return _page(
            "error.html", status=500, title="Something went wrong", detail="It was logged."
        )

    return Router(
        path="/console",
        route_handlers=[
            home,
            sign_in_page,
            sign_in,
            sign_out,
            messages,
            message,
            cancel,
            funnel_page,
            spend_page,
            activity,
            chats,
            stylesheet,
        ],
        exception_handlers={
            _SignInFirst: on_sign_in_first,
            _Refused: on_refused,
            HTTPException: on_http,
            Exception: on_fault,
        },
        include_in_schema=False,
    )
