"""FastAPI app factory: mounts every domain's api.py and pages.py, one error handler per
surface, health and metrics."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SqlTimeoutError
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

from lienthong import __version__, migrations
from lienthong.accounts import api as account_api
from lienthong.accounts import pages as account_pages
from lienthong.accounts.deps import SignInRequired
from lienthong.config import Settings
from lienthong.datashare import api as datashare_api
from lienthong.datashare import ckan as datashare_ckan
from lienthong.datashare import pages as datashare_pages
from lienthong.db import make_engine, make_session_factory
from lienthong.exchange import api as exchange_api
from lienthong.exchange import intake, vdxp
from lienthong.exchange import pages as exchange_pages
from lienthong.exchange import registers_api as exchange_registers_api
from lienthong.federation import api as federation_api
from lienthong.federation import pages as federation_pages
from lienthong.kernel import blobgc, jobs, logs
from lienthong.kernel.errors import AppError
from lienthong.kernel.groupcommit import GroupCommit
from lienthong.netmon import api as netmon_api
from lienthong.netmon import pages as netmon_pages
from lienthong.netmon.metrics import NetmonCollector
from lienthong.onestop import api as onestop_api
from lienthong.onestop import officer_pages as onestop_officer_pages
from lienthong.onestop import pages as onestop_pages
from lienthong.onestop.api import DOSSIER_CODE
from lienthong.onestop.service import check_code
from lienthong.registry import api as registry_api
from lienthong.registry import pages as registry_pages
from lienthong.registry.codes import PATTERN as AGENCY_CODE
from lienthong.registry.codes import parse_code
from lienthong.runtime import Runtime, build_runtime
from lienthong.security import api as security_api
from lienthong.security import pages as security_pages
from lienthong.web import ops
from lienthong.web.deps import language, wants_json
from lienthong.web.events import tell_refusal
from lienthong.web.guard import RequestGuard
from lienthong.web.openapi import EVERYWHERE
from lienthong.web.render import make_environment, render

log = logging.getLogger("lienthong.http")

_HTTP_CODES = {
    400: ("bad_request", "Yêu cầu không hợp lệ.", "Bad request."),
    401: ("unauthenticated", "Cần đăng nhập.", "Authentication required."),
    403: ("forbidden", "Không có quyền.", "Forbidden."),
    404: ("not_found", "Không tìm thấy địa chỉ này.", "No such address."),
    405: ("method_not_allowed", "Phương thức không được hỗ trợ.", "Method not allowed."),
    413: ("body_too_large", "Nội dung gửi lên quá lớn.", "The request body is too large."),
    431: ("headers_too_large", "Phần tiêu đề quá lớn.", "The request headers are too large."),
}


def _error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> Response:
    if wants_json(request):
        return JSONResponse(
            {"error": {"code": code, "message": message, "details": details}},
            status_code=status,
            headers=headers,
        )
    title = {
        401: ("Cần đăng nhập", "Sign-in required"),
        403: ("Không có quyền", "Not allowed"),
        404: ("Không tìm thấy", "Not found"),
    }.get(status, ("Không thực hiện được", "Could not be done"))
    lang = language(request)
    return render(
        request,
        "error.html",
        {"title": title[1] if lang == "en" else title[0], "message": message, "code": code},
        status_code=status,
    )


def _specific_refusal(exc: RequestValidationError) -> AppError | None:
    """The domain's own refusal for a value that fails a pattern the domain checks itself
    (an agency code, a dossier code), so that the answer says what is wrong with it."""
    checks = {AGENCY_CODE: parse_code, DOSSIER_CODE: check_code}
    for err in exc.errors():
        check = checks.get((err.get("ctx") or {}).get("pattern", ""))
        if err.get("type") == "string_pattern_mismatch" and check is not None:
            try:
                check(str(err.get("input", "")))
            except AppError as refusal:
                return refusal
    return None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def sign_in_required(request: Request, exc: SignInRequired) -> Response:
        if wants_json(request):
            return _error_response(request, 401, exc.code, exc.message(language(request)))
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/signin?next={target}", status_code=303)

    @app.exception_handler(AppError)
    async def app_error(request: Request, exc: AppError) -> Response:
        headers = dict(exc.headers or {})
        if exc.status_code == 401:
            headers["WWW-Authenticate"] = 'Basic realm="lienthong"'
        tell_refusal(request, exc.status_code, exc.code)
        return _error_response(
            request, exc.status_code, exc.code, exc.message(language(request)), exc.details, headers
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        specific = _specific_refusal(exc)
        if specific is not None:  # a code in the wrong form says which part is wrong
            return _error_response(
                request,
                specific.status_code,
                specific.code,
                specific.message(language(request)),
                specific.details,
            )
        details = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ()) if p != "body"),
                "problem": err.get("msg"),
                "type": err.get("type"),
            }
            for err in exc.errors()
        ]
        fields = ", ".join(d["field"] for d in details if d["field"]) or "body"
        lang = language(request)
        message = (
            f"Invalid request: check {fields}."
            if lang == "en"
            else f"Yêu cầu không hợp lệ: kiểm tra {fields}."
        )
        return _error_response(request, 422, "invalid_request", message, details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code, vi, en = _HTTP_CODES.get(
            exc.status_code, ("http_error", str(exc.detail), str(exc.detail))
        )
        return _error_response(
            request,
            exc.status_code,
            code,
            en if language(request) == "en" else vi,
            headers=dict(exc.headers or {}),  # e.g. Allow on a 405
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(SqlTimeoutError)
    async def database_unavailable(request: Request, exc: Exception) -> Response:
        # A connection lost mid-request, a database restarting, a pool exhausted: the unit of
        # work has rolled back; the client may simply try again.
        log.warning("database unavailable", extra={"path": request.url.path, "error": str(exc)})
        lang = language(request)
        message = (
            "The database is unavailable for a moment; nothing was saved. Try again shortly."
            if lang == "en"
            else "Cơ sở dữ liệu tạm thời không sẵn sàng; chưa có gì được lưu. Hãy thử lại sau ít giây."
        )
        return _error_response(
            request, 503, "database_unavailable", message, headers={"Retry-After": "5"}
        )

    @app.exception_handler(DataError)
    async def unstorable_value(request: Request, exc: DataError) -> Response:
        # The database refused a value as given (a NUL character in text, a number out of
        # range): the client's data, not the node, is at fault.
        lang = language(request)
        message = (
            "A value cannot be stored as given (a NUL character in text, a number out of range)."
            if lang == "en"
            else "Có giá trị không lưu được như đã gửi (ký tự NUL trong văn bản, số vượt giới hạn)."
        )
        return _error_response(request, 422, "invalid_value", message)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", extra={"path": request.url.path})
        lang = language(request)
        message = (
            "An internal error occurred; it has been logged."
            if lang == "en"
            else "Có lỗi nội bộ; lỗi đã được ghi lại."
        )
        return _error_response(request, 500, "internal_error", message)


def app_from_environment() -> FastAPI:
    """The app as each process of `lienthong serve --processes N` builds it: its settings from
    the environment, its own pool, runtime and intake committer."""
    settings = Settings()
    logs.configure(json_lines=settings.log_json, level=settings.log_level)
    app = create_app(settings)
    _store_security_events(app)
    return app


def _store_security_events(app: FastAPI) -> None:
    """This process's own security events (sign-ins, refusals) stored and run through the
    rules by a flusher thread of its own, ended when the process exits."""
    import atexit

    from lienthong.security.loops import flusher_loop

    stop = threading.Event()
    loop = flusher_loop(app.state.session_factory, app.state.runtime)
    thread = threading.Thread(target=loop, args=(stop,), daemon=True, name="security-flusher")
    thread.start()

    def finish() -> None:
        stop.set()
        thread.join(timeout=5)

    atexit.register(finish)


def create_app(
    settings: Settings,
    session_factory: sessionmaker[Session] | None = None,
    runtime: Runtime | None = None,
) -> FastAPI:
    if session_factory is None:
        session_factory = make_session_factory(make_engine(settings.database_url))
    if runtime is None:
        runtime = build_runtime(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if app.state.intake_committer is not None:
            app.state.intake_committer.close()

    app = FastAPI(
        title="lienthong",
        version=__version__,
        description="Trục liên thông văn bản và dịch vụ công — agency registry, document axis, one-stop services.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.session_factory = session_factory
    app.state.runtime = runtime
    app.state.templates = make_environment()
    app.state.migration_head = migrations.head_revision()
    # Packages that arrive together are stored in one transaction (kernel/groupcommit.py).
    app.state.intake_committer = (
        GroupCommit(
            session_factory,
            finish=intake.finish,
            max_batch=settings.intake_batch_max,
            max_wait=settings.intake_batch_wait_ms / 1000,
            name="intake",
        )
        if settings.intake_batch_max > 1
        else None
    )

    metrics = ops.Metrics(session_factory)
    app.state.metrics = metrics
    metrics.registry.register(NetmonCollector(session_factory))
    app.add_middleware(
        RequestGuard,
        max_uploads=settings.max_concurrent_uploads,
        upload_seconds=settings.upload_deadline_seconds,
    )
    app.add_middleware(ops.Observe, metrics=metrics)
    install_error_handlers(app)

    app.include_router(ops.router)
    static_dir = Path(str(resources.files("lienthong.web"))) / "static"
    app.mount("/static", StaticFiles(directory=static_dir), name="static")
    for api in (
        registry_api.router,
        exchange_api.router,
        onestop_api.router,
        account_api.router,
        federation_api.router,
        federation_api.operator,
        datashare_api.router,
        datashare_api.me_router,
        datashare_ckan.router,
        netmon_api.router,
        netmon_api.blackbox,
        security_api.router,
        exchange_registers_api.router,
        exchange_registers_api.tsa_router,
    ):
        app.include_router(api, responses=EVERYWHERE)
    app.include_router(vdxp.router, prefix=settings.vdxp_prefix)
    for pages in (
        exchange_pages.router,
        onestop_pages.router,
        onestop_officer_pages.router,
        account_pages.router,
        registry_pages.router,
        federation_pages.router,
        datashare_pages.router,
        netmon_pages.router,
        security_pages.router,
    ):
        app.include_router(pages)
    return app


def background_loops(
    factory: sessionmaker[Session], runtime: Runtime
) -> list[tuple[str, Callable[[threading.Event], None]]]:
    """What `lienthong worker` (and `serve --with-worker`) runs besides requests: each loop
    runs until the event is set. A domain with work of its own to keep running adds it here."""
    from lienthong.federation.forwarder import Forwarder
    from lienthong.netmon.prober import Prober
    from lienthong.security.loops import security_loops

    settings = runtime.settings
    worker = jobs.Worker(
        factory=factory,
        handlers=job_handlers(runtime),
        backoff_seconds=settings.job_backoff_seconds,
        periodic=periodic_jobs(settings),
    )
    forwarder = Forwarder(factory, runtime)
    return [
        ("worker", lambda stop: worker.run_forever(stop, settings.worker_poll_seconds)),
        ("forwarder", forwarder.run_forever),
        ("netmon-prober", Prober(factory, settings).run_forever),
        *security_loops(factory, runtime),
    ]


def periodic_jobs(settings: Settings) -> dict[str, timedelta]:
    """Jobs the worker keeps one of pending, each run enqueuing the next."""
    from lienthong.exchange.tasks import CHECKPOINT_JOB
    from lienthong.netmon.tasks import PRUNE_JOB as NETMON_PRUNE_JOB
    from lienthong.netmon.tasks import READINESS_JOB as NETMON_READINESS_JOB
    from lienthong.security.tasks import DAILY_SUMMARY_JOB, PRUNE_JOB

    return {
        CHECKPOINT_JOB: timedelta(minutes=settings.log_checkpoint_minutes),
        blobgc.GC_JOB: timedelta(hours=settings.blob_gc_every_hours),
        NETMON_PRUNE_JOB: timedelta(hours=1),
        NETMON_READINESS_JOB: timedelta(minutes=1),
        PRUNE_JOB: timedelta(hours=6),
        DAILY_SUMMARY_JOB: timedelta(days=1),
    }


def blob_columns() -> list[Any]:
    """Every column that holds the sha-256 of a kept blob, from each domain's models."""
    from lienthong.exchange.models import BLOB_COLUMNS as exchange_blobs
    from lienthong.federation.models import BLOB_COLUMNS as federation_blobs
    from lienthong.onestop.models import BLOB_COLUMNS as onestop_blobs

    return [*exchange_blobs, *federation_blobs, *onestop_blobs]


def job_handlers(runtime: Runtime) -> dict[str, jobs.Handler]:
    from lienthong.exchange.tasks import handlers as exchange_handlers
    from lienthong.kernel import notify
    from lienthong.netmon.tasks import handlers as netmon_handlers
    from lienthong.registry.tasks import HANDLERS as registry_handlers
    from lienthong.security.tasks import handlers as security_handlers

    def collect_blobs(ctx: jobs.JobContext, payload: dict[str, Any]) -> None:
        blobgc.collect(
            ctx.session,
            store=runtime.blobs,
            columns=blob_columns(),
            grace_seconds=runtime.settings.blob_gc_grace_minutes * 60,
        )

    return {
        **registry_handlers,
        **exchange_handlers(runtime),
        **notify.handlers(runtime.notifiers),
        **security_handlers(runtime),
        blobgc.GC_JOB: collect_blobs,
        **netmon_handlers(runtime.settings),
    }
