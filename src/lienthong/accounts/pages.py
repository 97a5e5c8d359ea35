"""Sign-in, sign-out and the language switch."""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select

from lienthong.accounts import service, throttle
from lienthong.accounts.deps import (
    PRE_SESSION_CSRF_COOKIE,
    SESSION_COOKIE,
    OptionalPrincipal,
    check_csrf,
    page_node_role,
)
from lienthong.accounts.models import ROLE_LABELS, Role, User
from lienthong.accounts.nav import home_for
from lienthong.accounts.service import Principal
from lienthong.config import Settings
from lienthong.kernel.errors import TooManyRequests
from lienthong.kernel.events import node_event
from lienthong.web.deps import (
    DB,
    LANG_COOKIE,
    LANGUAGES,
    AppSettings,
    NodeRuntime,
    client_address,
    language,
)
from lienthong.web.render import render

router = APIRouter(include_in_schema=False)


def safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect a person to another host after sign-in."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def pre_session_form(
    request: Request, template: str, context: dict[str, object], status_code: int = 200
) -> Response:
    """A form shown before there is a session (sign-in, sign-up): its CSRF token is a cookie."""
    token = request.cookies.get(PRE_SESSION_CSRF_COOKIE) or secrets.token_urlsafe(24)
    request.state.csrf_token = token
    response = render(request, template, context, status_code=status_code)
    response.set_cookie(PRE_SESSION_CSRF_COOKIE, token, httponly=True, samesite="lax", max_age=3600)
    return response


def signed_in_redirect(target: str, token: str, settings: Settings) -> Response:
    """Where a person goes once signed in (or signed up), with the session cookie set."""
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        max_age=settings.session_hours * 3600,
    )
    response.delete_cookie(PRE_SESSION_CSRF_COOKIE)
    return response


def _signin_page(
    request: Request,
    next_url: str,
    error: str | None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    response = pre_session_form(
        request, "accounts/signin.html", {"next": next_url, "error": error}, status_code
    )
    response.headers.update(headers or {})
    return response


@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request, principal: OptionalPrincipal, next: str = "/") -> Response:
    if principal is not None:
        target = safe_next(next)
        return RedirectResponse(home_for(principal) if target == "/" else target, status_code=303)
    return _signin_page(request, safe_next(next), None)


@router.post("/signin")
def signin(
    request: Request,
    db: DB,
    settings: AppSettings,
    runtime: NodeRuntime,
    username: Annotated[str, Form(max_length=80)],
    password: Annotated[str, Form(max_length=256)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    check_csrf(request, None, csrf_token)
    address = client_address(request)
    rules = throttle.signin_rules(settings)
    lang = language(request)

    def tell(outcome: str, reason: str | None = None) -> None:
        runtime.events.emit(
            node_event(
                action="signin",
                category="authentication",
                outcome=outcome,
                reason=reason,
                source_ip=address,
                user_name=username.strip().lower()[:80],
                fields={"url.path": request.url.path, "event.type": "start"},
            )
        )

    try:
        throttle.check(runtime.limiter, rules, name=username, address=address)
        user = service.authenticate(db, username=username, password=password)
    except TooManyRequests as exc:
        tell("failure", exc.code)
        return _signin_page(
            request, safe_next(next), exc.message(lang), status_code=429, headers=exc.headers
        )
    except service.BadCredentials as exc:
        throttle.failed(runtime.limiter, rules, name=username, address=address)
        tell("failure", exc.code)
        return _signin_page(request, safe_next(next), exc.message(lang), status_code=401)
    throttle.succeeded(runtime.limiter, rules, name=username)
    tell("success")
    token = service.open_session(db, user=user, hours=settings.session_hours)
    target = safe_next(next)
    if target == "/":  # no page asked for: the person's own home, by role
        target = home_for(service.user_principal(db, user=user))
    return signed_in_redirect(target, token, settings)


@router.post("/signout")
def signout(
    request: Request,
    db: DB,
    principal: OptionalPrincipal,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    if principal is not None:
        check_csrf(request, principal, csrf_token)
        service.close_session(db, token=request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/quan-tri", response_class=HTMLResponse)
def administration(
    request: Request,
    db: DB,
    admin: Annotated[Principal, Depends(page_node_role(Role.ADMIN))],
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """The node administrator's start: every admin page, and the people with their roles."""
    size = 50
    total = db.scalar(select(func.count()).select_from(User)) or 0
    users = list(
        db.scalars(select(User).order_by(User.username).offset((page - 1) * size).limit(size))
    )
    lang = language(request)
    labels = {str(r): v[1] if lang == "en" else v[0] for r, v in ROLE_LABELS.items()}
    return render(
        request,
        "accounts/admin.html",
        {
            "users": [(u, service.user_principal(db, user=u).grants) for u in users],
            "role_labels": labels,
            "total": total,
            "page": page,
            "page_size": size,
        },
    )


@router.get("/lang/{code}")
def switch_language(code: str, next: str = "/") -> Response:
    response = RedirectResponse(safe_next(next), status_code=303)
    if code in LANGUAGES:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="lax")
    return response
