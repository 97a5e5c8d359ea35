"""`lienthong node …`, `lienthong peer …` and `lienthong directory …`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, NoReturn

import httpx
import typer
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lienthong.config import Settings
from lienthong.db import make_engine, make_session_factory
from lienthong.federation import outbox, peers
from lienthong.federation.forwarder import Forwarder
from lienthong.federation.transport import NODE_PATH
from lienthong.kernel.commands import command_unit, err
from lienthong.kernel.pki import FileKeyStore
from lienthong.runtime import build_runtime

node_app = typer.Typer(help="This node's federation identity.", no_args_is_help=True)
peer_app = typer.Typer(help="Peers: the other nodes, their links and queues.", no_args_is_help=True)
directory_app = typer.Typer(
    help="The agency directory shared with the national axis.", no_args_is_help=True
)
console = Console()


def _stop(message: str) -> NoReturn:
    err.print(f"[red]{escape(message)}[/]")
    raise typer.Exit(2)


def _fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex(":")[:47]


@node_app.command("ca")
def node_ca(
    folder: Annotated[
        Path, typer.Argument(help="Folder for the federation root's key and certificate.")
    ],
) -> None:
    """Create the federation's root CA (once, by whoever runs the federation: the national
    axis). Its certificate is every node's trust anchor; keep the key offline."""
    _key, cert = FileKeyStore(folder).ensure_ca("lienthong federation root")
    console.print(f"Federation root: {cert.subject.rfc4514_string()}  sha256 {_fingerprint(cert)}")
    console.print(f"Certificate: {folder / 'ca.pem'}")


@node_app.command("init")
def node_init(
    ctx: typer.Context,
    federation_ca: Annotated[
        Path, typer.Option(help="Folder holding the federation root's ca.key and ca.pem.")
    ],
) -> None:
    """Give this node (LIENTHONG_NODE_CODE, LIENTHONG_BASE_URL) a key and a certificate under
    the federation's root; its agency certificates are re-certified to chain to the root."""
    settings: Settings = ctx.obj
    root = FileKeyStore(federation_ca)
    if not (federation_ca / "ca.key").exists():
        _stop(
            f"No federation root in {federation_ca}: run `lienthong node ca {federation_ca}` first."
        )
    root_key, root_cert = root.ensure_ca()
    code = peers.check_node_code(settings.node_code)
    runtime = build_runtime(settings)
    assert isinstance(runtime.keys, FileKeyStore)
    identity = runtime.keys.join_federation(node_code=code, root_key=root_key, root_cert=root_cert)
    console.print(f"Node {code} · {settings.public_url}")
    console.print(
        f"Certificate sha256 {_fingerprint(identity.chain[0])}, under {root_cert.subject.rfc4514_string()}"
    )
    if not settings.base_url:
        console.print(
            f"[yellow]LIENTHONG_BASE_URL is not set: peers will be told {settings.public_url}.[/]"
        )


@node_app.command("show")
def node_show(ctx: typer.Context) -> None:
    """This node's code, address and certificate."""
    settings: Settings = ctx.obj
    identity = build_runtime(settings).keys.transport_identity()
    console.print(f"Node {settings.node_code} · {settings.public_url}")
    if identity is None:
        console.print("[yellow]No federation identity: run `lienthong node init`.[/]")
        return
    leaf = identity.chain[0]
    console.print(
        f"Certificate sha256 {_fingerprint(leaf)}, valid until {leaf.not_valid_after_utc:%Y-%m-%d}"
    )


@peer_app.command("add")
def peer_add(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="The peer's node code, e.g. VN or H26.")],
    url: Annotated[str, typer.Argument(help="The peer's base URL.")],
    national: Annotated[bool, typer.Option(help="This peer is the national axis.")] = False,
    cert: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="Its certificate chain (PEM); fetched from the peer if omitted.",
        ),
    ] = None,
) -> None:
    """Add (or update) a peer. Its certificate must chain to the federation's root and name it."""
    settings: Settings = ctx.obj
    runtime = build_runtime(settings)
    if cert is not None:
        pem = cert.read_bytes()
    else:
        try:
            info = httpx.get(url.rstrip("/") + NODE_PATH, timeout=10).json()
            pem = str(info["certificate"]).encode()
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            _stop(f"Could not read {url}{NODE_PATH}: {exc}. Give --cert instead.")
    with command_unit(ctx) as session:
        peer = peers.add_peer(
            session,
            keys=runtime.keys,
            code=code,
            base_url=url,
            certificate_pem=pem,
            national=national,
        )
        console.print(
            f"Peer {peer.code} · {peer.base_url}{' · national axis' if peer.national else ''}"
        )


