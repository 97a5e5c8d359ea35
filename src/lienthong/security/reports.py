"""Reports upward (layer 4 of Directive 14/CT-TTg): a case as a STIX 2.1 bundle for the
national monitoring centre — the incident, affected systems, times, indicators, ATT&CK
techniques and the actions taken — and the daily list of indicators the province shares; each
signed by the node (RSA PKCS#1 v1.5 over SHA-256 of the bundle's canonical JSON, the node's
certificate beside it). The national centre's own format is unknown (reference §11.1); STIX 2.1
is what such centres exchange."""

from __future__ import annotations

import base64
import ipaddress
import json
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from sqlalchemy import select
from sqlalchemy.orm import Session

from lienthong.kernel.clock import utcnow
from lienthong.kernel.pki import SigningIdentity, pem, verify_rsa
from lienthong.security import alerts, cases
from lienthong.security.models import SecurityAlert
from lienthong.security.normalise import stamp

NAMESPACE = uuid.UUID("0c7e2f4a-9d55-4b8e-a3f1-5e2d7c6b9a10")


def _id(kind: str, key: str) -> str:
    return f"{kind}--{uuid.uuid5(NAMESPACE, f'{kind}:{key}')}"


def _identity(node_code: str, at: datetime) -> dict[str, Any]:
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": _id("identity", node_code),
        "created": stamp(at),
        "modified": stamp(at),
        "name": f"lienthong node {node_code}",
        "identity_class": "organization",
        "sectors": ["government-regional"],
    }


def _pattern(address: str) -> str | None:
    try:
        version = ipaddress.ip_address(address).version
    except ValueError:
        return None
    return f"[ipv{version}-addr:value = '{address}']"


def _indicators(
    rows: Iterable[SecurityAlert], creator: str, related: str | None
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for alert in rows:
        pattern = _pattern(alert.source_ip or "")
        if pattern is None or alert.source_ip in seen:
            continue
        seen.add(alert.source_ip or "")
        indicator: dict[str, Any] = {
            "type": "indicator",
            "spec_version": "2.1",
            "id": _id("indicator", alert.source_ip or ""),
            "created": stamp(alert.first_seen),
            "modified": stamp(alert.last_seen),
            "created_by_ref": creator,
            "name": f"{alert.source_ip}: {alert.rule_title}",
            "indicator_types": ["malicious-activity"],
            "pattern": pattern,
            "pattern_type": "stix",
            "valid_from": stamp(alert.first_seen),
            "labels": [alert.level],
        }
        out.append(indicator)
        if related:
            out.append(_relationship(indicator["id"], related, creator, alert.first_seen))
    return out


def _relationship(source: str, target: str, creator: str, at: datetime) -> dict[str, Any]:
    return {
        "type": "relationship",
        "spec_version": "2.1",
        "id": _id("relationship", source + target),
        "created": stamp(at),
        "modified": stamp(at),
        "created_by_ref": creator,
        "relationship_type": "related-to",
        "source_ref": source,
        "target_ref": target,
    }


def incident_bundle(session: Session, *, case_id: int, node_code: str) -> dict[str, Any]:
    case = cases.get_case(session, case_id=case_id)
    rows, _ = alerts.list_alerts(session, case_id=case.id, page_size=500)
    now = utcnow()
    identity = _identity(node_code, now)
    creator = identity["id"]
    first = min((a.first_seen for a in rows), default=case.created_at)
    last = max((a.last_seen for a in rows), default=case.created_at)
    incident: dict[str, Any] = {
        "type": "incident",
        "spec_version": "2.1",
        "id": _id("incident", f"{node_code}/{case.id}"),
        "created": stamp(case.created_at),
        "modified": stamp(now),
        "created_by_ref": creator,
        "name": case.title,
        "description": "; ".join(f"#{a.id} {a.rule_title} ×{a.count}" for a in rows),
        "labels": [case.level],
        "x_lienthong_case": case.id,
        "x_lienthong_state": case.state,
        "x_lienthong_first_seen": stamp(first),
        "x_lienthong_last_seen": stamp(last),
        "x_lienthong_affected_systems": sorted({a.target for a in rows if a.target}),
        "x_lienthong_actions": [
            {"at": stamp(a.at), "actor": a.actor, "action": a.action, "comment": a.comment}
            for a in alerts.actions(session, case_id=case.id)
        ],
    }
    objects: list[dict[str, Any]] = [identity, incident]
    objects += _indicators(rows, creator, incident["id"])
    techniques = sorted({t for a in rows for t in a.tags if t.startswith("attack.t")})
    for tag in techniques:
        external = tag.removeprefix("attack.").upper()
        pattern: dict[str, Any] = {
            "type": "attack-pattern",
            "spec_version": "2.1",
            "id": _id("attack-pattern", external),
            "created": stamp(now),
            "modified": stamp(now),
            "name": external,
            "external_references": [{"source_name": "mitre-attack", "external_id": external}],
        }
        objects += [pattern, _relationship(incident["id"], pattern["id"], creator, now)]
    return _bundle(objects, f"{node_code}/case/{case.id}/{stamp(now)}")


def indicator_bundle(session: Session, *, node_code: str, days: int = 1) -> dict[str, Any]:
    """The addresses behind high and critical alerts of the last `days`, as STIX indicators."""
    since = utcnow() - timedelta(days=days)
    rows = session.scalars(
        select(SecurityAlert)
        .where(SecurityAlert.last_seen >= since, SecurityAlert.level.in_(("high", "critical")))
        .where(SecurityAlert.state != "false_positive")
        .order_by(SecurityAlert.first_seen)
    )
    identity = _identity(node_code, utcnow())
    objects = [identity, *_indicators(rows, identity["id"], None)]
    return _bundle(objects, f"{node_code}/indicators/{stamp(utcnow())}")


def _bundle(objects: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return {"type": "bundle", "id": _id("bundle", key), "objects": objects}


def canonical(document: Any) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(bundle: dict[str, Any], identity: SigningIdentity) -> dict[str, Any]:
    value = identity.key.sign(canonical(bundle), padding.PKCS1v15(), hashes.SHA256())
    return {
        "bundle": bundle,
        "signature": {
            "algorithm": "RS256",
            "canonicalisation": "JSON, sorted keys, no spaces, UTF-8",
            "value": base64.b64encode(value).decode(),
            "certificate": pem(identity.chain[0]).decode(),
        },
    }


def verify(signed: dict[str, Any]) -> bool:
    signature = signed["signature"]
    cert = x509.load_pem_x509_certificate(signature["certificate"].encode())
    raw = base64.b64decode(signature["value"])
    return verify_rsa(cert, raw, canonical(signed["bundle"]), hashes.SHA256())
