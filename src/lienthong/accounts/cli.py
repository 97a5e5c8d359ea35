"""`lienthong user …`: create people and grant roles."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from lienthong.accounts import service
from lienthong.accounts.models import Role
from lienthong.kernel.commands import command_unit

app = typer.Typer(help="People and their roles.", no_args_is_help=True)
console = Console()


@app.command("create")
def create(
    ctx: typer.Context,
    username: str,
    agency: Annotated[str, typer.Option(help="Agency code the role applies to.")],
    role: Annotated[Role, typer.Option(help="admin, clerk, officer or leader.")],
    full_name: Annotated[str, typer.Option("--name", help="Full name.")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
) -> None:
    """Create a person with one role at one agency."""
    with command_unit(ctx) as session:
        service.create_user(
            session,
            username=username,
            full_name=full_name,
            password=password,
            grants=[(agency, role)],
        )
    console.print(f"Created {username} ({role.value} at {agency}).")
