"""The message log: every package in and out, hash-chained, with checkpoints signed by the node.

Each entry's hash covers the previous entry's hash and the package's sha256, so deleting,
reordering or editing any entry breaks the chain from there on; `lienthong log verify` says
where. Appends are serialised (an advisory lock on PostgreSQL; SQLite transactions already are).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from lienthong.exchange.models import LogCheckpoint, LogEntry
from lienthong.kernel import stages
from lienthong.kernel.clock import utcnow
from lienthong.kernel.pki import KeyStore, verify_rsa

GENESIS = "0" * 64
_LOCK_KEY = 0x6C69656E  # "lien"


def _entry_hash(prev: str, entry: LogEntry) -> str:
    parts = (
        prev,
        entry.at.isoformat(),
        entry.direction,
        entry.kind,
        entry.sender_code,
        entry.document_id,
        entry.package_sha256,
    )
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def append(
    session: Session,
    *,
    direction: str,
    kind: str,
    sender_code: str,
    document_id: str,
    package_sha256: str,
) -> LogEntry:
    return append_many(
        session,
        [
            {
                "direction": direction,
                "kind": kind,
                "sender_code": sender_code,
                "document_id": document_id,
                "package_sha256": package_sha256,
            }
        ],
    )[0]


@stages.staged("log")
def append_many(session: Session, entries: Sequence[Mapping[str, str]]) -> list[LogEntry]:
    """Extend the chain by `entries`, in order, with one read of its head and one insert.

    Call it last in the transaction: on PostgreSQL the chain's lock is held from here until
    commit, so appends of concurrent transactions queue only for their commit, not for
    anything else they do."""
    if not entries:
        return []
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    prev = session.scalar(select(LogEntry.entry_hash).order_by(LogEntry.id.desc()).limit(1))
    prev = prev or GENESIS
    now = utcnow()
    rows = []
    for values in entries:
        entry = LogEntry(at=now, prev_hash=prev, entry_hash="", **values)
        entry.entry_hash = prev = _entry_hash(prev, entry)
        rows.append(entry)
    session.add_all(rows)
    session.flush()
    return rows


@dataclass(frozen=True)
class Verification:
    entries: int
    first_broken_id: int | None
    checkpoints_ok: int
    first_bad_checkpoint_id: int | None


def verify(session: Session, *, keys: KeyStore, batch: int = 5000) -> Verification:
    prev = GENESIS
    count = 0
    broken: int | None = None
    last_id = 0
    while broken is None:
        rows = list(
            session.scalars(
                select(LogEntry).where(LogEntry.id > last_id).order_by(LogEntry.id).limit(batch)
            )
        )
        if not rows:
            break
        for entry in rows:
            count += 1
            if entry.prev_hash != prev or _entry_hash(prev, entry) != entry.entry_hash:
                broken = entry.id
                break
            prev = entry.entry_hash
        last_id = rows[-1].id
    node = keys.node_identity().chain[0]
    ok = 0
    bad: int | None = None
    for checkpoint in session.scalars(select(LogCheckpoint).order_by(LogCheckpoint.id)):
        marked = session.get(LogEntry, checkpoint.entry_id)
        signed = verify_rsa(
            node,
            base64.b64decode(checkpoint.signature),
            checkpoint.entry_hash.encode(),
            hashes.SHA256(),
        )
        if marked is None or marked.entry_hash != checkpoint.entry_hash or not signed:
            bad = checkpoint.id
            break
        ok += 1
    return Verification(count, broken, ok, bad)


def checkpoint(session: Session, *, keys: KeyStore) -> LogCheckpoint | None:
    last = session.scalars(select(LogEntry).order_by(LogEntry.id.desc()).limit(1)).first()
    if last is None:
        return None
    previous = session.scalars(
        select(LogCheckpoint).order_by(LogCheckpoint.id.desc()).limit(1)
    ).first()
    if previous is not None and previous.entry_id == last.id:
        return previous
    signature = keys.node_identity().key.sign(
        last.entry_hash.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    mark = LogCheckpoint(
        entry_id=last.id,
        entry_hash=last.entry_hash,
        signature=base64.b64encode(signature).decode(),
        at=utcnow(),
    )
    session.add(mark)
    session.flush()
    return mark
