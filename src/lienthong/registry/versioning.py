"""Directory versions: every change to an agency takes the next number of one counter.

The directory feed (federation.directory) hands out "what changed since version N". For that to
be true, any flush that creates or changes an agency, or adds or removes its successors, gives
that agency a fresh version. The listener is on every Session, so no write path can forget it;
only Core `insert()`/`update()` on the agency table would bypass it, and the registry has none.

The versions come from the single `directory_counter` row, bumped with one upsert that returns
the new value. On PostgreSQL the row stays locked until the transaction ends, so versions are
handed out in commit order: once a reader sees head = N, every change with a version <= N is
committed and visible. On SQLite, BEGIN IMMEDIATE already serialises writers.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, UOWTransaction
from sqlalchemy.orm.util import identity_key

from lienthong.registry.models import Agency, DirectoryCounter, Succession

COUNTER_ID = 1
CHUNK = 500
# Set in `session.info` when a session changes agencies (registry/cache.py reads past the cache).
CHANGED_HERE = "registry.changed"


def current_version(session: Session) -> int:
    """The last version handed out (0 before the first change)."""
    value = session.scalar(
        select(DirectoryCounter.version).where(DirectoryCounter.id == COUNTER_ID)
    )
    return int(value or 0)


def allocate(session: Session, count: int) -> int:
    """Take `count` versions; returns the last one (the first is last - count + 1)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(DirectoryCounter)
        .values(id=COUNTER_ID, version=count)
        .on_conflict_do_update(
            index_elements=["id"], set_={"version": DirectoryCounter.version + count}
        )
        .returning(DirectoryCounter.version)
    )
    return int(session.execute(stmt).scalar_one())


def stamp_unversioned(session: Session) -> int:
    """Give versions, in code order, to agencies that have none: rows written before the
    directory counter existed (migration 0004 leaves them at 0, which no feed publishes).
    Returns how many; running it again does nothing."""
    agencies = list(
        session.scalars(select(Agency).where(Agency.dir_version == 0).order_by(Agency.code))
    )
    if agencies:
        last = allocate(session, len(agencies))
        for version, agency in enumerate(agencies, start=last - len(agencies) + 1):
            agency.dir_version = version  # a dir_version-only change: the listener lets it be
        session.flush()
    return len(agencies)


def _really_changed(agency: Agency) -> bool:
    """A change to anything but dir_version (our own stamp, e.g. left from an earlier flush)."""
    state = inspect(agency)
    if not state.attrs.dir_version.history.has_changes():
        return True  # is_modified() already said something changed
    return any(attr.history.has_changes() for attr in state.attrs if attr.key != "dir_version")


def _changed_agencies(session: Session) -> list[Agency]:
    changed: dict[int, Agency] = {}
    for obj in session.new:
        if isinstance(obj, Agency):
            changed[id(obj)] = obj
    for obj in session.dirty:
        if isinstance(obj, Agency) and session.is_modified(obj) and _really_changed(obj):
            changed[id(obj)] = obj
    # The feed record carries successors: a predecessor whose succession rows come or go changed.
    predecessor_ids = {
        obj.predecessor_id
        for obj in (*session.new, *session.deleted)
        if isinstance(obj, Succession) and obj.predecessor_id is not None
    }
    missing = []
    for agency_id in predecessor_ids - {a.id for a in session.deleted if isinstance(a, Agency)}:
        agency = session.identity_map.get(identity_key(Agency, agency_id))
        if isinstance(agency, Agency):
            changed[id(agency)] = agency
        else:
            missing.append(agency_id)
    for start in range(0, len(missing), CHUNK):
        # Autoflush is off while flushing, so reading here is safe.
        for agency in session.scalars(
            select(Agency).where(Agency.id.in_(missing[start : start + CHUNK]))
        ):
            changed[id(agency)] = agency
    return sorted(changed.values(), key=lambda a: (a.code or "", a.id or 0))


def stamp_versions(session: Session, _flush_context: UOWTransaction, _instances: Any) -> None:
    agencies = _changed_agencies(session)
    if not agencies:
        return
    session.info[CHANGED_HERE] = True
    last = allocate(session, len(agencies))
    for version, agency in enumerate(agencies, start=last - len(agencies) + 1):
        agency.dir_version = version


def install() -> None:
    """Listen on every Session of the process; calling it again changes nothing."""
    if not event.contains(Session, "before_flush", stamp_versions):
        event.listen(Session, "before_flush", stamp_versions)


install()
