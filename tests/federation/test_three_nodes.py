"""Three real node processes on loopback (the national axis, Quảng Ninh, Hà Nội), each with its
own database (SQLite files, or PostgreSQL databases in the PostgreSQL run), set up with the
`lienthong` command as an operator would. Documents go both ways while the national axis is
killed with SIGKILL and restarted; every document must reach its recipient exactly once and
every status its sender. Then an agency merged at the axis reaches the provinces and routing
follows it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from lienthong.config import Settings
from lienthong.db import make_engine, make_session_factory, unit_of_work
from lienthong.exchange import answers
from lienthong.exchange.models import Delivery, DeliveryStatus, Document
from lienthong.federation import peers
from lienthong.federation.models import Outbound
from lienthong.registry import service as registry
from lienthong.registry.models import AgencyKind
from lienthong.registry.schemas import AgencyCreate
from lienthong.runtime import Runtime, build_runtime

from ..conftest import create_database
from .conftest import BTC, HN_DEPT, HN_UBND, HONG_GAI, VPCP, free_port, send_document

LIENTHONG = str(Path(sys.executable).with_name("lienthong"))


class NodeProcess:
    """One node: its settings as environment variables, its server process, and a way for the
    test to act as the node's clerks (on the node's own database and keys, like `doc send`)."""

    def __init__(self, root: Path, code: str, home: str) -> None:
        self.code = code
        folder = root / code
        folder.mkdir()
        self.url, self.drop = create_database(folder, f"p{code.lower()}")
        self.port = free_port()
        self.log = folder / "node.log"
        self.env = {
            **os.environ,
            "LIENTHONG_DATABASE_URL": self.url,
            "LIENTHONG_NODE_CODE": code,
            "LIENTHONG_NODE_AGENCY_CODE": home,
            "LIENTHONG_PORT": str(self.port),
            "LIENTHONG_BASE_URL": f"http://127.0.0.1:{self.port}",
            "LIENTHONG_KEY_DIR": str(folder / "keys"),
            "LIENTHONG_BLOB_DIR": str(folder / "blobs"),
            "LIENTHONG_WORKER_POLL_SECONDS": "0.2",
            "LIENTHONG_FORWARD_POLL_SECONDS": "0.2",
            "LIENTHONG_PEER_RETRY_BASE_SECONDS": "0.3",
            "LIENTHONG_PEER_RETRY_MAX_SECONDS": "1.5",
            "LIENTHONG_PEER_TIMEOUT_SECONDS": "5",
            "LIENTHONG_FORWARD_LEASE_SECONDS": "8",
            "LIENTHONG_DIRECTORY_SYNC_SECONDS": "1",
            "LIENTHONG_JOB_BACKOFF_SECONDS": "0.3",
        }
        self.process: subprocess.Popen[bytes] | None = None
        self._factory: sessionmaker[Session] | None = None
        self._runtime: Runtime | None = None

    def run(self, *args: str) -> str:
        done = subprocess.run(
            [LIENTHONG, *args], env=self.env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"lienthong {' '.join(args)}: {done.stdout}\n{done.stderr}"
        return done.stdout

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [LIENTHONG, "serve", "--with-worker"], env=self.env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            time.sleep(0.1)
        raise AssertionError(f"node {self.code} did not start:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.process = None

    @property
    def factory(self) -> sessionmaker[Session]:
        if self._factory is None:
            self._factory = make_session_factory(make_engine(self.url))
        return self._factory

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            env = {
                k[len("LIENTHONG_") :].lower(): v
                for k, v in self.env.items()
                if k.startswith("LIENTHONG_") and k != "LIENTHONG_TEST_DB"
            }
            self._runtime = build_runtime(Settings(**env))
        return self._runtime


def wait_for(
    what: str,
    check: Callable[[], bool],
    *,
    seconds: float = 90,
    nodes: dict[str, NodeProcess] | None = None,
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}\n{_queues(nodes or {})}")


def _queues(nodes: dict[str, NodeProcess]) -> str:
    """What each node still holds, for the failure message."""
    lines = []
    for node in nodes.values():
        with node.factory() as session:
            rows = session.execute(
                select(
                    Outbound.state, Outbound.kind, Outbound.peer_code, Outbound.last_error
                ).where(Outbound.state != "sent")
            ).all()
            lines.append(f"{node.code}: {[tuple(r) for r in rows][:20]}")
            lines.append(f"{node.code} peers: {peers.status(session)}")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, NodeProcess]]:
    root = tmp_path_factory.mktemp("three-nodes")
    ca = root / "federation-ca"
    made = {
        code: NodeProcess(root, code, home)
        for code, home in (("VN", VPCP), ("H49", "000.00.00.H49"), ("H26", HN_UBND))
    }
    try:
        first = next(iter(made.values()))
        first.run("node", "ca", str(ca))
        for node in made.values():
            node.run("db", "upgrade")
            node.run("db", "seed")
            node.run("node", "init", "--federation-ca", str(ca))
            node.start()
        vn, qn, hn = made["VN"], made["H49"], made["H26"]
        vn.run("peer", "add", "H49", f"http://127.0.0.1:{qn.port}")
        vn.run("peer", "add", "H26", f"http://127.0.0.1:{hn.port}")
        qn.run("peer", "add", "VN", f"http://127.0.0.1:{vn.port}", "--national")
        hn.run("peer", "add", "VN", f"http://127.0.0.1:{vn.port}", "--national")
        yield made
    finally:
        for node in made.values():
            node.stop()
            if node._factory is not None:
                node._factory.kw["bind"].dispose()
            node.drop()  # type: ignore[operator]
        for node in made.values():
            print(f"--- {node.code} log tail ---\n{node.log.read_text()[-2000:]}")


def _knows(node: NodeProcess, code: str, serving: str) -> bool:
    with node.factory() as session:
        agency = registry.find_agency(session, code=code)
        return agency is not None and agency.serving_node == serving


def _arrivals(node: NodeProcess, document_ids: list[str]) -> dict[str, tuple[int, int, str]]:
    """Per DocumentId at the recipient's node: copies stored, deliveries, delivery state."""
    with node.factory() as session:
        rows = session.execute(
            select(Document.document_id, func.count(Delivery.id), func.min(Delivery.state))
            .join(Delivery, Delivery.document_fk == Document.id)
            .where(Document.document_id.in_(document_ids))
            .group_by(Document.id, Document.document_id)
        ).all()
    found: dict[str, tuple[int, int, str]] = {}
    for document_id, deliveries, state in rows:
        copies = found.get(document_id, (0, 0, ""))[0] + 1
        found[document_id] = (copies, int(deliveries), str(state))
    return found


