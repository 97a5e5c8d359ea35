"""Under load and faults the node answers with its own error shape, never 500 and never
hanging: compressed bodies, stalled and excess uploads, oversized headers, 405 with Allow, and
a database that goes away in the middle of a request."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlalchemy import select as sql_select
from sqlalchemy.orm import Session, sessionmaker

from lienthong.app import create_app
from lienthong.config import Settings
from lienthong.db import make_engine, make_session_factory
from lienthong.runtime import Runtime, build_runtime
from tests.conftest import backend, build_seeded_database, create_database
from tests.fixtures.server import raw_request, read_answer, served
from tests.fixtures.smtp import free_port, wait_for


def _status_and_json(answer: bytes) -> tuple[int, dict[str, object], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body or b"{}"), head


def test_compressed_bodies_are_refused(client: TestClient) -> None:
    answer = client.post(
        "/api/v1/documents",
        content=b"\x1f\x8b...",
        headers={"Content-Encoding": "gzip", "Content-Type": "application/xml"},
    )
    assert answer.status_code == 415
    assert answer.json()["error"]["code"] == "unsupported_content_encoding"


def test_405_says_what_is_allowed(client: TestClient) -> None:
    answer = client.delete("/api/v1/documents/inbox")
    assert answer.status_code == 405
    assert "GET" in answer.headers["Allow"]
    assert answer.json()["error"]["code"] == "method_not_allowed"


@pytest.fixture
def guarded(
    settings: Settings, session_factory: sessionmaker[Session]
) -> Iterator[tuple[str, int]]:
    limited = settings.model_copy(
        update={"max_concurrent_uploads": 3, "upload_deadline_seconds": 2}
    )
    with served(create_app(limited, session_factory, build_runtime(limited))) as address:
        yield address


def _stall(address: tuple[str, int]) -> socket.socket:
    """An upload that announces 10 kB, sends 10 bytes and then nothing."""
    sock = socket.create_connection(address, timeout=30)
    sock.sendall(
        b"POST /api/v1/edxml/validate HTTP/1.1\r\nHost: x\r\nContent-Length: 10000\r\n"
        b"Content-Type: application/xml\r\n\r\n<edXML xml"
    )
    return sock


def test_a_stalled_upload_is_stopped_at_its_deadline(guarded: tuple[str, int]) -> None:
    sock = _stall(guarded)
    started = time.monotonic()
    try:
        status, body, _ = _status_and_json(read_answer(sock))
    finally:
        sock.close()
    assert status == 408
    assert body["error"]["code"] == "upload_timeout"  # type: ignore[index]
    assert time.monotonic() - started < 25


def test_uploads_beyond_the_limit_are_told_to_come_back(guarded: tuple[str, int]) -> None:
    stalled = [_stall(guarded) for _ in range(3)]
    try:
        wait_for(lambda: _busy(guarded), timeout=20, what="the fourth upload to be refused")
    finally:
        for sock in stalled:
            sock.close()
    # Once they are gone, uploads are taken again.
    wait_for(
        lambda: (
            httpx.post(
                f"http://{guarded[0]}:{guarded[1]}/api/v1/edxml/validate", content=b"<x/>"
            ).status_code
            == 200
        ),
        timeout=20,
        what="uploads to be accepted again",
    )


def _busy(address: tuple[str, int]) -> bool:
    answer = httpx.post(f"http://{address[0]}:{address[1]}/api/v1/edxml/validate", content=b"<x/>")
    if answer.status_code != 503:
        return False
    assert answer.json()["error"]["code"] == "too_many_uploads"
    assert int(answer.headers["Retry-After"]) > 0
    return True


def test_oversized_headers_and_bad_requests_get_the_json_shape(guarded: tuple[str, int]) -> None:
    big = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: " + b"a" * 40_000 + b"\r\n\r\n"
    status, body, head = _status_and_json(raw_request(guarded, big))
    assert status == 431
    assert body["error"]["code"] == "headers_too_large"  # type: ignore[index]
    assert b"application/json" in head
    status, body, _ = _status_and_json(raw_request(guarded, b"NOT HTTP AT ALL\r\n\r\n"))
    assert status == 400
    assert body["error"]["code"] == "bad_http_request"  # type: ignore[index]


class CuttableProxy:
    """A TCP relay to PostgreSQL that can drop every connection and refuse new ones."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.listener.settimeout(0.2)
        self.open = True
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.lock = threading.Lock()
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.running:
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 0.5)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (b if sock is a else a).sendall(data)
        except OSError:
            return
        finally:
            for sock in (a, b):
                with contextlib.suppress(OSError):
                    sock.close()

    def cut(self) -> None:
        self.open = False
        with self.lock:
            for a, b in self.pairs:
                for sock in (a, b):
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
            self.pairs.clear()

    def restore(self) -> None:
        self.open = True

    def close(self) -> None:
        self.running = False
        self.cut()
        self.listener.close()


@pytest.mark.postgres_only
def test_a_database_lost_mid_request_answers_503(tmp_path: Path) -> None:
    if backend() != "postgresql":
        pytest.skip("PostgreSQL behaviour: the connection is cut on the wire")
    url, drop = create_database(tmp_path, "faults")
    engine = build_seeded_database(url)
    proxy = CuttableProxy(("127.0.0.1", 5432))
    proxied = engine.url.set(host="127.0.0.1", port=proxy.port).render_as_string(
        hide_password=False
    )
    settings = Settings(
        database_url=proxied,
        log_json=False,
        blob_dir=tmp_path / "blobs",
        key_dir=tmp_path / "keys",
        rate_limit_url="memory://",
    )
    runtime: Runtime = build_runtime(settings)
    factory = make_session_factory(make_engine(proxied))
    from lienthong.accounts import service as accounts
    from lienthong.exchange.models import Document

    with factory.begin() as session:
        system_id, secret = accounts.issue_credential(session, agency_code="000.00.02.H49")
    try:
        with served(create_app(settings, factory, runtime)) as (host, port):
            base = f"http://{host}:{port}"
            assert httpx.get(f"{base}/api/v1/me", auth=(system_id, secret)).status_code == 200

            def body() -> Iterator[bytes]:
                yield b"<edXML xmlns='http://www.mic.gov.vn/TBT/QCVN_102_2016'>"
                proxy.cut()  # the database goes away while the package uploads
                yield b"</edXML>"

            answer = httpx.post(
                f"{base}/api/v1/documents", content=body(), auth=(system_id, secret), timeout=60
            )
            assert answer.status_code == 503, answer.text
            assert answer.json()["error"]["code"] == "database_unavailable"
            assert int(answer.headers["Retry-After"]) > 0
            down = httpx.get(f"{base}/api/v1/me", auth=(system_id, secret))
            assert down.status_code == 503
            proxy.restore()
            wait_for(
                lambda: httpx.get(f"{base}/api/v1/me", auth=(system_id, secret)).status_code == 200,
                timeout=30,
                what="the node to reach its database again",
            )
        with factory() as session:
            assert session.scalar(sql_select(func.count()).select_from(Document)) == 0
    finally:
        proxy.close()
        factory.kw["bind"].dispose()
        engine.dispose()
        drop()  # type: ignore[operator]


def test_a_nul_character_in_a_parameter_is_refused(client: TestClient) -> None:
    answer = client.get("/api/v1/organizations?q=ha%00long")
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_value"
