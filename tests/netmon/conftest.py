"""Sites, links and endpoints for the netmon tests, and real peers: a SIP UAS (sipp) and hosts
in network namespaces (tests/netmon/netns.py)."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from lienthong.config import Settings
from lienthong.netmon import inventory
from lienthong.netmon.models import ProbeTarget
from tests.fixtures.smtp import wait_for
from tests.netmon.netns import need

PROVINCE = "000.00.00.H49"
HONG_GAI = "000.00.84.H49"  # a ward of the former city of Hạ Long
HA_LONG = "000.00.85.H49"
QUANG_LA = "000.00.43.H49"
LINK_HEADER = (
    "site_code,provider,circuit_id,bandwidth_mbps,addresses,upstream_code,state,illustrative\n"
)


def add_link(
    db: Session,
    *,
    site: str,
    circuit: str,
    addresses: str,
    upstream: str = "",
    provider: str = "VNPT",
) -> ProbeTarget:
    inventory.import_links(
        db,
        text=LINK_HEADER
        + f"{site},{provider},{circuit},100,{addresses},{upstream},in_service,false\n",
        interval=30,
    )
    return inventory.find_target(db, name=circuit)


def add_endpoint(db: Session, *, site: str, room: str, protocol: str, address: str) -> ProbeTarget:
    inventory.import_endpoints(
        db,
        text="site_code,room,model,protocol,address,state,illustrative\n"
        f"{site},{room},Polycom Group 500,{protocol},{address},in_service,false\n",
        interval=30,
    )
    endpoint_id = db.scalar(
        select(ProbeTarget.endpoint_id)
        .where(ProbeTarget.address.contains(address.split("@")[-1]))
        .order_by(ProbeTarget.id.desc())
    )
    return inventory.find_target(db, name=f"endpoint:{endpoint_id}")


@pytest.fixture
def netmon_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "netmon_timeout_seconds": 2.0,
            "netmon_down_after": 2,
            "netmon_alert_emails": "noc@quangninh.test",
        }
    )


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def sipp_uas(tmp_path: Path) -> Iterator[int]:
    """Debian's sipp as a UAS on a free UDP port of 127.0.0.1 (it answers OPTIONS with 200)."""
    if shutil.which("sipp") is None:
        need("sipp is not installed (Debian package sip-tester; scripts/debian-packages)")
    port = free_udp_port()
    scenario = tmp_path / "options-uas.xml"
    scenario.write_text(
        """<?xml version="1.0" encoding="UTF-8" ?>
<scenario name="answer OPTIONS">
  <recv request="OPTIONS" crlf="true"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE
Content-Length: 0

]]></send>
</scenario>
""",
        encoding="utf-8",
    )
    process = subprocess.Popen(
        ["sipp", "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(port), "-nostdin"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
    )

    def listening() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"sipp exited with {process.returncode}")
        out = subprocess.run(["ss", "-uln"], capture_output=True, text=True).stdout
        return f"127.0.0.1:{port}" in out

    wait_for(listening, timeout=20, what="sipp to listen")
    yield port
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