def _codes_at_sender(node: NodeProcess, document_ids: list[str]) -> dict[str, list[str]]:
    with node.factory() as session:
        rows = session.execute(
            select(Document.document_id, DeliveryStatus.code)
            .join(Delivery, Delivery.document_fk == Document.id)
            .join(DeliveryStatus, DeliveryStatus.delivery_id == Delivery.id)
            .where(Document.document_id.in_(document_ids))
            .order_by(DeliveryStatus.id)
        ).all()
    codes: dict[str, list[str]] = {d: [] for d in document_ids}
    for document_id, code in rows:
        codes[document_id].append(code)
    return codes


def _all_delivered_once(node: NodeProcess, ids: list[str]) -> bool:
    found = _arrivals(node, ids)
    return len(found) == len(ids) and all(v == (1, 1, "delivered") for v in found.values())


def test_kill_the_national_axis_mid_flight_then_everything_arrives_once(
    nodes: dict[str, NodeProcess],
) -> None:
    vn, qn, hn = nodes["VN"], nodes["H49"], nodes["H26"]
    for node, codes in ((qn, [HONG_GAI]), (vn, [VPCP, BTC])):
        for code in codes:
            node.run("org", "remote-signing", code)
    with unit_of_work(hn.factory) as session:
        registry.create_agency(
            session,
            data=AgencyCreate(
                code=HN_DEPT,
                name="Sở Nội vụ thành phố Hà Nội",
                kind=AgencyKind.DEPARTMENT,
                parent_code=HN_UBND,
            ),
            actor="test",
            default_node="H26",
        )
    hn.run("org", "remote-signing", HN_DEPT)
    wait_for(
        "Hà Nội's department to reach Quảng Ninh's directory", lambda: _knows(qn, HN_DEPT, "H26")
    )

    def send(node: NodeProcess, sender: str, to: str, n: int, tag: str, **kw: Any) -> list[str]:
        return [
            send_document(node.factory, node.runtime, sender, [to], subject=f"{tag} {i}", **kw)[
                "document_id"
            ]
            for i in range(n)
        ]

    to_ministry = send(qn, HONG_GAI, VPCP, 8, "Gửi VPCP")
    to_ministry += send(qn, HONG_GAI, VPCP, 2, "Hỏa tốc VPCP", priority=3)
    to_hanoi = send(qn, HONG_GAI, HN_DEPT, 8, "Gửi Sở Nội vụ Hà Nội")
    to_ward = send(hn, HN_DEPT, HONG_GAI, 6, "Hà Nội gửi Hồng Gai")
    time.sleep(0.6)  # let some hand-overs start
    vn.kill()
    to_ministry += send(qn, HONG_GAI, VPCP, 4, "Khi trục quốc gia ngừng")
    to_hanoi += send(qn, HONG_GAI, HN_DEPT, 4, "Khi trục quốc gia ngừng")

    def axis_down() -> bool:
        with qn.factory() as session:
            (row,) = [r for r in peers.status(session) if r["code"] == "VN"]
        return bool(row["state"] == "down" and row["backlog"] > 0)

    wait_for("Quảng Ninh to see the axis down with a backlog", axis_down, seconds=30)
    status = httpx.get(f"http://127.0.0.1:{qn.port}/readyz", timeout=5)
    assert status.status_code == 200  # the province keeps working while the axis is down
    vn.start()

    wait_for(
        "every document to the ministry, once",
        lambda: _all_delivered_once(vn, to_ministry),
        nodes=nodes,
    )
    wait_for("every document to Hà Nội, once", lambda: _all_delivered_once(hn, to_hanoi))
    wait_for("every document from Hà Nội, once", lambda: _all_delivered_once(qn, to_ward))
    wait_for(
        "every 01 back at Quảng Ninh",
        lambda: all(c == ["01"] for c in _codes_at_sender(qn, to_ministry + to_hanoi).values()),
    )
    wait_for(
        "every 01 back at Hà Nội",
        lambda: all(c == ["01"] for c in _codes_at_sender(hn, to_ward).values()),
    )

    # Recipients accept (03); each status reaches its sender once.
    for node, agency, ids in (
        (vn, VPCP, to_ministry),
        (hn, HN_DEPT, to_hanoi),
        (qn, HONG_GAI, to_ward),
    ):
        with node.factory() as session:
            pks = list(session.scalars(select(Document.id).where(Document.document_id.in_(ids))))
        for pk in pks:
            with unit_of_work(node.factory) as session:
                answers.post_status(
                    session,
                    runtime=node.runtime,
                    document_pk=pk,
                    agency_code=agency,
                    code="03",
                    description=None,
                )
    wait_for(
        "every 03 back at Quảng Ninh",
        lambda: all(
            c == ["01", "03"] for c in _codes_at_sender(qn, to_ministry + to_hanoi).values()
        ),
        nodes=nodes,
    )
    wait_for(
        "every 03 back at Hà Nội",
        lambda: all(c == ["01", "03"] for c in _codes_at_sender(hn, to_ward).values()),
    )
    with hn.factory() as session:
        traces = session.scalars(
            select(Document.trace).where(Document.document_id.in_(to_hanoi))
        ).all()
    assert all([t["node"] for t in trace or []] == ["H49", "VN", "H26"] for trace in traces)
    # Each node's log chain holds after the kill, the window of hand-overs and the batches.
    for node in (vn, qn, hn):
        assert "intact" in node.run("log", "verify").lower()


def test_a_merger_at_the_axis_reaches_the_provinces_and_routing_follows(
    nodes: dict[str, NodeProcess],
) -> None:
    vn, qn = nodes["VN"], nodes["H49"]
    vn.run("org", "merge", BTC, "--into", VPCP)
    wait_for(
        "the merger to reach Quảng Ninh",
        lambda: _status_at(qn, BTC) == "merged",
        seconds=30,
    )
    answer = send_document(qn.factory, qn.runtime, HONG_GAI, [BTC], subject="Gửi Bộ Tài chính cũ")
    assert answer["recipients"][0]["delivered_to"] == VPCP
    wait_for(
        "the document to reach the successor",
        lambda: _all_delivered_once(vn, [answer["document_id"]]),
    )


def _status_at(node: NodeProcess, code: str) -> str | None:
    with node.factory() as session:
        agency = registry.find_agency(session, code=code)
        return agency.status if agency else None
