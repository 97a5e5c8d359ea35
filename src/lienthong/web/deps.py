"""Request-scoped dependencies shared by every domain's api.py and pages.py."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Sequence
from datetime import date
from functools import lru_cache
from typing import Annotated

from fastapi import Depends, Path, Request
from pydantic import BeforeValidator
from sqlalchemy.orm import Session

from lienthong.config import Settings
from lienthong.db import unit_of_work
from lienthong.runtime import Runtime

LANG_COOKIE = "lang"
LANGUAGES = ("vi", "en")


# Trivial dependencies are async so that FastAPI calls them in place instead of hopping to a
# worker thread for each (measurable per request: see benchmarks/exchange.py).
async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_db(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the handler returns, rolled back if it raises."""
    with unit_of_work(request.app.state.session_factory) as session:
        yield session


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def language(request: Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    accept = request.headers.get("accept-language", "")
    if accept.lower().startswith("en"):
        return "en"
    default: str = request.app.state.settings.default_language
    return default if default in LANGUAGES else "vi"


def wants_json(request: Request) -> bool:
    if request.url.path.startswith(
        ("/api/", "/federation/v1/", "/healthz", "/readyz", "/metrics", "/probe", "/tsa")
    ):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


# scope="function": the transaction commits before the response leaves. FastAPI's default
# ("request") commits after the response is sent, so a browser following a POST's 303 could
# read the state from before the POST (the flaky one-stop browser test, under load).
DB = Annotated[Session, Depends(get_db, scope="function")]
# A row's id in a path: a positive 32-bit integer (larger ones cannot name a row).
Pk = Annotated[int, Path(ge=1, le=2_147_483_647)]


def _iso_date(value: object) -> object:
    """Dates in the API are ISO (2026-12-02) and nothing else: pydantic would also read a
    number as seconds since 1970, and "0" as 01/01/1970."""
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value):
        raise ValueError("use an ISO date such as 2026-12-02")
    if not isinstance(value, str | date):
        raise ValueError("use an ISO date such as 2026-12-02")
    return value


# Free text in a query: printable, no control characters (a NUL cannot even be stored).
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
IsoDate = Annotated[date, BeforeValidator(_iso_date)]
AppSettings = Annotated[Settings, Depends(get_settings)]


async def language_dependency(request: Request) -> str:
    return language(request)


Lang = Annotated[str, Depends(language_dependency)]
NodeRuntime = Annotated[Runtime, Depends(get_runtime)]


@lru_cache(maxsize=64)
def _networks(
    trusted: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(
        ipaddress.ip_network(item.strip(), strict=False) for item in trusted if item.strip()
    )


def _is_trusted(address: str, trusted: Sequence[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(tuple(trusted)))


def client_address(request: Request) -> str:
    """The client's address: the peer's, unless the peer is a trusted proxy
    (`LIENTHONG_TRUSTED_PROXIES`); then the right-most X-Forwarded-For entry that is not itself
    a trusted proxy. Entries further left were written by the client and prove nothing."""
    peer = request.client.host if request.client else "unknown"
    trusted: list[str] = request.app.state.settings.trusted_proxies
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    forwarded = [
        part.strip()
        for header in request.headers.getlist("x-forwarded-for")
        for part in header.split(",")
        if part.strip()
    ]
    for candidate in reversed(forwarded):
        if not _is_trusted(candidate, trusted):
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                return peer  # garbage from the proxy's client: fall back to what we know
    return peer
