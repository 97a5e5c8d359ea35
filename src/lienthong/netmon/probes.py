"""Probes behind one Protocol: ICMP echo (icmplib), TCP connect, HTTP(S) GET and SIP OPTIONS.

Each probe returns within its timeout and never raises for a network failure: a target that
resolves nowhere, refuses or stays silent is a `ProbeOutcome` with `success=False` and the reason.
"""

from __future__ import annotations

import contextlib
import ipaddress
import secrets
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import icmplib


@dataclass(frozen=True)
class ProbeOutcome:
    success: bool
    rtt_ms: float | None = None
    loss_pct: float | None = None
    min_ms: float | None = None
    max_ms: float | None = None
    detail: str = ""


class Probe(Protocol):
    module: str

    def probe(self, address: str, *, timeout: float) -> ProbeOutcome:
        """Probe `address`; must return within `timeout` seconds (plus a little) and not raise."""
        ...


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


class IcmpProbe:
    """Several echo requests: loss %, min/avg/max RTT. Unprivileged (datagram ICMP sockets)
    where net.ipv4.ping_group_range allows it, raw sockets otherwise (root)."""

    module = "icmp"

    def __init__(self, *, count: int = 5, interval: float = 0.2, concurrency: int = 500) -> None:
        self.count = count
        self.interval = interval
        self.concurrency = concurrency  # sockets open at once in a batch (file descriptors)

    def probe(self, address: str, *, timeout: float) -> ProbeOutcome:
        # icmplib waits for each reply in turn: the whole probe, lost packets included, must
        # fit in its timeout.
        per_packet = max(0.05, (timeout - self.interval * (self.count - 1)) / self.count)
        try:
            with _RAW_SLOTS if not _unprivileged_icmp() else contextlib.nullcontext():
                host = self._ping(address, per_packet)
        except icmplib.NameLookupError:
            return ProbeOutcome(False, loss_pct=100.0, detail=f"name does not resolve: {address}")
        except (icmplib.ICMPLibError, OSError) as exc:
            return ProbeOutcome(False, loss_pct=100.0, detail=f"{type(exc).__name__}: {exc}")
        return _outcome(host)

    def _ping(self, address: str, per_packet: float) -> Any:
        return icmplib.ping(
            address,
            count=self.count,
            interval=self.interval,
            timeout=per_packet,
            privileged=not _unprivileged_icmp(),
        )

    def probe_many(self, addresses: Sequence[str], *, timeout: float) -> list[ProbeOutcome]:
        """Many IP addresses on one asyncio loop (icmplib's multiping), `concurrency` at a time
        with datagram sockets, RAW_CONCURRENCY with raw ones. Call it where no asyncio loop is
        running (the prober runs it in a pool thread)."""
        if not addresses:
            return []
        per_packet = max(0.05, (timeout - self.interval * (self.count - 1)) / self.count)
        try:
            hosts = icmplib.multiping(
                list(addresses),
                count=self.count,
                interval=self.interval,
                timeout=per_packet,
                concurrent_tasks=min(
                    len(addresses), self.concurrency if _unprivileged_icmp() else RAW_CONCURRENCY
                ),
                privileged=not _unprivileged_icmp(),
            )
        except (icmplib.ICMPLibError, OSError) as exc:
            failed = ProbeOutcome(False, loss_pct=100.0, detail=f"{type(exc).__name__}: {exc}")
            return [failed] * len(addresses)
        return [_outcome(host) for host in hosts]


def _outcome(host: Any) -> ProbeOutcome:
    loss = round(host.packet_loss * 100, 1)
    if not host.is_alive:
        return ProbeOutcome(False, loss_pct=loss, detail="no echo reply")
    return ProbeOutcome(
        True,
        rtt_ms=round(host.avg_rtt, 3),
        loss_pct=loss,
        min_ms=round(host.min_rtt, 3),
        max_ms=round(host.max_rtt, 3),
    )


def is_ip(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


# With raw sockets (no net.ipv4.ping_group_range for this process) every socket receives every
# echo reply on the host, and under concurrency their buffers overflow: measured on loopback,
# 80 % loss for 79 hosts at once, none at 10. Datagram ICMP sockets are demultiplexed by the
# kernel: 1,000 hosts × 5 echoes at once, no loss, 0.47 s CPU. So raw probes go 10 at a time.
RAW_CONCURRENCY = 10
_RAW_SLOTS = threading.BoundedSemaphore(RAW_CONCURRENCY)
_UNPRIVILEGED: bool | None = None


def _unprivileged_icmp() -> bool:
    """Whether this process may open a datagram ICMP socket (checked once)."""
    global _UNPRIVILEGED
    if _UNPRIVILEGED is None:
        try:
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP).close()
            _UNPRIVILEGED = True
        except OSError:
            _UNPRIVILEGED = False
    return _UNPRIVILEGED


