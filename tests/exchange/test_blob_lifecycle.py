"""Refused work leaves no blob behind, what is in use never goes, and the collector removes
what nothing references once nobody can still be writing it."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import String
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from lienthong import migrations
from lienthong.app import blob_columns
from lienthong.cli import app as cli_app
from lienthong.config import Settings
from lienthong.db import make_engine, make_session_factory, unit_of_work
from lienthong.kernel import blobgc
from lienthong.kernel.blobs import FileBlobStore
from lienthong.models import metadata
from lienthong.runtime import Runtime

from .conftest import HONG_GAI, SNV, Software, draft_package, send, signed


def _files(store: FileBlobStore) -> set[str]:
    return {sha for sha, _, _ in store.walk()}


def _leftovers(store: FileBlobStore) -> list[Path]:
    return list((store.root / "tmp").glob("*.part"))


def _with_attachment(db: Session, runtime: Runtime, content: bytes) -> bytes:
    package = draft_package(db, runtime, sender=SNV, to=[HONG_GAI])
    blob = runtime.blobs.put(content)
    return signed(
        runtime,
        dataclasses.replace(
            package, attachments=[dataclasses.replace(package.attachments[0], blob=blob)]
        ),
    )


def test_a_refused_package_leaves_no_blob(
    client: TestClient,
    db: Session,
    keyed: Runtime,
    software: Callable[[str], Software],
    tmp_path: Path,
) -> None:
    store = keyed.blobs
    assert isinstance(store, FileBlobStore)
    content = b"%PDF-1.4\n" + os.urandom(2 * 1024 * 1024)
    body = _with_attachment(db, keyed, content)
    # The sender's own copy made while composing is not the node's: drop it to start clean.
    store.path(store.put(content).sha256).unlink()
    before = _files(store)
    tampered = body.replace("Về việc".encode(), b"Ve viec", 1)  # bad_signature, after parsing
    response = send(client, software(SNV), tampered)
    assert response.json()["error"]["code"] == "bad_signature"
    assert _files(store) == before  # neither the package nor its 2 MB attachment stayed
    assert _leftovers(store) == []


def test_a_refusal_never_removes_what_another_package_uses(
    client: TestClient, db: Session, keyed: Runtime, software: Callable[[str], Software]
) -> None:
    store = keyed.blobs
    assert isinstance(store, FileBlobStore)
    content = b"%PDF-1.4\n" + os.urandom(64 * 1024)
    body = _with_attachment(db, keyed, content)
    accepted = send(client, software(SNV), body)
    assert accepted.status_code == 202, accepted.text
    sha = store.put(content).sha256
    refused = send(client, software(SNV), body.replace("Về việc".encode(), b"Ve viec", 1))
    assert refused.json()["error"]["code"] == "bad_signature"  # refused after parsing
    assert store.exists(sha)  # the accepted document's attachment is still there


def test_discard_spares_a_blob_claimed_by_a_concurrent_writer(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    first = store.put(b"the same attachment")  # package A writes it first …
    assert first.fresh
    second = store.put(b"the same attachment")  # … package B, still committing, finds it
    assert not second.fresh
    assert store.discard([first]) == 0  # A is refused: B's claim keeps the file
    assert store.exists(first.sha256)
    alone = store.put(b"only package C has this")
    assert store.discard([alone]) == 1
    assert not store.exists(alone.sha256)


def test_collector_removes_only_unreferenced_old_blobs(
    db: Session, settings: Settings, runtime: Runtime, tmp_path: Path
) -> None:
    store = FileBlobStore(tmp_path / "blobs")
    old = time.time() - 2 * 3600
    orphan = store.put(b"nobody references me")
    kept = store.put(b"a document's attachment")
    recent = store.put(b"a package being written right now")
    for ref in (orphan, kept):
        os.utime(store.path(ref.sha256), (old, old))
    leftover = store.root / "tmp" / "crashed.part"
    leftover.write_bytes(b"half a blob")
    os.utime(leftover, (old, old))
    columns = blob_columns()
    referenced = {kept.sha256}
    run = blobgc.collect(
        db,
        store=_Referencing(store, referenced),  # type: ignore[arg-type]
        columns=columns,
        grace_seconds=3600,
    )
    assert not store.exists(orphan.sha256)
    assert store.exists(kept.sha256)
    assert store.exists(recent.sha256)
    assert not leftover.exists()
    assert (run.deleted, run.recent, run.temporary, run.files) == (1, 1, 1, 2)


class _Referencing:
    """The store with the database's answer to "which of these does a record reference?"
    extended by a set, so that the test need not store whole documents."""

    def __init__(self, store: FileBlobStore, extra: set[str]) -> None:
        self.store = store
        self.extra = extra

    def collect(self, *, referenced: Callable[[list[str]], set[str]], grace_seconds: float):  # type: ignore[no-untyped-def]
        return self.store.collect(
            referenced=lambda shas: referenced(shas) | (self.extra & set(shas)),
            grace_seconds=grace_seconds,
        )


def test_collector_spares_what_the_database_references(
    client: TestClient, db: Session, keyed: Runtime, software: Callable[[str], Software]
) -> None:
    store = keyed.blobs
    assert isinstance(store, FileBlobStore)
    body = _with_attachment(db, keyed, b"%PDF-1.4\n" + os.urandom(4096))
    answer = send(client, software(SNV), body)
    assert answer.status_code == 202
    from lienthong.exchange.models import Document

    document = db.get_one(Document, answer.json()["id"])
    old = time.time() - 10 * 3600
    for sha, _, _ in store.walk():
        os.utime(store.path(sha), (old, old))
    blobgc.collect(db, store=store, columns=blob_columns(), grace_seconds=3600)
    assert store.exists(document.stored_sha256)
    assert store.exists(document.package_sha256)


def test_every_sha256_column_is_classified() -> None:
    """A new column holding a blob's sha-256 must be listed in its domain's BLOB_COLUMNS, or the
    collector would delete what it points at; hashes that are not blobs are named here."""
    not_blobs = {
        "message_log.package_sha256",  # the log proves what passed, keeps nothing
        "security_source.token_sha256",  # a source's token, kept only as its hash
    }
    listed = {f"{c.table.name}.{c.name}" for c in blob_columns()}
    found = {
        f"{table.name}.{column.name}"
        for table in metadata.sorted_tables
        for column in table.columns
        if "sha256" in column.name and isinstance(column.type, String)
    }
    assert found - listed - not_blobs == set()
    assert not_blobs <= found  # the exceptions are real columns


def test_jobs_status_shows_the_collector(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/node.db"
    migrations.upgrade(url)
    env = {"LIENTHONG_DATABASE_URL": url, "LIENTHONG_LOG_JSON": "false"}
    first = CliRunner().invoke(cli_app, ["jobs", "status"], env=env)
    assert "the collector has not run yet" in first.output
    store = FileBlobStore(tmp_path / "blobs")
    old = time.time() - 7200
    for content in (b"one", b"two"):
        os.utime(store.path(store.put(content).sha256), (old, old))
    with unit_of_work(make_session_factory(make_engine(url))) as session:
        blobgc.collect(session, store=store, columns=blob_columns(), grace_seconds=3600)
    result = CliRunner().invoke(cli_app, ["jobs", "status"], env=env)
    assert result.exit_code == 0, result.output
    assert "2 unreferenced removed" in " ".join(result.output.split())
