"""A log file run through the rules without storing anything (`lienthong sec replay`): each
line read as syslog, Suricata EVE / ECS JSON, or a combined access-log line, alerts grouped as
the node groups them."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

from lienthong.security.alerts import group_key
from lienthong.security.detection import RuleSet
from lienthong.security.normalise import (
    Malformed,
    parse_access_line,
    parse_json_event,
    parse_syslog,
)


def read_line(line: bytes, *, zone: tzinfo) -> dict[str, Any]:
    text = line.strip()
    if text.startswith(b"<"):
        return parse_syslog(text, local_zone=zone)
    if text.startswith(b"{"):
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise Malformed("not JSON") from exc
        return parse_json_event(document, dataset="replay")
    return parse_access_line(text.decode("utf-8", errors="replace"))


@dataclass
class ReplayedAlert:
    rule_id: str
    title: str
    level: str
    group: str
    count: int = 0
    first_line: int = 0
    tags: list[str] = field(default_factory=list)


@dataclass
class Replay:
    lines: int = 0
    malformed: int = 0
    alerts: dict[tuple[str, str], ReplayedAlert] = field(default_factory=dict)


def replay(lines: Iterable[bytes], rules: RuleSet, *, zone: tzinfo) -> Replay:
    out = Replay()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        out.lines += 1
        try:
            event = read_line(line, zone=zone)
        except Malformed:
            out.malformed += 1
            continue
        for rule in rules.match(event):
            key = (rule.id, group_key(rule, event))
            alert = out.alerts.get(key)
            if alert is None:
                alert = out.alerts[key] = ReplayedAlert(
                    rule.id, rule.title, rule.level, key[1], 0, number, rule.tags
                )
            alert.count += 1
    return out
