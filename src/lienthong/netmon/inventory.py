"""The inventory: links and video endpoints at registry sites, each with its probe target, and
their CSV import (all rows or none, every bad row listed) and export."""

from __future__ import annotations

import csv
import io
import ipaddress
import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import Invalid, NotFound
from lienthong.netmon import sites
from lienthong.netmon.models import (
    IN_SERVICE,
    STATES,
    NetLink,
    ProbeTarget,
    VideoEndpoint,
)
from lienthong.netmon.probes import parse_sip_uri, split_host_port
from lienthong.registry import service as registry

LINK_COLUMNS = (
    "site_code",
    "provider",
    "circuit_id",
    "bandwidth_mbps",
    "addresses",
    "upstream_code",
    "state",
    "illustrative",
)
ENDPOINT_COLUMNS = ("site_code", "room", "model", "protocol", "address", "state", "illustrative")
PROTOCOLS = ("sip", "h323")
H323_PORT = 1720  # an H.323 endpoint answers a TCP connect on its call-signalling port
Progress = Callable[[int, int], None]
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


@dataclass
class RowErrors:
    items: list[dict[str, Any]] = field(default_factory=list)

    def add(self, line: int, column: str, vi: str, en: str) -> None:
        self.items.append({"line": line, "column": column, "message": vi, "message_en": en})


@dataclass(frozen=True)
class ImportOutcome:
    rows: int
    created: int
    updated: int


def check_host(text: str) -> str | None:
    """The problem with a probe address (an IP or a host name, optionally :port), or None."""
    value = text.strip()
    try:
        host, port = split_host_port(value, 0)
    except ValueError:
        return "port"
    if not 0 <= port <= 65535:
        return "port"
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    return None if _HOSTNAME.match(host) and not host.replace(".", "").isdigit() else "address"


def check_endpoint_address(protocol: str, address: str) -> str | None:
    if protocol == "sip":
        try:
            _, host, port = parse_sip_uri(address.strip())
        except ValueError:
            return "sip_uri"
        return check_host(f"{host}:{port}") and "sip_uri"
    return check_host(address)


def _state(text: str) -> str | None:
    value = (text or IN_SERVICE).strip().lower()
    return value if value in STATES else None


def _flag(text: str) -> bool | None:
    value = (text or "").strip().lower()
    if value in ("", "0", "false", "no", "không"):
        return False
    if value in ("1", "true", "yes", "có"):
        return True
    return None


def _jittered_due(interval: int) -> Any:
    # Spread first probes over one interval so 345 targets do not fire at once.
    return utcnow() + timedelta(seconds=random.uniform(0, interval))  # noqa: S311


def _target_for_link(link: NetLink, interval: int) -> ProbeTarget:
    return ProbeTarget(
        link_id=link.id,
        site_id=link.site_id,
        provider=link.provider,
        module="icmp",
        address=" ".join(link.addresses)[:255],
        enabled=link.state == IN_SERVICE,
        interval_seconds=interval,
        next_due_at=_jittered_due(interval),
        changes=[],
    )


def endpoint_probe(protocol: str, address: str) -> tuple[str, str]:
    """(module, address) that tells whether a video endpoint is alive."""
    if protocol == "sip":
        return "sip", address.strip()
    host, port = split_host_port(address.strip(), H323_PORT)
    return "tcp", f"{host}:{port}"


def _target_for_endpoint(endpoint: VideoEndpoint, interval: int) -> ProbeTarget:
    module, address = endpoint_probe(endpoint.protocol, endpoint.address)
    return ProbeTarget(
        endpoint_id=endpoint.id,
        site_id=endpoint.site_id,
        provider="",
        module=module,
        address=address,
        enabled=endpoint.state == IN_SERVICE,
        interval_seconds=interval,
        next_due_at=_jittered_due(interval),
        changes=[],
    )


