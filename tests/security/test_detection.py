"""Sigma rules through pySigma and the node's evaluator: modifiers, conditions, correlations,
and rules that cannot be evaluated reported at load with their reason."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from lienthong.security.detection import SHIPPED_RULES, load_rules

HEAD = """title: {title}
id: {uid}
name: {name}
logsource:
    category: webserver
level: high
"""


def _rules(tmp_path: Path, **bodies: str) -> Any:
    for i, (name, body) in enumerate(bodies.items()):
        uid = f"00000000-0000-4000-8000-{i:012d}"
        (tmp_path / f"{name}.yml").write_text(HEAD.format(title=name, uid=uid, name=name) + body)
    return load_rules([tmp_path])


def _web(**fields: Any) -> dict[str, Any]:
    return {
        "event.category": "web",
        "event.module": "nginx",
        "@timestamp": "2026-12-03T05:00:00.000Z",
        **fields,
    }


def _names(ruleset: Any, event: dict[str, Any]) -> set[str]:
    return {r.name for r in ruleset.match(event)}


def test_the_shipped_pack_loads_whole() -> None:
    ruleset = load_rules([SHIPPED_RULES])
    assert ruleset.failures == []
    assert len(ruleset.rules) >= 20
    assert (SHIPPED_RULES / "LICENSE").exists()


def test_modifiers(tmp_path: Path) -> None:
    encoded = base64.b64encode(b"x=1;/bin/sh -c id").decode()
    ruleset = _rules(
        tmp_path,
        contains_all="detection:\n    s:\n        url.original|contains|all: ['union', 'select']\n    condition: s\n",
        starts="detection:\n    s:\n        url.path|startswith: '/admin'\n    condition: s\n",
        ends="detection:\n    s:\n        url.path|endswith: '.env'\n    condition: s\n",
        regex="detection:\n    s:\n        user_agent.original|re: '^curl/[0-9]+'\n    condition: s\n",
        cidr="detection:\n    s:\n        source.ip|cidr: '10.0.0.0/8'\n    condition: s\n",
        b64="detection:\n    s:\n        url.original|base64offset|contains: '/bin/sh'\n    condition: s\n",
        windash="detection:\n    s:\n        process.command_line|windash|contains: ' -enc '\n    condition: s\n",
        number="detection:\n    s:\n        http.response.status_code|gte: 500\n    condition: s\n",
    )
    assert ruleset.failures == []
    assert _names(ruleset, _web(**{"url.original": "/a?q=UNION all SELECT 1"})) == {"contains_all"}
    assert _names(ruleset, _web(**{"url.original": "/a?q=union"})) == set()
    assert _names(ruleset, _web(**{"url.path": "/admin/x"})) == {"starts"}
    assert _names(ruleset, _web(**{"url.path": "/app/.ENV"})) == {"ends"}  # case-insensitive
    assert _names(ruleset, _web(**{"user_agent.original": "curl/8.1"})) == {"regex"}
    assert _names(ruleset, _web(**{"user_agent.original": "xcurl/8.1"})) == set()
    assert _names(ruleset, _web(**{"source.ip": "10.2.3.4"})) == {"cidr"}
    assert _names(ruleset, _web(**{"source.ip": "11.2.3.4"})) == set()
    assert _names(ruleset, _web(**{"url.original": f"/x?p={encoded}"})) == {"b64"}
    assert _names(ruleset, _web(**{"process.command_line": "powershell /enc AAA"})) == {"windash"}
    assert _names(ruleset, _web(**{"http.response.status_code": 503})) == {"number"}
    assert _names(ruleset, _web(**{"http.response.status_code": 404})) == set()


def test_conditions_one_of_all_of_not_parentheses(tmp_path: Path) -> None:
    ruleset = _rules(
        tmp_path,
        combo=(
            "detection:\n"
            "    sel_a:\n        url.path: '/a'\n"
            "    sel_b:\n        url.path: '/b'\n"
            "    get:\n        http.request.method: GET\n"
            "    local:\n        source.ip|cidr: '127.0.0.0/8'\n"
            "    condition: (1 of sel_* and get) and not local\n"
        ),
        every=(
            "detection:\n"
            "    s_one:\n        url.path|contains: 'x'\n"
            "    s_two:\n        url.path|contains: 'y'\n"
            "    condition: all of s_*\n"
        ),
    )
    assert _names(
        ruleset, _web(**{"url.path": "/b", "http.request.method": "GET", "source.ip": "192.0.2.1"})
    ) == {"combo"}
    assert (
        _names(
            ruleset,
            _web(**{"url.path": "/b", "http.request.method": "GET", "source.ip": "127.0.0.1"}),
        )
        == set()
    )
    assert _names(ruleset, _web(**{"url.path": "/c", "http.request.method": "GET"})) == set()
    assert _names(ruleset, _web(**{"url.path": "/xy"})) == {"every"}
    assert _names(ruleset, _web(**{"url.path": "/x"})) == set()


def test_correlations_event_count_and_value_count(tmp_path: Path) -> None:
    (tmp_path / "c.yml").write_text(
        "title: failed\nid: 00000000-0000-4000-8000-000000000001\nname: failed\n"
        "logsource:\n    product: lienthong\n"
        "detection:\n    s:\n        event.outcome: failure\n    condition: s\n"
        "---\ntitle: burst\nid: 00000000-0000-4000-8000-000000000002\nname: burst\n"
        "correlation:\n    type: event_count\n    rules: [failed]\n    group-by: [source.ip]\n"
        "    timespan: 2m\n    condition:\n        gte: 3\nlevel: high\n"
        "---\ntitle: spray\nid: 00000000-0000-4000-8000-000000000003\nname: spray\n"
        "correlation:\n    type: value_count\n    rules: [failed]\n    group-by: [source.ip]\n"
        "    timespan: 10m\n    condition:\n        gte: 3\n        field: user.name\nlevel: high\n"
    )
    ruleset = load_rules([tmp_path])
    assert ruleset.failures == []

    def failed(second: int, ip: str, user: str = "a") -> dict[str, Any]:
        return {
            "event.module": "lienthong",
            "event.outcome": "failure",
            "source.ip": ip,
            "user.name": user,
            "@timestamp": f"2026-12-03T05:00:{second:02d}.000Z",
        }

    fired = [_names(ruleset, failed(s, "192.0.2.1")) for s in range(3)]
    assert fired == [set(), set(), {"burst"}]  # the base rule only feeds the correlation
    # Another address has its own window; three addresses with one failure each never fire.
    assert _names(ruleset, failed(10, "192.0.2.2")) == set()
    assert _names(ruleset, failed(11, "192.0.2.3")) == set()
    # Three different users from one address: a spray.
    out = [_names(ruleset, failed(20 + i, "198.51.100.1", f"u{i}")) for i in range(3)]
    assert "spray" in out[2]
    # Outside the timespan the count starts again.
    late = {
        "event.module": "lienthong",
        "event.outcome": "failure",
        "source.ip": "192.0.2.9",
        "@timestamp": "2026-12-03T05:00:00.000Z",
    }
    _names(ruleset, late)
    _names(ruleset, {**late, "@timestamp": "2026-12-03T05:01:00.000Z"})
    assert _names(ruleset, {**late, "@timestamp": "2026-12-03T05:05:00.000Z"}) == set()


def test_rules_that_cannot_be_evaluated_are_reported_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "yaml.yml").write_text("title: [unclosed\n")
    (tmp_path / "modifier.yml").write_text(
        HEAD.format(title="m", uid="00000000-0000-4000-8000-0000000000a1", name="m")
        + "detection:\n    s:\n        url.path|sparkle: x\n    condition: s\n"
    )
    (tmp_path / "windows.yml").write_text(
        "title: w\nid: 00000000-0000-4000-8000-0000000000a2\n"
        "logsource:\n    product: windows\n    service: security\n"
        "detection:\n    s:\n        EventID: 4625\n    condition: s\n"
    )
    (tmp_path / "temporal.yml").write_text(
        "title: base\nid: 00000000-0000-4000-8000-0000000000b1\nname: base\n"
        "logsource:\n    product: lienthong\n"
        "detection:\n    s:\n        event.outcome: failure\n    condition: s\n---\n"
        "title: t\nid: 00000000-0000-4000-8000-0000000000a3\nname: t\n"
        "correlation:\n    type: temporal\n    rules: [base]\n    group-by: [source.ip]\n"
        "    timespan: 1m\n"
    )
    (tmp_path / "dangling.yml").write_text(
        "title: d\nid: 00000000-0000-4000-8000-0000000000a4\nname: d\n"
        "correlation:\n    type: event_count\n    rules: [nowhere]\n    group-by: [source.ip]\n"
        "    timespan: 1m\n    condition:\n        gte: 2\n"
    )
    ruleset = load_rules([tmp_path])
    reasons = {Path(f.path).name: f.reason for f in ruleset.failures}
    assert set(reasons) == {
        "yaml.yml",
        "modifier.yml",
        "windows.yml",
        "temporal.yml",
        "dangling.yml",
    }
    assert "sparkle" in reasons["modifier.yml"]
    assert "logsource */windows/security is not taken in" in reasons["windows.yml"]
    assert "temporal is not evaluated here" in reasons["temporal.yml"]
    assert "nowhere" in reasons["dangling.yml"]
    assert [r.name for r in ruleset.rules] == ["base"]


def test_a_peer_failing_signature_checks_raises_the_burst() -> None:
    from lienthong.kernel.events import node_event

    ruleset = load_rules([SHIPPED_RULES])
    # What web/events.tell_refusal emits for federation's 401 `bad_signature`.
    refusal = node_event(
        action="access_refused",
        category="authentication",
        outcome="failure",
        reason="bad_signature",
        source_ip="198.51.100.77",
        fields={"url.path": "/federation/v1/packages", "http.response.status_code": 401},
    )
    fired = [{r.name for r in ruleset.match(refusal)} for _ in range(5)]
    assert "lienthong_bad_signature_burst" in fired[4]
    assert all("lienthong_bad_signature_burst" not in f for f in fired[:4])
