"""The demo's network: a link for every active unit the node serves (the province's real units
from the registry) with generated records flagged illustrative, probed on loopback addresses
(127.10.x.y, which Linux answers) so that the demo's boards show figures from real probes; and
a video endpoint per commune-level unit, listed as planned (nothing answers SIP on loopback)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lienthong.netmon import inventory
from lienthong.netmon.models import PLANNED, NetLink
from lienthong.registry.models import COMMUNE_LEVEL_KINDS, Agency, AgencyStatus

PROVIDERS = ("VNPT", "Viettel")


def seed_network(session: Session, *, node_code: str, province_code: str, interval: int) -> int:
    """Links and endpoints for the demo; nothing when links exist already. The links made."""
    if session.scalar(select(func.count()).select_from(NetLink)):
        return 0
    province = session.scalars(select(Agency).where(Agency.code == province_code)).first()
    units = session.scalars(
        select(Agency)
        .where(Agency.status == AgencyStatus.ACTIVE.value, Agency.serving_node == node_code)
        .order_by(Agency.code)
    ).all()
    communes = {k.value for k in COMMUNE_LEVEL_KINDS}
    for i, unit in enumerate(units):
        address = f"127.10.{i // 250}.{i % 250 + 1}"
        inventory.save_link(
            session,
            values={
                "site_id": unit.id,
                "provider": PROVIDERS[i % 2],
                "circuit_id": f"DEMO-{unit.code}",
                "bandwidth_mbps": 20 if unit.kind in communes else 100,
                "addresses": [address],
                "upstream_site_id": province.id if province and unit.id != province.id else None,
                "state": "in_service",
                "illustrative": True,
            },
            interval=interval,
        )
        if unit.kind in communes:
            inventory.save_endpoint(
                session,
                values={
                    "site_id": unit.id,
                    "room": "Phòng họp trực tuyến",
                    "model": "(minh họa)",
                    "protocol": "sip",
                    "address": f"sip:phonghop@{address}:5060",
                    "state": PLANNED,
                    "illustrative": True,
                },
                interval=interval,
            )
    return len(units)