@peer_app.command("remove")
def peer_remove(ctx: typer.Context, code: str) -> None:
    """Remove a peer (refused while packages wait for it)."""
    with command_unit(ctx) as session:
        peers.remove_peer(session, code=code)
    console.print(f"Peer {code} removed.")


@peer_app.command("list")
def peer_list(ctx: typer.Context) -> None:
    """Peers and their addresses."""
    peer_status(ctx, as_json=False)


@peer_app.command("status")
def peer_status(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False
) -> None:
    """Each peer: up or down, last success, backlog, oldest waiting package, dead letters."""
    with command_unit(ctx) as session:
        rows = peers.status(session)
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(title="peers")
    for column in (
        "code",
        "url",
        "state",
        "last success",
        "backlog",
        "oldest waiting",
        "dead",
        "directory",
    ):
        table.add_column(column)
    for row in rows:
        state = row["state"] + (f" (retry {row['retry_at']})" if row["state"] == "down" else "")
        table.add_row(
            row["code"] + (" ★" if row["national"] else ""),
            row["base_url"],
            state,
            row["last_success_at"] or "—",
            str(row["backlog"]),
            row["oldest_waiting_at"] or "—",
            str(row["dead"]),
            f"v{row['directory_version']}",
        )
    console.print(table)


@peer_app.command("dead")
def peer_dead(ctx: typer.Context, page: int = 1, peer: str | None = None) -> None:
    """Dead letters: packages a peer refused for good, with the reason."""
    with command_unit(ctx) as session:
        rows, total = outbox.listing(session, state=outbox.DEAD, page=page, page_size=50, peer=peer)
        table = Table(title=f"dead letters: {total}")
        for column in ("id", "kind", "peer", "document", "from", "error"):
            table.add_column(column)
        for row in rows:
            table.add_row(
                str(row.id),
                row.kind,
                row.peer_code,
                row.document_id,
                row.origin_code,
                (row.last_error or "")[:80],
            )
    console.print(table)


@peer_app.command("requeue")
def peer_requeue(
    ctx: typer.Context, ids: Annotated[list[int], typer.Argument(help="Dead letter ids.")]
) -> None:
    """Put dead letters back in their peer's queue."""
    with command_unit(ctx) as session:
        for outbound_id in ids:
            outbox.requeue(session, outbound_id=outbound_id)
    console.print(f"Requeued {len(ids)}.")


def _forwarder(settings: Settings) -> Forwarder:
    return Forwarder(
        make_session_factory(make_engine(settings.database_url)), build_runtime(settings)
    )


def _national(ctx: typer.Context) -> str:
    with command_unit(ctx) as session:
        national = next((p for p in peers.status(session) if p["national"]), None)
    if national is None:
        _stop("No national axis among the peers: `lienthong peer add CODE URL --national`.")
    return str(national["code"])


def _sync(ctx: typer.Context, step: str) -> None:
    code = _national(ctx)
    forwarder = _forwarder(ctx.obj)
    try:
        if step == "pull":
            console.print(f"Directory from {code}: {forwarder.pull_directory(code)}")
        else:
            console.print(f"Pushed {forwarder.push_directory(code)} agencies to {code}.")
    except Exception as exc:  # shown to the operator, exit 2
        _stop(f"Directory {step} with {code} refused: {exc}")


@directory_app.command("pull")
def directory_pull(ctx: typer.Context) -> None:
    """Apply what changed in the national axis' directory since the last pull."""
    _sync(ctx, "pull")


@directory_app.command("push")
def directory_push(ctx: typer.Context) -> None:
    """Send this node's own agencies changed since the last push to the national axis."""
    _sync(ctx, "push")
