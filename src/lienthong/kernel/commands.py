"""What every domain's cli.py shares: a unit of work on the configured database, and one way to
report a typed error to a person at a terminal."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.orm import Session, sessionmaker

from lienthong.config import Settings
from lienthong.db import make_engine, make_session_factory, unit_of_work
from lienthong.kernel.errors import AppError

err = Console(stderr=True)


def session_factory(ctx: typer.Context) -> sessionmaker[Session]:
    settings: Settings = ctx.obj
    return make_session_factory(make_engine(settings.database_url))


def fail(exc: AppError) -> NoReturn:
    err.print(f"[red]{exc.code}[/]: " + escape(f"{exc.message_vi} / {exc.message_en}"))
    details = exc.details
    if isinstance(details, dict) and "errors" in details:
        for item in details["errors"]:
            err.print(
                escape(
                    f"  line {item['line']} [{item['column']}]: {item['message']} / "
                    f"{item.get('message_en', '')}"
                )
            )
    raise typer.Exit(2)


@contextmanager
def command_unit(ctx: typer.Context) -> Iterator[Session]:
    """One transaction for a command; a typed error is printed and exits with status 2."""
    try:
        with unit_of_work(session_factory(ctx)) as session:
            yield session
    except AppError as exc:
        fail(exc)
