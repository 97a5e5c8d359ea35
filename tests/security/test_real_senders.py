"""Real senders reach the node's listeners: util-linux `logger` over UDP and TCP (RFC 5424 and
RFC 3164, octet counting and LF framing), and a Suricata EVE file followed across a rotation."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lienthong.security.intake import Intake, Received
from lienthong.security.loops import FileFollower, SyslogListener, parse_eve_bytes
from tests.fixtures.smtp import wait_for

pytestmark = pytest.mark.skipif(shutil.which("logger") is None, reason="util-linux logger")


@pytest.fixture
def listening() -> Iterator[tuple[SyslogListener, Intake]]:
    intake = Intake(capacity=1000)
    listener = SyslogListener(host="127.0.0.1", udp_port=0, tcp_port=0, max_line=512, zone="UTC")
    stop = threading.Event()
    thread = threading.Thread(target=listener.run, args=(intake, stop), daemon=True)
    thread.start()
    assert listener.ready.wait(10)
    yield listener, intake
    stop.set()
    thread.join(10)
    assert not thread.is_alive()


def _drain(intake: Intake, n: int) -> list[Received]:
    got: list[Received] = []

    def enough() -> bool:
        got.extend(intake.take(max_items=100, wait=0.05))
        return len(got) >= n

    wait_for(enough, timeout=15, what=f"{n} events")
    return got


def _logger(*args: str) -> None:
    subprocess.run(["logger", *args], check=True, timeout=15)


def test_logger_rfc5424_over_udp(listening: tuple[SyslogListener, Intake]) -> None:
    listener, intake = listening
    _logger(
        "--rfc5424",
        "--server",
        "127.0.0.1",
        "--port",
        str(listener.bound["udp"]),
        "--udp",
        "-t",
        "sshd",
        "-p",
        "auth.info",
        "-i",
        "Failed password for invalid user admin from 203.0.113.7 port 50122 ssh2",
    )
    (event,) = _drain(intake, 1)
    fields = event.fields
    assert fields["log.syslog.version"] == "1"
    assert fields["log.syslog.facility.name"] == "auth"
    assert fields["log.syslog.severity.name"] == "informational"
    assert fields["process.name"] == "sshd"
    assert isinstance(fields["process.pid"], int)
    assert fields["event.action"] == "ssh_login"
    assert fields["event.outcome"] == "failure"
    assert fields["source.ip"] == "203.0.113.7"
    assert fields["user.name"] == "admin"
    assert fields["@timestamp"].endswith("Z")
    assert "timeQuality" in (event.original or "")  # the original is kept
    assert any(k.startswith("log.syslog.structured_data.timeQuality") for k in fields)


def test_logger_over_tcp_with_octet_counting_and_lf_framing(
    listening: tuple[SyslogListener, Intake],
) -> None:
    listener, intake = listening
    port = str(listener.bound["tcp"])
    _logger(
        "--rfc5424",
        "--tcp",
        "--octet-count",
        "--server",
        "127.0.0.1",
        "--port",
        port,
        "-t",
        "app",
        "counted one",
    )
    _logger(
        "--rfc3164", "--tcp", "--server", "127.0.0.1", "--port", port, "-t", "app", "plain framed"
    )
    events = sorted(_drain(intake, 2), key=lambda e: e.fields["message"])
    assert [e.fields["message"] for e in events] == ["counted one", "plain framed"]
    assert events[0].fields["log.syslog.version"] == "1"
    assert "log.syslog.version" not in events[1].fields  # RFC 3164
    assert events[1].fields["process.name"] == "app"


def test_bad_input_never_stops_the_listener(listening: tuple[SyslogListener, Intake]) -> None:
    listener, intake = listening
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.sendto(b"no pri at all \xff\xfe", ("127.0.0.1", listener.bound["udp"]))
        udp.sendto(b"<13>1 " + b"x" * 2000, ("127.0.0.1", listener.bound["udp"]))
    with socket.create_connection(("127.0.0.1", listener.bound["tcp"])) as tcp:
        tcp.sendall(b"99999 <13>" + b"y" * 5000 + b"\n")  # a giant octet-counted frame, cut
        tcp.sendall(b"\xc3\x28 invalid utf-8\n")
    _logger(
        "--rfc5424",
        "--server",
        "127.0.0.1",
        "--port",
        str(listener.bound["udp"]),
        "still listening",
    )
    events = _drain(intake, 4)
    assert any(e.fields.get("message") == "still listening" for e in events)
    counts = intake.counts_since_last()["syslog"]
    assert counts.malformed >= 2
    assert counts.truncated >= 2
    assert all(len(e.original or "") <= 512 * 2 for e in events)


def test_eve_file_followed_across_a_rotation(tmp_path: Path) -> None:
    path = tmp_path / "eve.json"
    sample = {
        "timestamp": "2026-12-03T10:00:00.123456+0700",
        "flow_id": 1234567890,
        "in_iface": "eth0",
        "event_type": "alert",
        "src_ip": "198.51.100.9",
        "src_port": 44321,
        "dest_ip": "10.10.0.5",
        "dest_port": 80,
        "proto": "TCP",
        "alert": {
            "action": "allowed",
            "gid": 1,
            "signature_id": 2024897,
            "rev": 3,
            "signature": "ET SCAN Nmap Scripting Engine User-Agent",
            "category": "Web Application Attack",
            "severity": 1,
        },
    }
    path.write_text(
        json.dumps(sample)
        + "\n"
        + json.dumps(
            {**sample, "event_type": "dns", "dns": {"rrname": "example.vn", "rrtype": "A"}}
        )
        + "\n"
    )
    intake = Intake(capacity=100)
    follower = FileFollower(
        path=path,
        kind="eve",
        parse=parse_eve_bytes,
        max_line=4096,
        poll_seconds=0.05,
        from_start=True,
    )
    stop = threading.Event()
    thread = threading.Thread(target=follower.run, args=(intake, stop), daemon=True)
    thread.start()
    try:
        first = _drain(intake, 2)
        assert first[0].fields["rule.name"].startswith("ET SCAN")
        assert first[0].fields["event.severity"] == 1
        assert first[0].fields["source.ip"] == "198.51.100.9"
        assert first[0].fields["@timestamp"] == "2026-12-03T03:00:00.123Z"
        assert first[1].fields["dns.question.name"] == "example.vn"
        # logrotate's create: the old file moves away, a new one appears with the next line.
        path.rename(tmp_path / "eve.json.1")
        path.write_text(json.dumps({**sample, "event_type": "anomaly"}) + "\nnot json\n")
        after = _drain(intake, 2)
        assert after[0].fields["suricata.eve.event_type"] == "anomaly"
        assert after[1].fields["error.message"] == "not JSON"
    finally:
        stop.set()
        thread.join(10)


def test_access_log_followed_across_copytruncate(tmp_path: Path) -> None:
    from lienthong.security.loops import parse_access_bytes

    path = tmp_path / "access.log"
    line = (
        '203.0.113.5 - - [03/Dec/2026:10:00:00 +0700] "GET /dvc?id=1 HTTP/1.1" 200 99 "-" "curl/8"'
    )
    path.write_text(line + "\n")
    intake = Intake(capacity=100)
    follower = FileFollower(
        path=path,
        kind="access_log",
        parse=parse_access_bytes,
        max_line=4096,
        poll_seconds=0.05,
        from_start=True,
    )
    stop = threading.Event()
    thread = threading.Thread(target=follower.run, args=(intake, stop), daemon=True)
    thread.start()
    try:
        (first,) = _drain(intake, 1)
        assert first.fields["url.path"] == "/dvc"
        assert first.fields["http.response.status_code"] == 200
        # logrotate's copytruncate: the same file cut to nothing, then written again.
        path.write_text("")
        path.write_text(line.replace("/dvc?id=1", "/after") + "\n")
        (after,) = _drain(intake, 1)
        assert after.fields["url.path"] == "/after"
    finally:
        stop.set()
        thread.join(10)


def test_configured_ports_become_background_loops(settings: Any, session_factory: Any) -> None:
    from lienthong.runtime import build_runtime
    from lienthong.security.loops import security_loops
    from tests.fixtures.smtp import free_port

    udp = free_port()
    node = build_runtime(
        settings.model_copy(update={"security_syslog_udp_port": udp, "security_syslog_tcp_port": 0})
    )
    loops = dict(security_loops(session_factory, node))
    assert set(loops) == {"security-flusher", "security-syslog"}
    stop = threading.Event()
    thread = threading.Thread(target=loops["security-syslog"], args=(stop,), daemon=True)
    thread.start()
    try:

        def sent() -> bool:
            _logger("--rfc5424", "--server", "127.0.0.1", "--port", str(udp), "wired")
            return bool(node.security_intake.pending())

        wait_for(sent, timeout=15, what="the configured listener")
        (event, *_) = node.security_intake.take(max_items=10, wait=0)
        assert event.fields["message"] == "wired"
    finally:
        stop.set()
        thread.join(10)
