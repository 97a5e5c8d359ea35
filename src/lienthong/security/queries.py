"""Reads for the pages and the API that span the domain's tables."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lienthong.kernel.clock import utcnow
from lienthong.security.detection import RuleSet
from lienthong.security.models import SecurityAlert


def rule_report(session: Session, ruleset: RuleSet) -> dict[str, object]:
    """Each rule loaded, with the alerts it raised or counted on in the last day, and each
    failure with its reason."""
    since = utcnow() - timedelta(days=1)
    per_rule = dict(
        session.execute(
            select(SecurityAlert.rule_id, func.count())
            .where(SecurityAlert.last_seen >= since)
            .group_by(SecurityAlert.rule_id)
        ).all()
    )
    loaded = [
        {
            "id": r.id,
            "name": r.name,
            "title": r.title,
            "level": r.level,
            "tags": r.tags,
            "kind": "correlation" if r.correlation is not None else "rule",
            "alerts_last_day": int(per_rule.get(r.id, 0)),
        }
        for r in ruleset.rules
    ]
    failed = [{"path": f.path, "title": f.title, "reason": f.reason} for f in ruleset.failures]
    return {"loaded": loaded, "failed": failed}
