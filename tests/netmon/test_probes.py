"""Each probe against a real peer on loopback: a TCP listener, an HTTP server, sipp as a SIP
UAS, the kernel's own ICMP echo; and the failures each must turn into a result, not an error."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lienthong.netmon.probes import (
    HttpProbe,
    IcmpProbe,
    Probe,
    SipOptionsProbe,
    TcpProbe,
    default_probes,
    parse_sip_uri,
)
from tests.netmon.conftest import free_udp_port


def test_every_probe_honours_the_protocol() -> None:
    probes: dict[str, Probe] = default_probes()
    assert set(probes) == {"icmp", "tcp", "http", "sip"}
    for module, probe in probes.items():
        assert probe.module == module
        outcome = probe.probe(
            "nowhere.invalid" if module != "sip" else "sip:x@nowhere.invalid", timeout=1
        )
        assert outcome.success is False
        assert outcome.detail


def test_icmp_echo_of_loopback_has_no_loss() -> None:
    outcome = IcmpProbe(count=3, interval=0.05).probe("127.0.0.1", timeout=2)
    assert outcome.success
    assert outcome.loss_pct == 0.0
    assert outcome.min_ms is not None
    assert outcome.max_ms is not None
    assert 0 <= outcome.min_ms <= (outcome.rtt_ms or 0) <= outcome.max_ms


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock
    sock.close()


def test_tcp_connect(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    assert TcpProbe().probe(f"127.0.0.1:{port}", timeout=1).success
    listener.close()
    refused = TcpProbe().probe(f"127.0.0.1:{port}", timeout=1)
    assert not refused.success
    assert "refused" in refused.detail.lower()


class _Answer(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/ok" else 503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_http_get_with_expected_status() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        assert HttpProbe().probe(f"{base}/ok", timeout=2).success
        failing = HttpProbe().probe(f"{base}/busy", timeout=2)
        assert not failing.success
        assert failing.detail == "HTTP 503"
        assert HttpProbe(expected_status=503).probe(f"{base}/busy", timeout=2).success
    finally:
        server.shutdown()
        server.server_close()


def test_sip_options_against_sipp(sipp_uas: int) -> None:
    outcome = SipOptionsProbe().probe(f"sip:phonghop@127.0.0.1:{sipp_uas}", timeout=3)
    assert outcome.success, outcome.detail
    assert outcome.detail.startswith("SIP/2.0 200")


def test_sip_options_to_a_silent_port_times_out_within_its_timeout() -> None:
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", free_udp_port()))
    try:
        started = time.monotonic()
        outcome = SipOptionsProbe().probe(f"sip:a@127.0.0.1:{silent.getsockname()[1]}", timeout=0.5)
        assert not outcome.success
        assert "no SIP answer" in outcome.detail
        assert time.monotonic() - started < 1.5
        request = silent.recv(4096).decode()
    finally:
        silent.close()
    head = request.split("\r\n")
    assert head[0].startswith("OPTIONS sip:a@127.0.0.1:")
    for header in (
        "Via: SIP/2.0/UDP ",
        "From: ",
        "To: ",
        "Call-ID: ",
        "CSeq: 1 OPTIONS",
        "Max-Forwards: 70",
    ):
        assert any(line.startswith(header) for line in head), header
    assert ";branch=z9hG4bK" in request
    assert ";tag=" in request


@pytest.mark.parametrize("uri", ["tel:+84912345678", "sip:", "sip:user@", "http://x"])
def test_bad_sip_uris(uri: str) -> None:
    with pytest.raises(ValueError, match="SIP URI"):
        parse_sip_uri(uri)
