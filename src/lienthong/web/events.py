"""Refusals worth the security monitoring's attention, told as the node's own events
(kernel/events.py) by every surface's error handler."""

from __future__ import annotations

from fastapi import Request

from lienthong.kernel.events import node_event
from lienthong.web.deps import client_address

# Refusals the security monitoring wants to see besides every 401 and 403: packages whose
# signature, certificate or sender does not hold, and throttled clients.
WATCHED_REFUSALS = frozenset(
    {
        "bad_signature",
        "bad_certificate",
        "untrusted_certificate",
        "certificate_expired",
        "certificate_revoked",
        "certificate_not_for_sender",
        "missing_certificate",
        "sender_mismatch",
        "sender_not_served_here",
        "signature_required",
        "weak_signature",
        "unsupported_signature",
        "signature_wrapping",
        "dtd_forbidden",
        "rate_limited",
        "signin_throttled",
    }
)


def tell_refusal(request: Request, status: int, code: str) -> None:
    """The node's own event for a refusal worth watching (kernel/events.py)."""
    if status not in (401, 403) and code not in WATCHED_REFUSALS:
        return
    principal = getattr(request.state, "principal", None)
    request.app.state.runtime.events.emit(
        node_event(
            action="package_refused" if status == 422 else "access_refused",
            category="authentication" if status == 401 else "web",
            outcome="failure",
            reason=code,
            source_ip=client_address(request),
            user_name=getattr(principal, "system_id", None) or getattr(principal, "name", None),
            fields={
                "url.path": request.url.path,
                "http.request.method": request.method,
                "http.response.status_code": status,
            },
        )
    )