def _read(text: str, columns: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    try:
        reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
        header = [h.strip() for h in reader.fieldnames or []]
        missing = [c for c in columns[:3] if c not in header]
        if missing:
            raise Invalid(
                f"Tệp CSV thiếu cột: {', '.join(missing)}.",
                f"The CSV lacks columns: {', '.join(missing)}.",
                code="netmon_import_invalid",
                details={"errors": [], "columns": list(columns)},
            )
        return [
            (reader.line_num, {k.strip(): (v or "").strip() for k, v in row.items() if k})
            for row in reader
        ]
    except csv.Error as exc:
        raise Invalid(
            f"Tệp CSV hỏng: {exc}", f"Malformed CSV: {exc}", code="netmon_import_invalid"
        ) from exc


def _refuse(errors: RowErrors) -> None:
    if errors.items:
        raise Invalid(
            f"Không nhập: {len(errors.items)} lỗi trong tệp; chưa thay đổi gì.",
            f"Nothing imported: {len(errors.items)} problems in the file; nothing was changed.",
            code="netmon_import_invalid",
            details={"errors": errors.items},
        )


def _sites(session: Session, codes: set[str]) -> dict[str, int]:
    found = {}
    for code in codes:
        agency = registry.find_agency(session, code=code)
        if agency is not None:
            found[code] = agency.id
    return found


def import_links(
    session: Session, *, text: str, interval: int, progress: Progress | None = None
) -> ImportOutcome:
    rows = _read(text, LINK_COLUMNS)
    errors = RowErrors()
    sites = _sites(
        session,
        {r.get("site_code", "") for _, r in rows} | {r.get("upstream_code", "") for _, r in rows},
    )
    seen: dict[str, int] = {}
    parsed: list[dict[str, Any]] = []
    for line, r in rows:
        values: dict[str, Any] = {}
        site = r.get("site_code", "")
        if site not in sites:
            errors.add(line, "site_code", f"Không có đơn vị '{site}'.", f"No site '{site}'.")
        circuit = r.get("circuit_id", "")
        if not circuit:
            errors.add(line, "circuit_id", "Thiếu mã kênh.", "The circuit id is missing.")
        elif circuit in seen:
            errors.add(
                line,
                "circuit_id",
                f"Mã kênh '{circuit}' trùng với dòng {seen[circuit]}.",
                f"Circuit id '{circuit}' repeats line {seen[circuit]}.",
            )
        seen.setdefault(circuit, line)
        if not r.get("provider"):
            errors.add(line, "provider", "Thiếu nhà cung cấp.", "The provider is missing.")
        addresses = r.get("addresses", "").replace(",", " ").split()
        if not addresses:
            errors.add(line, "addresses", "Thiếu địa chỉ.", "No address to probe.")
        for address in addresses:
            if check_host(address):
                errors.add(
                    line, "addresses", f"Địa chỉ sai: '{address}'.", f"Bad address: '{address}'."
                )
        upstream = r.get("upstream_code", "")
        if upstream and upstream not in sites:
            errors.add(
                line, "upstream_code", f"Không có đơn vị '{upstream}'.", f"No site '{upstream}'."
            )
        bandwidth = r.get("bandwidth_mbps", "") or "0"
        if not bandwidth.isdigit() or int(bandwidth) > 1_000_000:
            errors.add(line, "bandwidth_mbps", "Băng thông sai.", "Bad bandwidth (Mbit/s).")
            bandwidth = "0"
        state, flag = _state(r.get("state", "")), _flag(r.get("illustrative", ""))
        if state is None:
            errors.add(
                line, "state", "Trạng thái sai.", f"State must be one of {', '.join(STATES)}."
            )
        if flag is None:
            errors.add(line, "illustrative", "Giá trị sai.", "Use true or false.")
        values.update(
            site_id=sites.get(site),
            provider=r.get("provider", "")[:60],
            circuit_id=circuit[:80],
            bandwidth_mbps=int(bandwidth),
            addresses=addresses,
            upstream_site_id=sites.get(upstream) if upstream else None,
            state=state,
            illustrative=bool(flag),
        )
        parsed.append(values)
    _refuse(errors)
    created = updated = 0
    for done, values in enumerate(parsed, 1):
        link = session.scalars(
            select(NetLink).where(NetLink.circuit_id == values["circuit_id"])
        ).first()
        if link is None:
            save_link(session, values=values, interval=interval)
            created += 1
        else:
            save_link(session, values=values, interval=interval, link=link)
            updated += 1
        if progress:
            progress(done, len(parsed))
    return ImportOutcome(len(parsed), created, updated)


def save_link(
    session: Session, *, values: dict[str, Any], interval: int, link: NetLink | None = None
) -> NetLink:
    if link is None:
        link = NetLink(created_at=utcnow(), **values)
        session.add(link)
        session.flush()
        session.add(_target_for_link(link, interval))
    else:
        for key, value in values.items():
            setattr(link, key, value)
        target = session.scalars(select(ProbeTarget).where(ProbeTarget.link_id == link.id)).one()
        target.site_id, target.provider = link.site_id, link.provider
        target.address = " ".join(link.addresses)[:255]
        target.enabled = link.state == IN_SERVICE
    session.flush()
    return link


def import_endpoints(
    session: Session, *, text: str, interval: int, progress: Progress | None = None
) -> ImportOutcome:
    rows = _read(text, ENDPOINT_COLUMNS)
    errors = RowErrors()
    sites = _sites(session, {r.get("site_code", "") for _, r in rows})
    seen: dict[tuple[str, str], int] = {}
    parsed: list[dict[str, Any]] = []
    for line, r in rows:
        site, room = r.get("site_code", ""), r.get("room", "")
        if site not in sites:
            errors.add(line, "site_code", f"Không có đơn vị '{site}'.", f"No site '{site}'.")
        if not room:
            errors.add(line, "room", "Thiếu phòng họp.", "The room is missing.")
        elif (site, room) in seen:
            errors.add(
                line,
                "room",
                f"Phòng '{room}' trùng với dòng {seen[(site, room)]}.",
                f"Room '{room}' repeats line {seen[(site, room)]}.",
            )
        seen.setdefault((site, room), line)
        protocol = r.get("protocol", "").lower().replace(".", "")
        address = r.get("address", "")
        if protocol not in PROTOCOLS:
            errors.add(
                line,
                "protocol",
                "Giao thức phải là SIP hoặc H.323.",
                "Protocol must be SIP or H.323.",
            )
        elif check_endpoint_address(protocol, address):
            errors.add(
                line,
                "address",
                f"Địa chỉ hoặc SIP URI sai: '{address}'.",
                f"Bad address or SIP URI: '{address}'.",
            )
        state, flag = _state(r.get("state", "")), _flag(r.get("illustrative", ""))
        if state is None:
            errors.add(
                line, "state", "Trạng thái sai.", f"State must be one of {', '.join(STATES)}."
            )
        if flag is None:
            errors.add(line, "illustrative", "Giá trị sai.", "Use true or false.")
        parsed.append(
            {
                "site_id": sites.get(site),
                "room": room[:120],
                "model": r.get("model", "")[:120],
                "protocol": protocol,
                "address": address[:255],
                "state": state,
                "illustrative": bool(flag),
            }
        )
    _refuse(errors)
    created = updated = 0
    for done, values in enumerate(parsed, 1):
        endpoint = session.scalars(
            select(VideoEndpoint).where(
                VideoEndpoint.site_id == values["site_id"], VideoEndpoint.room == values["room"]
            )
        ).first()
        save_endpoint(session, values=values, interval=interval, endpoint=endpoint)
        created, updated = (created + 1, updated) if endpoint is None else (created, updated + 1)
        if progress:
            progress(done, len(parsed))
    return ImportOutcome(len(parsed), created, updated)


def save_endpoint(
    session: Session,
    *,
    values: dict[str, Any],
    interval: int,
    endpoint: VideoEndpoint | None = None,
) -> VideoEndpoint:
    if endpoint is None:
        endpoint = VideoEndpoint(created_at=utcnow(), **values)
        session.add(endpoint)
        session.flush()
        session.add(_target_for_endpoint(endpoint, interval))
    else:
        for key, value in values.items():
            setattr(endpoint, key, value)
        target = session.scalars(
            select(ProbeTarget).where(ProbeTarget.endpoint_id == endpoint.id)
        ).one()
        target.module, target.address = endpoint_probe(endpoint.protocol, endpoint.address)
        target.site_id = endpoint.site_id
        target.enabled = endpoint.state == IN_SERVICE
    session.flush()
    return endpoint


def export_links(session: Session) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(LINK_COLUMNS)
    links = list(session.scalars(select(NetLink).order_by(NetLink.id)))
    codes = sites.codes(
        session,
        {x.site_id for x in links} | {x.upstream_site_id for x in links if x.upstream_site_id},
    )
    for x in links:
        writer.writerow(
            [
                codes[x.site_id],
                x.provider,
                x.circuit_id,
                x.bandwidth_mbps,
                " ".join(x.addresses),
                codes.get(x.upstream_site_id or 0, ""),
                x.state,
                "true" if x.illustrative else "false",
            ]
        )
    yield buffer.getvalue()


def export_endpoints(session: Session) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(ENDPOINT_COLUMNS)
    endpoints = list(session.scalars(select(VideoEndpoint).order_by(VideoEndpoint.id)))
    codes = sites.codes(session, {x.site_id for x in endpoints})
    for x in endpoints:
        writer.writerow(
            [
                codes[x.site_id],
                x.room,
                x.model,
                x.protocol,
                x.address,
                x.state,
                "true" if x.illustrative else "false",
            ]
        )
    yield buffer.getvalue()


def get_target(session: Session, *, target_id: int) -> ProbeTarget:
    target = session.get(ProbeTarget, target_id)
    if target is None:
        raise NotFound(
            f"Không có mục giám sát {target_id}.",
            f"No probe target {target_id}.",
            code="netmon_unknown_target",
        )
    return target


def find_target(session: Session, *, name: str) -> ProbeTarget:
    """A target by circuit id, by `endpoint:<id>`, by `link:<id>` or by its address."""
    if name.startswith(("link:", "endpoint:")) and name.split(":", 1)[1].isdigit():
        kind, number = name.split(":", 1)
        column = ProbeTarget.link_id if kind == "link" else ProbeTarget.endpoint_id
        found = session.scalars(select(ProbeTarget).where(column == int(number))).first()
    else:
        link = session.scalars(select(NetLink).where(NetLink.circuit_id == name)).first()
        stmt = (
            select(ProbeTarget).where(ProbeTarget.link_id == link.id)
            if link
            else select(ProbeTarget).where(ProbeTarget.address == name)
        )
        found = session.scalars(stmt).first()
    if found is None:
        raise NotFound(
            f"Không có mục giám sát '{name}'.",
            f"No probe target '{name}'.",
            code="netmon_unknown_target",
        )
    return found
