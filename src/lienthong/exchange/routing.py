"""Where a package addressed to an agency code goes."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from lienthong.exchange.edxml.model import Organization
from lienthong.exchange.handover import Handover
from lienthong.kernel.errors import AppError, Invalid
from lienthong.registry import service as registry
from lienthong.registry.cache import AgencyView
from lienthong.registry.models import Agency, AgencyStatus

MAX_SUCCESSION_HOPS = 8


@dataclass
class Route:
    addressed_code: str
    agency: Agency | None = None
    route: str = ""  # local, successor, federation
    note_vi: str | None = None
    note_en: str | None = None
    refused_code: str | None = None
    refused_vi: str | None = None
    refused_en: str | None = None
    successors: list[str] = field(default_factory=list)
    hop: str | None = None  # the peer a federation route leaves through

    @property
    def accepted(self) -> bool:
        return self.agency is not None


def resolve(
    session: Session,
    *,
    code: str,
    node_code: str,
    handover: Handover,
    visited: Collection[str] = (),
    agencies: AgencyView | None = None,
) -> Route:
    """Active local agency → its inbox; merged or dissolved with exactly one successor → the
    successor (followed along a chain of reorganisations); several → refused with the list;
    unknown → refused; served by another node → queued for that node, directly when it is a
    peer, else through the national axis, never back through a node in `visited`."""
    route = Route(addressed_code=code)
    try:
        agency = (
            agencies.find(code)
            if agencies is not None
            else registry.find_agency(session, code=code)
        )
    except AppError:
        agency = None
    if agency is None:
        route.refused_code = "unknown_recipient"
        route.refused_vi = f"Không có cơ quan mã {code} trong danh bạ."
        route.refused_en = f"No agency with code {code} in the directory."
        return route
    hops: list[str] = []
    while agency.status != AgencyStatus.ACTIVE:
        successors = [
            registry.get_agency(session, code=c)
            for c in registry.links_for(session, [agency.id])[agency.id].successor_codes
        ]
        if len(successors) != 1 or len(hops) >= MAX_SUCCESSION_HOPS:
            route.refused_code = "recipient_dissolved"
            route.successors = [s.code for s in successors]
            listing = ", ".join(f"{s.code} ({s.short_name or s.name})" for s in successors) or "—"
            route.refused_vi = (
                f"{agency.name} đã {'hợp nhất' if agency.status == 'merged' else 'giải thể'}; "
                f"hãy gửi cho đơn vị kế thừa phù hợp: {listing}."
            )
            route.refused_en = (
                f"{agency.name} is {agency.status}; send to the right successor: {listing}."
            )
            return route
        hops.append(agency.code)
        agency = successors[0]
    route.agency = agency
    if hops:
        route.route = "successor"
        route.note_vi = (
            f"{code} đã sáp nhập/giải thể; văn bản được chuyển cho {agency.name} ({agency.code})."
        )
        route.note_en = f"{code} no longer exists; the document went to its successor {agency.name} ({agency.code})."
    if agency.serving_node != node_code:
        target = agency.serving_node
        hop = handover.next_hop(session, own=node_code, dest=target, visited=visited)
        if hop is None:
            route.agency = None
            route.refused_code = "no_route_to_node"
            route.refused_vi = (
                f"{agency.name} do nút {target} phục vụ, nhưng nút này chưa có đường tới nút đó "
                "(chưa kết nối trực tiếp, cũng chưa kết nối trục quốc gia)."
            )
            route.refused_en = (
                f"{agency.name} is served by node {target}, and this node has no route to it "
                "(neither a peer nor the national axis)."
            )
            return route
        route.route = "federation"
        route.hop = hop
        via_vi = f" qua nút {hop}" if hop != target else ""
        via_en = f" through node {hop}" if hop != target else ""
        route.note_vi = ((route.note_vi or "") + f" Chuyển sang nút {target}{via_vi}.").strip()
        route.note_en = ((route.note_en or "") + f" Sent on to node {target}{via_en}.").strip()
    elif not hops:
        route.route = "local"
    return route


def organization(agency: Agency) -> Organization:
    return Organization(
        organ_id=agency.code,
        organ_name=agency.name,
        organization_in_charge=agency.organization_in_charge,
        organ_add=agency.address,
        email=agency.email,
        telephone=agency.phone,
        fax=agency.fax,
        website=agency.website,
    )


def route_recipients(
    session: Session,
    *,
    codes: Iterable[str],
    node_code: str,
    handover: Handover,
    visited: Collection[str],
    agencies: AgencyView | None = None,
) -> tuple[list[Route], list[dict[str, Any]]]:
    """Each recipient code resolved once: the routes to deliver on, and the answer per code.
    `visited` are the nodes the package has passed, which it must not return to."""
    routes: list[Route] = []
    seen: set[int] = set()
    results: list[dict[str, Any]] = []
    for code in codes:
        route = resolve(
            session,
            code=code,
            node_code=node_code,
            handover=handover,
            visited=visited,
            agencies=agencies,
        )
        if route.agency is not None and route.agency.id in seen:
            results.append({"code": code, "result": "duplicate", "delivered_to": route.agency.code})
            continue
        if route.agency is not None:
            seen.add(route.agency.id)
            routes.append(route)
            results.append(
                {
                    "code": code,
                    "result": "accepted",
                    "delivered_to": route.agency.code,
                    "route": route.route,
                    "note": route.note_vi,
                    "note_en": route.note_en,
                }
            )
        else:
            results.append(
                {
                    "code": code,
                    "result": "refused",
                    "error": route.refused_code,
                    "message": route.refused_vi,
                    "message_en": route.refused_en,
                    "successor_codes": route.successors,
                }
            )
    return routes, results


def refuse_if_nothing_routed(routes: list[Route], results: list[dict[str, Any]]) -> None:
    if routes:
        return
    refused = [r for r in results if r["result"] == "refused"]
    if not refused:
        raise Invalid(
            "Gói tin không có cơ quan nhận.",
            "The package names no recipient.",
            code="no_valid_recipient",
            details={"recipients": results},
        )
    codes = {r["error"] for r in refused}
    first = refused[0]
    raise Invalid(
        first["message"]
        if len(results) == 1
        else "Không có cơ quan nhận nào hợp lệ; gói tin không được lưu.",
        first["message_en"]
        if len(results) == 1
        else "No recipient is valid; the package was not stored.",
        code=codes.pop() if len(codes) == 1 else "no_valid_recipient",
        details={"recipients": results},
    )
