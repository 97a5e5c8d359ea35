"""Request-scoped dependencies shared by every domain's api.py and pages.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
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
    if request.url.path.startswith(("/api/", "/federation/v1/", "/healthz", "/readyz", "/metrics")):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


DB = Annotated[Session, Depends(get_db)]
AppSettings = Annotated[Settings, Depends(get_settings)]


async def language_dependency(request: Request) -> str:
    return language(request)


Lang = Annotated[str, Depends(language_dependency)]
NodeRuntime = Annotated[Runtime, Depends(get_runtime)]
