"""Where a service's records come from, behind one Protocol: the node's own copy (hosted) or the
owner agency's REST service (upstream) with a timeout, a response-size cap and a circuit
breaker. The gateway removes what the caller may not see; providers return whole records."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

import httpx
from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from lienthong.datashare.models import DataService, Dataset, HostedRecord
from lienthong.kernel.errors import AppError


@dataclass(frozen=True)
class Page:
    records: list[dict[str, Any]]
    total: int | None = None
    next_cursor: int | None = None


class DataProvider(Protocol):
    """Records of one dataset. `filters` are item name → exact value."""

    def get(
        self, session: Session, *, dataset: Dataset, service: DataService, key: str
    ) -> dict[str, Any] | None: ...

    def search(
        self,
        session: Session,
        *,
        dataset: Dataset,
        service: DataService,
        filters: Mapping[str, str],
        offset: int,
        limit: int,
    ) -> Page: ...

    def changes(
        self, session: Session, *, dataset: Dataset, service: DataService, cursor: int, limit: int
    ) -> Page: ...


class HostedProvider:
    """Records in the node's database (`data_record`)."""

    def get(
        self, session: Session, *, dataset: Dataset, service: DataService, key: str
    ) -> dict[str, Any] | None:
        data = session.scalar(
            select(HostedRecord.data).where(
                HostedRecord.dataset_id == dataset.id, HostedRecord.key == key
            )
        )
        return dict(data) if data is not None else None

    def search(
        self,
        session: Session,
        *,
        dataset: Dataset,
        service: DataService,
        filters: Mapping[str, str],
        offset: int,
        limit: int,
    ) -> Page:
        return self.records(session, dataset=dataset, filters=filters, offset=offset, limit=limit)

    def records(
        self,
        session: Session,
        *,
        dataset: Dataset,
        filters: Mapping[str, str],
        offset: int,
        limit: int,
    ) -> Page:
        query = select(HostedRecord).where(HostedRecord.dataset_id == dataset.id)
        for name, value in filters.items():
            if name == dataset.key_item:
                query = query.where(HostedRecord.key == value)
            elif name == dataset.subject_item:
                query = query.where(HostedRecord.subject == value)
            else:
                # Values are stored as JSON; compare as text on both databases.
                query = query.where(cast(HostedRecord.data[name].as_string(), String) == value)
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(query.order_by(HostedRecord.key).offset(offset).limit(limit))
        return Page([dict(r.data) for r in rows], total=total)

    def changes(
        self, session: Session, *, dataset: Dataset, service: DataService, cursor: int, limit: int
    ) -> Page:
        rows = list(
            session.scalars(
                select(HostedRecord)
                .where(HostedRecord.dataset_id == dataset.id, HostedRecord.seq > cursor)
                .order_by(HostedRecord.seq)
                .limit(limit)
            )
        )
        return Page([dict(r.data) for r in rows], next_cursor=rows[-1].seq if rows else cursor)


class UpstreamError(AppError):
    status_code = 502
    code = "upstream_error"


@dataclass
class _Breaker:
    failures: int = 0
    open_until: float = 0.0


