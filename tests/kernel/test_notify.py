"""Notifications: queued with the fact, sent by the worker after commit, every attempt recorded.
E-mail goes to a real SMTP server process; a webhook to a real HTTP server."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from lienthong.app import job_handlers
from lienthong.config import Settings
from lienthong.kernel import jobs, notify
from lienthong.runtime import Runtime, build_runtime
from tests.fixtures.smtp import SmtpServer, wait_for


def _runtime(settings: Settings, **changes: Any) -> Runtime:
    return build_runtime(settings.model_copy(update=changes))


def _run(factory: sessionmaker[Session], runtime: Runtime) -> int:
    return jobs.Worker(factory=factory, handlers=job_handlers(runtime)).run_until_idle()


def _queue(factory: sessionmaker[Session], **fields: Any) -> int:
    with factory.begin() as session:
        row = notify.queue(session, topic="test.notice", **fields)
        return row.id


def _row(factory: sessionmaker[Session], notification_id: int) -> notify.Notification:
    with factory() as session:
        return session.get_one(notify.Notification, notification_id)


def test_email_reaches_a_real_smtp_server(
    smtp_server: SmtpServer, settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    runtime = _runtime(settings, smtp_host=smtp_server.host, smtp_port=smtp_server.port)
    nid = _queue(
        session_factory,
        channel=notify.EMAIL,
        recipient="can.bo@quangninh.gov.vn",
        subject="Hồ sơ đã được tiếp nhận",
        body="Hồ sơ H49.25-251202-0001 đã được tiếp nhận lúc 09:00.",
        ref="H49.25-251202-0001",
    )
    assert _row(session_factory, nid).state == notify.QUEUED  # nothing sent before the worker
    _run(session_factory, runtime)
    messages = wait_for(smtp_server.messages, what="the e-mail at the SMTP server")
    assert len(messages) == 1
    message = messages[0]
    assert message["To"] == "can.bo@quangninh.gov.vn"
    assert str(make_header(decode_header(message["Subject"]))) == "Hồ sơ đã được tiếp nhận"
    assert message["X-Lienthong-Notification"] == str(nid)
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert "H49.25-251202-0001" in payload.decode(message.get_content_charset() or "utf-8")
    row = _row(session_factory, nid)
    assert (row.state, row.attempts, row.last_error) == (notify.SENT, 1, None)
    assert _run(session_factory, runtime) == 0  # sent once, not again


def test_a_refusing_server_is_recorded_as_failed(
    tmp_path: Path, settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    server = SmtpServer.start(tmp_path, refusing=True)
    try:
        runtime = _runtime(settings, smtp_host=server.host, smtp_port=server.port)
        nid = _queue(
            session_factory, channel=notify.EMAIL, recipient="x@example.vn", subject="s", body="b"
        )
        _run(session_factory, runtime)
    finally:
        server.stop()
    row = _row(session_factory, nid)
    assert row.state == notify.FAILED
    assert "refused" in (row.last_error or "")


def test_a_hanging_server_times_out_and_is_retried_later(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts connections and never says a word
    try:
        runtime = _runtime(
            settings,
            smtp_host="127.0.0.1",
            smtp_port=listener.getsockname()[1],
            smtp_timeout_seconds=0.5,
        )
        nid = _queue(
            session_factory, channel=notify.EMAIL, recipient="x@example.vn", subject="s", body="b"
        )
        _run(session_factory, runtime)  # returns: the worker is not stuck
    finally:
        listener.close()
    row = _row(session_factory, nid)
    assert row.state == notify.QUEUED
    assert row.attempts == 1
    assert "timed out" in (row.last_error or "").lower() or "timeout" in (row.last_error or "")
    with session_factory() as session:
        retry = session.query(jobs.Job).filter(jobs.Job.kind == notify.SEND_JOB).all()
    assert [j.status for j in retry].count(jobs.PENDING) == 1  # scheduled again, with backoff


def test_no_smtp_server_configured_fails_with_the_reason(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    runtime = _runtime(settings, smtp_host="")
    nid = _queue(
        session_factory, channel=notify.EMAIL, recipient="x@example.vn", subject="s", body="b"
    )
    _run(session_factory, runtime)
    row = _row(session_factory, nid)
    assert row.state == notify.FAILED
    assert "LIENTHONG_SMTP_HOST" in (row.last_error or "")


def test_sms_is_recorded_by_the_local_gateway(
    settings: Settings, session_factory: sessionmaker[Session], runtime: Runtime
) -> None:
    nid = _queue(
        session_factory,
        channel=notify.SMS,
        recipient="0912345678",
        subject="",
        body="Đã có kết quả",
    )
    _run(session_factory, runtime)
    gateway = runtime.notifiers[notify.SMS]
    assert isinstance(gateway, notify.LocalSmsGateway)
    assert [(m["to"], m["text"], m["notification_id"]) for m in gateway.sent()] == [
        ("0912345678", "Đã có kết quả", nid)
    ]


class _Hook(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []  # noqa: RUF012 - per-class test sink
    status = 204

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook_server() -> Iterator[tuple[str, type[_Hook]]]:
    handler = type("Hook", (_Hook,), {"received": [], "status": 204})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler
    server.shutdown()
    server.server_close()


def test_webhook_is_posted_signed(
    hook_server: tuple[str, type[_Hook]],
    settings: Settings,
    session_factory: sessionmaker[Session],
) -> None:
    url, handler = hook_server
    runtime = _runtime(settings, webhook_secret="s3cret")
    nid = _queue(
        session_factory,
        channel=notify.WEBHOOK,
        recipient=url,
        subject="Cảnh báo",
        body="Đường truyền mất kết nối",
        data={"alert": 7},
    )
    _run(session_factory, runtime)
    assert len(handler.received) == 1
    headers, body = handler.received[0]
    assert headers["X-Lienthong-Signature"] == notify.sign_body("s3cret", body)
    assert json.loads(body) == {
        "subject": "Cảnh báo",
        "body": "Đường truyền mất kết nối",
        "data": {"alert": 7},
        "notification_id": nid,
    }
    assert _row(session_factory, nid).state == notify.SENT


def test_webhook_refusal_is_final(
    hook_server: tuple[str, type[_Hook]],
    settings: Settings,
    session_factory: sessionmaker[Session],
    runtime: Runtime,
) -> None:
    url, handler = hook_server
    handler.status = 410
    nid = _queue(session_factory, channel=notify.WEBHOOK, recipient=url, subject="s", body="b")
    _run(session_factory, runtime)
    row = _row(session_factory, nid)
    assert (row.state, row.last_error) == (notify.FAILED, "HTTP 410")


def test_unknown_channel_is_refused(db: Session) -> None:
    with pytest.raises(notify.Invalid) as caught:
        notify.queue(db, channel="fax", recipient="x", subject="s", body="b", topic="t")
    assert caught.value.code == "unknown_channel"


def test_every_implementation_honours_the_protocol(runtime: Runtime) -> None:
    for channel, notifier in runtime.notifiers.items():
        assert notifier.channel == channel
        assert callable(notifier.send)
