"""Agencies by code for the hot paths (intake, routing), read once and reused until the
directory changes.

Every change to an agency takes the next directory version (registry/versioning.py), so the
cache is good for as long as the version it was filled at: each use reads that one number (a
one-row lookup) instead of the agencies themselves. A session that has changed agencies itself
reads past the cache, so nothing uncommitted is ever kept in it.
"""

from __future__ import annotations

import threading

from sqlalchemy.orm import Session, make_transient_to_detached

from lienthong.registry.models import Agency
from lienthong.registry.service import find_agency
from lienthong.registry.versioning import CHANGED_HERE, current_version

_COLUMNS = tuple(c.key for c in Agency.__mapper__.column_attrs)


class AgencyCache:
    def __init__(self, limit: int = 20_000) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._version: int | None = None
        self._agencies: dict[str, Agency] = {}

    def view(self, session: Session) -> AgencyView:
        """What this session may take from the cache: checked against the directory once."""
        if session.info.get(CHANGED_HERE):
            return AgencyView(self, session, None)
        version = current_version(session)
        with self._lock:
            if version != self._version:
                self._agencies.clear()
                self._version = version
        return AgencyView(self, session, version)

    def _get(self, version: int, code: str) -> Agency | None:
        with self._lock:
            return self._agencies.get(code) if version == self._version else None

    def _put(self, version: int, code: str, agency: Agency) -> None:
        copy = Agency(**{key: getattr(agency, key) for key in _COLUMNS})
        make_transient_to_detached(copy)
        with self._lock:
            if version == self._version and len(self._agencies) < self.limit:
                self._agencies[code] = copy


class AgencyView:
    def __init__(self, cache: AgencyCache, session: Session, version: int | None) -> None:
        self.cache = cache
        self.session = session
        self.version = version

    def find(self, code: str) -> Agency | None:
        """The agency with this (normalised) code, attached to the session, or None."""
        code = code.strip().upper()
        if self.version is not None:
            cached = self.cache._get(self.version, code)
            if cached is not None:
                return self.session.merge(cached, load=False)
        agency = find_agency(self.session, code=code)
        if agency is not None and self.version is not None:
            self.cache._put(self.version, code, agency)
        return agency


AGENCIES = AgencyCache()
