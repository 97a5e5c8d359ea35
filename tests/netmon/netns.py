"""Test hosts in Linux network namespaces: veth pairs, addresses from 10.250.0.0/16 that exist
only inside the namespaces this test made, `tc netem` for loss and delay, links brought down
and up. Root only; skipped with the reason elsewhere, required in CI (LIENTHONG_REQUIRE_TOOLS)."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lienthong.netmon.probes import IcmpProbe
from tests.fixtures.smtp import wait_for


def need(reason: str) -> None:
    if os.environ.get("LIENTHONG_REQUIRE_TOOLS") == "1":
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def ip(*args: str, namespace: str | None = None) -> None:
    command = (
        ["ip", *args] if namespace is None else ["ip", "netns", "exec", namespace, "ip", *args]
    )
    subprocess.run(command, check=True, capture_output=True, timeout=20)


def tc(*args: str) -> None:
    subprocess.run(["tc", *args], check=True, capture_output=True, timeout=20)


@dataclass
class Host:
    """A namespace reached from the root namespace over a veth pair (`outside` is our end)."""

    namespace: str
    outside: str
    address: str

    helpers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    # Routes through this host, put back when its link comes up (the kernel drops them on down).
    routes: list[str] = field(default_factory=list)

    def netem(self, spec: str) -> None:
        """Loss or delay on packets towards the host, e.g. "loss 30%" or "delay 200ms".

        With `tc netem` where the kernel has sch_netem; where it has not (this project's
        machines), loss is dropped by nftables at the host (`numgen random`) and delay added by
        a responder in the host that answers echo requests late (tests/netmon/slow_echo.py)."""
        kind, value = spec.split()
        try:
            tc("qdisc", "replace", "dev", self.outside, "root", "netem", kind, value)
            return
        except subprocess.CalledProcessError as exc:
            if b"unknown" not in (exc.stderr or b""):
                raise
        if kind == "loss":
            percent = str(int(float(value.rstrip("%"))))
            self._in_host("nft", "add", "table", "inet", "netem")
            self._in_host(
                "nft",
                "add",
                "chain",
                "inet",
                "netem",
                "in",
                "{ type filter hook input priority 0; }",
            )
            self._in_host(
                "nft",
                "add",
                "rule",
                "inet",
                "netem",
                "in",
                "icmp",
                "type",
                "echo-request",
                "numgen",
                "random",
                "mod",
                "100",
                "<",
                percent,
                "drop",
            )
        elif kind == "delay":
            seconds = float(value.removesuffix("ms")) / 1000
            self._in_host("sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=1")
            self.helpers.append(
                subprocess.Popen(
                    [
                        "ip",
                        "netns",
                        "exec",
                        self.namespace,
                        sys.executable,
                        "-m",
                        "tests.netmon.slow_echo",
                        str(seconds),
                    ],
                    cwd=Path(__file__).resolve().parents[2],
                )
            )
            answering = IcmpProbe(count=1)
            wait_for(
                lambda: answering.probe(self.address, timeout=1).success,
                timeout=20,
                what="the delaying echo responder",
            )
        else:
            raise ValueError(spec)

    def _in_host(self, *command: str) -> None:
        subprocess.run(
            ["ip", "netns", "exec", self.namespace, *command], check=True, capture_output=True
        )

    def stop_helpers(self) -> None:
        for helper in self.helpers:
            helper.terminate()
            helper.wait(timeout=10)

    def down(self) -> None:
        ip("link", "set", self.outside, "down")

    def up(self) -> None:
        ip("link", "set", self.outside, "up")
        for route in self.routes:
            ip("route", "replace", route, "via", self.address)


@dataclass
class Network:
    tag: str = field(default_factory=lambda: secrets.token_hex(2))
    namespaces: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    routes: list[str] = field(default_factory=list)
    hosts: list[Host] = field(default_factory=list)

    def _namespace(self, n: int) -> str:
        name = f"ltnm{self.tag}h{n}"
        ip("netns", "add", name)
        self.namespaces.append(name)
        ip("link", "set", "lo", "up", namespace=name)
        return name

    def host(self, n: int) -> Host:
        """Host n at 10.250.n.2, our end 10.250.n.1/30."""
        name = self._namespace(n)
        outside, inside = f"lt{self.tag}o{n}", f"lt{self.tag}i{n}"
        ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        self.links.append(outside)
        ip("link", "set", inside, "netns", name)
        ip("addr", "add", f"10.250.{n}.1/30", "dev", outside)
        ip("link", "set", outside, "up")
        ip("addr", "add", f"10.250.{n}.2/30", "dev", inside, namespace=name)
        ip("link", "set", inside, "up", namespace=name)
        self.hosts.append(Host(name, outside, f"10.250.{n}.2"))
        return self.hosts[-1]

    def behind(self, gateway: Host, n: int) -> Host:
        """Host n at 10.250.n.2, reached only through `gateway` (which forwards)."""
        name = self._namespace(n)
        near, far = f"lt{self.tag}g{n}", f"lt{self.tag}b{n}"
        ip("link", "add", near, "type", "veth", "peer", "name", far, namespace=gateway.namespace)
        ip("link", "set", far, "netns", name, namespace=gateway.namespace)
        ip("addr", "add", f"10.250.{n}.1/30", "dev", near, namespace=gateway.namespace)
        ip("link", "set", near, "up", namespace=gateway.namespace)
        ip("addr", "add", f"10.250.{n}.2/30", "dev", far, namespace=name)
        ip("link", "set", far, "up", namespace=name)
        ip("route", "add", "default", "via", f"10.250.{n}.1", namespace=name)
        subprocess.run(
            ["ip", "netns", "exec", gateway.namespace, "sysctl", "-qw", "net.ipv4.ip_forward=1"],
            check=True,
            capture_output=True,
        )
        ip("route", "add", f"10.250.{n}.0/30", "via", gateway.address)
        gateway.routes.append(f"10.250.{n}.0/30")
        self.routes.append(f"10.250.{n}.0/30")
        self.hosts.append(Host(name, gateway.outside, f"10.250.{n}.2"))
        return self.hosts[-1]

    def close(self) -> None:
        for host in self.hosts:
            host.stop_helpers()
        for route in self.routes:
            subprocess.run(["ip", "route", "del", route], capture_output=True)
        for link in self.links:
            subprocess.run(["ip", "link", "del", link], capture_output=True)
        for name in self.namespaces:
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


def network() -> Network:
    if os.geteuid() != 0:
        need("network namespaces need root (ip netns, veth, tc netem)")
    if shutil.which("ip") is None or shutil.which("tc") is None:
        need("ip and tc are not installed (Debian package iproute2)")
    net = Network()
    try:
        net.host(0).down()  # a probe of the privilege: namespaces, veth pairs
    except (subprocess.CalledProcessError, OSError) as exc:
        net.close()
        stderr = getattr(exc, "stderr", b"") or b""
        need(
            f"cannot build network namespaces here: {stderr.decode(errors='replace').strip() or exc}"
        )
    net.close()
    return Network()