@dataclass
class UpstreamProvider:
    """Forwards to the owner's REST service at `service.upstream_url`:

    - `GET {url}/records/{key}` → the record (404: none);
    - `GET {url}/records?item=value&offset=&limit=` → `{"records": [...], "total": n}`;
    - `GET {url}/changes?cursor=&limit=` → `{"records": [...], "next_cursor": n}`.

    After `failure_threshold` failures in a row the breaker opens for `open_seconds`: calls
    are refused at once instead of piling up behind a dead system."""

    failure_threshold: int = 5
    open_seconds: float = 30.0
    transport: httpx.BaseTransport | None = None
    _breakers: dict[str, _Breaker] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _fetch(self, service: DataService, path: str, params: Mapping[str, Any]) -> Any:
        base = (service.upstream_url or "").rstrip("/")
        with self._lock:
            breaker = self._breakers.setdefault(base, _Breaker())
            if breaker.open_until > time.monotonic():
                raise UpstreamError(
                    "Hệ thống của cơ quan chủ quản đang tạm ngừng phục vụ; thử lại sau.",
                    "The owner's system is failing; the node stopped calling it for a while.",
                    code="upstream_unavailable",
                    status_code=503,
                )
        try:
            result = self._request(service, base + path, params)
        except UpstreamError as failure:
            if failure.code != "upstream_not_found":
                with self._lock:
                    breaker.failures += 1
                    if breaker.failures >= self.failure_threshold:
                        breaker.open_until = time.monotonic() + self.open_seconds
                        breaker.failures = 0
            raise
        with self._lock:
            breaker.failures = 0
        return result

    def _request(self, service: DataService, url: str, params: Mapping[str, Any]) -> Any:
        timeout = service.timeout_ms / 1000
        cap = service.max_response_bytes
        try:
            with (
                httpx.Client(timeout=timeout, transport=self.transport) as client,
                client.stream("GET", url, params=dict(params)) as response,
            ):
                if response.status_code == 404:
                    raise UpstreamError(
                        "Không có bản ghi.", "No such record.", code="upstream_not_found"
                    )
                if response.status_code >= 400:
                    raise UpstreamError(
                        f"Hệ thống của cơ quan chủ quản trả lỗi {response.status_code}.",
                        f"The owner's system answered {response.status_code}.",
                        details={"upstream_status": response.status_code},
                    )
                body = bytearray()
                for chunk in response.iter_bytes():
                    body.extend(chunk)
                    if len(body) > cap:
                        raise UpstreamError(
                            "Câu trả lời của hệ thống chủ quản vượt giới hạn.",
                            f"The owner's system answered more than {cap} bytes.",
                            code="upstream_too_large",
                        )
        except httpx.TimeoutException:
            raise UpstreamError(
                "Hệ thống của cơ quan chủ quản không trả lời kịp.",
                f"The owner's system did not answer within {service.timeout_ms} ms.",
                code="upstream_timeout",
                status_code=504,
            ) from None
        except httpx.HTTPError as exc:
            raise UpstreamError(
                "Không kết nối được hệ thống của cơ quan chủ quản.",
                f"Could not reach the owner's system: {type(exc).__name__}.",
                code="upstream_unreachable",
            ) from None
        try:
            return json.loads(bytes(body))
        except ValueError:
            raise UpstreamError(
                "Hệ thống của cơ quan chủ quản trả dữ liệu không phải JSON.",
                "The owner's system answered malformed JSON.",
                code="upstream_malformed",
            ) from None

    @staticmethod
    def _records(payload: Any) -> list[dict[str, Any]]:
        records = payload.get("records") if isinstance(payload, dict) else None
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise UpstreamError(
                "Hệ thống của cơ quan chủ quản trả dữ liệu sai cấu trúc.",
                "The owner's system answered without a list of records.",
                code="upstream_malformed",
            )
        return records

    def get(
        self, session: Session, *, dataset: Dataset, service: DataService, key: str
    ) -> dict[str, Any] | None:
        try:
            payload = self._fetch(service, f"/records/{quote(key, safe='')}", {})
        except UpstreamError as failure:
            if failure.code == "upstream_not_found":
                return None
            raise
        if not isinstance(payload, dict):
            raise UpstreamError(
                "Hệ thống của cơ quan chủ quản trả dữ liệu sai cấu trúc.",
                "The owner's system answered something other than a record.",
                code="upstream_malformed",
            )
        return payload

    def search(
        self,
        session: Session,
        *,
        dataset: Dataset,
        service: DataService,
        filters: Mapping[str, str],
        offset: int,
        limit: int,
    ) -> Page:
        payload = self._fetch(service, "/records", {**filters, "offset": offset, "limit": limit})
        total = payload.get("total") if isinstance(payload, dict) else None
        return Page(self._records(payload), total=total if isinstance(total, int) else None)

    def changes(
        self, session: Session, *, dataset: Dataset, service: DataService, cursor: int, limit: int
    ) -> Page:
        payload = self._fetch(service, "/changes", {"cursor": cursor, "limit": limit})
        nxt = payload.get("next_cursor") if isinstance(payload, dict) else None
        return Page(self._records(payload), next_cursor=nxt if isinstance(nxt, int) else cursor)


@dataclass(frozen=True)
class Providers:
    """The provider for each kind of service; built once in the runtime."""

    hosted: DataProvider = field(default_factory=HostedProvider)
    upstream: DataProvider = field(default_factory=UpstreamProvider)

    def for_service(self, service: DataService) -> DataProvider:
        return self.upstream if service.provider == "upstream" else self.hosted