def split_host_port(address: str, default_port: int) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or "]" in port:
        return address.strip("[]"), default_port
    return host.strip("[]"), int(port)


class TcpProbe:
    """A TCP connect to host:port."""

    module = "tcp"

    def probe(self, address: str, *, timeout: float) -> ProbeOutcome:
        try:
            host, port = split_host_port(address, 80)
        except ValueError:
            return ProbeOutcome(False, detail=f"bad address: {address}")
        start = time.perf_counter()
        try:
            with socket.create_connection((host, port), timeout=timeout):
                pass
        except OSError as exc:
            return ProbeOutcome(False, detail=f"{type(exc).__name__}: {exc}"[:300])
        return ProbeOutcome(True, rtt_ms=_ms(time.perf_counter() - start), loss_pct=0.0)


class HttpProbe:
    """GET a URL; alive when the status is the expected one (any 2xx by default)."""

    module = "http"

    def __init__(self, *, expected_status: int | None = None, verify: bool = True) -> None:
        self.expected_status = expected_status
        self.verify = verify

    def probe(self, address: str, *, timeout: float) -> ProbeOutcome:
        start = time.perf_counter()
        try:
            answer = httpx.get(address, timeout=timeout, verify=self.verify)
        except (httpx.HTTPError, ValueError) as exc:
            return ProbeOutcome(False, detail=f"{type(exc).__name__}: {exc}"[:300])
        elapsed = _ms(time.perf_counter() - start)
        good = (
            answer.status_code == self.expected_status
            if self.expected_status is not None
            else 200 <= answer.status_code < 300
        )
        return ProbeOutcome(good, rtt_ms=elapsed, loss_pct=0.0, detail=f"HTTP {answer.status_code}")


def parse_sip_uri(uri: str) -> tuple[str, str, int]:
    """`sip:user@host[:port]` → (user, host, port). Raises ValueError when it is not one."""
    if not uri.lower().startswith("sip:"):
        raise ValueError("a SIP URI starts with sip:")
    rest = uri[4:].split(";", 1)[0]
    user, _, hostport = rest.rpartition("@")
    if not hostport:
        raise ValueError("a SIP URI needs a host")
    parts = urlsplit(f"//{hostport}")
    if not parts.hostname:
        raise ValueError("a SIP URI needs a host")
    return user, parts.hostname, parts.port or 5060


class SipOptionsProbe:
    """An OPTIONS request over UDP (RFC 3261 §11) with its own Via branch, From tag, Call-ID and
    CSeq; any SIP answer to that Call-ID means the endpoint's SIP stack is alive."""

    module = "sip"

    def probe(self, address: str, *, timeout: float) -> ProbeOutcome:
        try:
            user, host, port = parse_sip_uri(address)
            family, _, _, _, target = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        except (ValueError, OSError) as exc:
            return ProbeOutcome(False, detail=f"bad or unresolvable SIP URI: {exc}"[:300])
        call_id = f"{secrets.token_hex(12)}@lienthong"
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.settimeout(timeout)
            sock.connect(target)
            local_host, local_port = sock.getsockname()[:2]
            request_uri = f"sip:{user + '@' if user else ''}{host}:{port}"
            message = (
                f"OPTIONS {request_uri} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {local_host}:{local_port};branch=z9hG4bK{secrets.token_hex(8)};rport\r\n"
                "Max-Forwards: 70\r\n"
                f"From: <sip:netmon@{local_host}>;tag={secrets.token_hex(6)}\r\n"
                f"To: <{request_uri}>\r\n"
                f"Call-ID: {call_id}\r\n"
                "CSeq: 1 OPTIONS\r\n"
                f"Contact: <sip:netmon@{local_host}:{local_port}>\r\n"
                "Accept: application/sdp\r\n"
                "User-Agent: lienthong-netmon\r\n"
                "Content-Length: 0\r\n\r\n"
            ).encode()
            start = time.perf_counter()
            deadline = start + timeout
            try:
                sock.send(message)
                while True:
                    sock.settimeout(max(0.01, deadline - time.perf_counter()))
                    answer = sock.recv(65535).decode("utf-8", "replace")
                    if call_id in answer and answer.startswith("SIP/2.0 "):
                        break  # a stray datagram for another call is not our answer
            except OSError as exc:
                return ProbeOutcome(False, detail=f"no SIP answer: {type(exc).__name__}"[:300])
        status = answer.split("\r\n", 1)[0]
        return ProbeOutcome(
            True, rtt_ms=_ms(time.perf_counter() - start), loss_pct=0.0, detail=status[:300]
        )


def default_probes() -> dict[str, Probe]:
    return {p.module: p for p in (IcmpProbe(), TcpProbe(), HttpProbe(), SipOptionsProbe())}
