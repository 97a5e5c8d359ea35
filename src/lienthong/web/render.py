"""Jinja rendering shared by every page: language, dates in dd/MM/yyyy, the signed-in person."""

from __future__ import annotations

import json
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from lienthong.accounts.nav import home_for, menu_for
from lienthong.kernel.clock import format_date, format_datetime
from lienthong.web.deps import language

TEMPLATE_PACKAGES = (
    "lienthong.web",
    "lienthong.registry",
    "lienthong.accounts",
    "lienthong.exchange",
    "lienthong.onestop",
    "lienthong.federation",
    "lienthong.datashare",
    "lienthong.netmon",
    "lienthong.security",
)


def make_environment() -> Environment:
    loaders = [
        FileSystemLoader(str(Path(str(resources.files(package))) / "templates"))
        for package in TEMPLATE_PACKAGES
    ]
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["date"] = format_date
    env.filters["datetime"] = format_datetime
    env.filters["changes"] = lambda value: json.dumps(value, ensure_ascii=False, default=str)
    return env


def page_url(request: Request, **changes: Any) -> str:
    """The current URL with some query parameters changed (for pagination and filters)."""
    params = dict(request.query_params)
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = str(value)
    query = urlencode(params)
    return f"{request.url.path}?{query}" if query else request.url.path


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    lang = language(request)

    def tr(vi: str, en: str) -> str:
        return en if lang == "en" else vi

    env: Environment = request.app.state.templates
    principal = getattr(request.state, "principal", None)
    html = env.get_template(template).render(
        request=request,
        lang=lang,
        tr=tr,
        principal=principal,
        menu=menu_for(principal),
        home_href=home_for(principal),
        csrf_token=getattr(principal, "csrf_token", None)
        or getattr(request.state, "csrf_token", ""),
        page_url=lambda **kw: page_url(request, **kw),
        **(context or {}),
    )
    return HTMLResponse(html, status_code=status_code)


def csv_download(content: str | Iterable[str] | Iterable[bytes], filename: str) -> Response:
    """A CSV file the browser saves as `filename`: a whole text, or chunks streamed as made."""
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    media_type = "text/csv; charset=utf-8"
    if isinstance(content, str):
        return Response(content, media_type=media_type, headers=headers)
    return StreamingResponse(content, media_type=media_type, headers=headers)
