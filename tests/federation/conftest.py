"""Several nodes in one test process, each with its own database, keys and blob store, served
over real HTTP on loopback by uvicorn; a federation root over them. Workers and forwarders are
driven by the tests (`settle`) so that every step is deterministic. The kill -9 test runs real
node processes instead (test_three_nodes.py)."""

from __future__ import annotations

import dataclasses
import io
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from lienthong.app import create_app, job_handlers
from lienthong.config import Settings
from lienthong.db import make_session_factory, unit_of_work
from lienthong.exchange import compose
from lienthong.federation import peers
from lienthong.federation.forwarder import Forwarder
from lienthong.kernel import jobs
from lienthong.kernel.pki import FileKeyStore, pem
from lienthong.registry import service as registry
from lienthong.registry.models import AgencyKind
from lienthong.registry.schemas import AgencyCreate
from lienthong.runtime import Runtime, build_runtime

from ..conftest import build_seeded_database, create_database

HONG_GAI = "000.00.84.H49"  # Phường Hồng Gai, Quảng Ninh
SNV = "000.00.02.H49"  # Sở Nội vụ Quảng Ninh
VPCP = "000.00.00.G22"  # Văn phòng Chính phủ, served by the national axis
BTC = "000.00.00.G12"  # Bộ Tài chính, national axis
HN_UBND = "000.00.00.H26"
HN_DEPT = "000.00.02.H26"  # a department of Hà Nội, known only to Hà Nội's node at first
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclasses.dataclass
class Node:
    code: str
    settings: Settings
    engine: Engine
    factory: sessionmaker[Session]
    runtime: Runtime
    forwarder: Forwarder
    worker: jobs.Worker
    drop: Any
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.settings.public_url

    def start(self) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(
                create_app(self.settings, self.factory, self.runtime),
                host="127.0.0.1",
                port=self.settings.port,
                log_config=None,
                access_log=False,
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError(f"node {self.code} did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(timeout=10)
            self.server = None

    def send(
        self, sender: str, to: list[str], *, subject: str, priority: int = 0
    ) -> dict[str, Any]:
        return send_document(
            self.factory, self.runtime, sender, to, subject=subject, priority=priority
        )

    def session(self) -> Session:
        return self.factory()


def send_document(
    factory: sessionmaker[Session],
    runtime: Runtime,
    sender: str,
    to: list[str],
    *,
    subject: str,
    priority: int = 0,
) -> dict[str, Any]:
    """A clerk of `sender` sends a signed package with one PDF, as the composer does."""
    uploads = [compose.Upload("cong-van.pdf", io.BytesIO(PDF))]
    with unit_of_work(factory) as session:
        return compose.send(
            session,
            runtime,
            sender_code=sender,
            draft=compose.Draft(recipients=to, subject=subject, priority=priority, uploads=uploads),
        )


class Federation:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.ca_dir = root / "federation-ca"
        self.root_key, self.root_cert = FileKeyStore(self.ca_dir).ensure_ca(
            "lienthong federation root"
        )
        self.nodes: dict[str, Node] = {}

    def add_node(self, code: str, home: str, **overrides: Any) -> Node:
        folder = self.root / code
        url, drop = create_database(folder, code.lower())
        engine = build_seeded_database(url)
        port = free_port()
        settings = Settings(
            database_url=url,
            node_code=code,
            node_agency_code=home,
            port=port,
            base_url=f"http://127.0.0.1:{port}",
            log_json=False,
            blob_dir=folder / "blobs",
            key_dir=folder / "keys",
            peer_timeout_seconds=3,
            peer_connect_timeout_seconds=1,
            peer_retry_base_seconds=0.05,
            peer_retry_max_seconds=0.2,
            directory_sync_seconds=3600,
            **overrides,
        )
        runtime = build_runtime(settings)
        assert isinstance(runtime.keys, FileKeyStore)
        runtime.keys.join_federation(
            node_code=code, root_key=self.root_key, root_cert=self.root_cert
        )
        factory = make_session_factory(engine)
        node = Node(
            code=code,
            settings=settings,
            engine=engine,
            factory=factory,
            runtime=runtime,
            forwarder=Forwarder(factory, runtime, worker_id=f"test-{code}"),
            worker=jobs.Worker(
                factory=factory, handlers=job_handlers(runtime), backoff_seconds=0.05
            ),
            drop=drop,
        )
        self.nodes[code] = node
        node.start()
        return node

    def peer(self, node: Node, other: Node, *, national: bool = False) -> None:
        identity = other.runtime.keys.transport_identity()
        assert identity is not None
        with unit_of_work(node.factory) as session:
            peers.add_peer(
                session,
                keys=node.runtime.keys,
                code=other.code,
                base_url=other.url,
                certificate_pem=b"".join(pem(c) for c in identity.chain),
                national=national,
            )

    def settle(self, rounds: int = 50) -> None:
        """Run every node's jobs and hand-overs until nothing moves."""
        for _ in range(rounds):
            moved = 0
            for node in self.nodes.values():
                if node.server is None:
                    continue
                moved += node.worker.run_until_idle()
                moved += node.forwarder.run_until_idle()
            if not moved:
                return
        raise AssertionError("the federation did not settle")

    def close(self) -> None:
        for node in self.nodes.values():
            node.stop()
            node.engine.dispose()
            node.drop()


def add_department(node: Node, code: str, name: str, parent: str) -> None:
    with unit_of_work(node.factory) as session:
        registry.create_agency(
            session,
            data=AgencyCreate(code=code, name=name, kind=AgencyKind.DEPARTMENT, parent_code=parent),
            actor="test",
            default_node=node.code,
        )
    node.runtime.keys.ensure_agency(code, name)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    """The national axis (VN), Quảng Ninh (H49) and Hà Nội (H26); the provinces peer only with
    the axis, which peers with both."""
    fed = Federation(tmp_path_factory.mktemp("federation"))
    try:
        vn = fed.add_node("VN", VPCP)
        qn = fed.add_node("H49", "000.00.00.H49")
        hn = fed.add_node("H26", HN_UBND)
        fed.peer(vn, qn)
        fed.peer(vn, hn)
        fed.peer(qn, vn, national=True)
        fed.peer(hn, vn, national=True)
        for code, name in ((HONG_GAI, "UBND phường Hồng Gai"), (SNV, "Sở Nội vụ")):
            qn.runtime.keys.ensure_agency(code, name)  # type: ignore[attr-defined]
        for code, name in ((VPCP, "Văn phòng Chính phủ"), (BTC, "Bộ Tài chính")):
            vn.runtime.keys.ensure_agency(code, name)  # type: ignore[attr-defined]
        add_department(hn, HN_DEPT, "Sở Nội vụ thành phố Hà Nội", HN_UBND)
        yield fed
    finally:
        fed.close()
