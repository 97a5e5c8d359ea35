"""What operators and their tools read: liveness, readiness (database and migrations), and
Prometheus metrics; and the middleware that gives every request an id, a log line and its
place in the metrics."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lienthong import __version__, migrations
from lienthong.kernel import jobs

log = logging.getLogger("lienthong.http")
router = APIRouter(tags=["ops"])


class JobCollector(Collector):
    """Job counts by status, read from the database at scrape time."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def collect(self) -> Any:
        family = GaugeMetricFamily(
            "lienthong_jobs", "Jobs in the job table by status", labels=["status"]
        )
        try:
            with self.factory() as session:
                for status, count in jobs.counts_by_status(session).items():
                    family.add_metric([status], count)
        except Exception:  # a scrape must not fail because the database is down; readyz says so
            log.warning("job metrics unavailable", exc_info=True)
        yield family


class Metrics:
    """One registry per app: request counts and latencies, and whatever domains register."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.registry = CollectorRegistry()
        self.requests_total = Counter(
            "lienthong_http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "lienthong_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
        )
        self.registry.register(JobCollector(factory))


class Observe:
    """Request id, metrics and one structured log line per request, as plain ASGI middleware
    (Starlette's BaseHTTPMiddleware costs a task and a stream per request)."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")[:64]
        request_id = given or uuid.uuid4().hex[:16]
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            template = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests_total.labels(scope["method"], template, str(status)).inc()
            self.metrics.latency.labels(scope["method"], template).observe(elapsed)
            log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "ms": round(elapsed * 1000, 1),
                },
            )


class Health(BaseModel):
    status: str
    version: str


class Readiness(BaseModel):
    status: str  # ready, migrations_pending, unavailable
    checks: dict[str, Any]


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process answers (says nothing of the database)."""
    return Health(status="ok", version=__version__)


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={
        503: {"model": Readiness, "description": "Database unreachable or migrations pending"}
    },
)
def readyz(request: Request) -> Response:
    """Ready to serve: the database answers and its schema is at the code's migration head."""
    checks: dict[str, Any] = {}
    try:
        with request.app.state.session_factory() as session:
            session.execute(text("SELECT 1"))
            checks["database"] = "ok"
            current = migrations.current_revision(session.connection())
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
        return JSONResponse({"status": "unavailable", "checks": checks}, status_code=503)
    head = request.app.state.migration_head
    checks["migrations"] = {"current": current, "head": head}
    ready = current == head
    return JSONResponse(
        {"status": "ready" if ready else "migrations_pending", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
def metrics_endpoint(request: Request) -> Response:
    """Prometheus metrics of this process."""
    metrics: Metrics = request.app.state.metrics
    return PlainTextResponse(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
