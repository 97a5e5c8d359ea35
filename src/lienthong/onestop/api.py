"""JSON API of the one-stop services: catalogue, public look-up, KPIs and payment callbacks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from lienthong.kernel.clock import local_today
from lienthong.kernel.errors import Invalid, TooManyRequests, wait_text
from lienthong.kernel.ratelimit import Rule
from lienthong.onestop import catalogue, fees, kpis, queries, service
from lienthong.onestop.fees import SIGNATURE_HEADER
from lienthong.onestop.schemas import (
    KpiReport,
    PaymentAnswer,
    ProcedureOut,
    ProcedurePage,
    PublicDossier,
)
from lienthong.registry import service as registry
from lienthong.registry.codes import PATTERN as AGENCY_CODE
from lienthong.runtime import Runtime
from lienthong.web.deps import DB, PRINTABLE, IsoDate, Lang, NodeRuntime, client_address
from lienthong.web.openapi import WITH_BODY, errors, raw_body

# A dossier's code: its agency's code, the day, a number (service.CODE_PATTERN).
DOSSIER_CODE = AGENCY_CODE.removesuffix("$") + r"-[0-9]{6}-[0-9]{4,6}$"

router = APIRouter(prefix="/api/v1/onestop", tags=["one-stop services"])


def lookup_allowed(request: Request, runtime: Runtime) -> None:
    """Look-ups are public; a limit per client address keeps anyone from walking the code
    space. Counted in the shared store, so every API process sees the same numbers."""
    rule = Rule("onestop.lookup", f"{runtime.settings.onestop_lookup_per_minute}/minute")
    decision = runtime.limiter.hit(rule, client_address(request))
    if not decision.allowed:
        raise TooManyRequests(
            f"Tra cứu quá nhiều lần; thử lại sau {wait_text(decision.retry_after, 'vi')}.",
            f"Too many look-ups; try again in {wait_text(decision.retry_after, 'en')}.",
            retry_after=decision.retry_after,
        )


def procedure_json(p: Any) -> dict[str, Any]:
    return {
        "code": p.code,
        "national_code": p.national_code,
        "name": p.name,
        "field": p.field,
        "field_name": catalogue.FIELDS.get(p.field, (p.field,))[0],
        "level": p.level,
        "online_level": p.online_level,
        "duration": p.duration,
        "duration_unit": p.duration_unit,
        "fee_vnd": p.fee_vnd,
        "fee_note": p.fee_note,
        "papers": p.papers,
        "steps": p.steps,
    }


@router.get("/procedures", response_model=ProcedurePage)
def list_procedures(
    db: DB,
    q: Annotated[str | None, Query(max_length=200, pattern=PRINTABLE)] = None,
    field: Annotated[str | None, Query(max_length=60, pattern=PRINTABLE)] = None,
    online_level: Annotated[str | None, Query(max_length=16, pattern=PRINTABLE)] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 20,
) -> dict[str, Any]:
    rows, total = catalogue.list_procedures(
        db, q=q, field=field, online_level=online_level, page=page, page_size=page_size
    )
    return {
        "items": [procedure_json(p) for p in rows],
        "total": total,
        "page": page,
        "page_size": page_size,
    }


@router.get("/procedures/{code}", response_model=ProcedureOut, responses=errors(404))
def get_procedure(code: Annotated[str, Path(max_length=80)], db: DB) -> dict[str, Any]:
    return procedure_json(catalogue.get_procedure(db, code=code))


@router.get("/lookup/{code}", response_model=PublicDossier, responses=errors(404, 429))
def lookup(
    code: Annotated[str, Path(pattern=DOSSIER_CODE, description="e.g. 000.00.84.H49-251203-0001")],
    request: Request,
    db: DB,
    runtime: NodeRuntime,
    lang: Lang,
) -> dict[str, Any]:
    """Status and timeline by dossier code; no personal data. Rate-limited per client."""
    lookup_allowed(request, runtime)
    return queries.public_view(db, service.get_dossier(db, code=code), lang)


@router.get("/kpis", response_model=KpiReport, responses=errors(404))
def kpi_report(
    db: DB,
    agency: Annotated[str | None, Query(pattern=AGENCY_CODE)] = None,
    date_from: Annotated[IsoDate | None, Query(alias="from")] = None,
    date_to: Annotated[IsoDate | None, Query(alias="to")] = None,
) -> dict[str, Any]:
    end = date_to or local_today()
    start = date_from or end.replace(month=1, day=1)
    if start > end:
        raise Invalid(
            "'from' phải trước 'to'.", "'from' must not be after 'to'.", code="invalid_period"
        )
    agencies = None
    if agency:
        found = registry.get_agency(db, code=agency)
        agencies = [found.id]
    out = kpis.report(db, agency_ids=agencies, date_from=start, date_to=end)
    out["agency"] = agency
    return out


@router.post(
    "/payments/callback",
    response_model=PaymentAnswer,
    responses={**WITH_BODY, **errors(400, 401, 404, 409)},
    openapi_extra=raw_body("application/json", "The gateway's signed callback"),
)
async def payment_callback(request: Request, db: DB, runtime: NodeRuntime) -> dict[str, Any]:
    """Called by the payment gateway; trusted only when its signature verifies."""
    body = await request.body()
    if len(body) > 16 * 1024:
        raise Invalid("Thông báo quá lớn.", "Callback body too large.", code="malformed_callback")
    callback = runtime.payments.parse_callback(body, request.headers.get(SIGNATURE_HEADER))
    payment, changed = fees.apply_callback(db, callback=callback)
    return {"reference": payment.reference, "state": payment.state, "changed": changed}


@router.post(
    "/payments/vietqr",
    response_model=PaymentAnswer,
    responses={**WITH_BODY, **errors(400, 401, 404, 409)},
    openapi_extra=raw_body(
        "application/json",
        'The bank\'s signed transfer notification {"content", "amount", "transaction_id"}',
    ),
)
async def vietqr_transfer(request: Request, db: DB, runtime: NodeRuntime) -> dict[str, Any]:
    """A transfer paid by scanning the dossier's VietQR: matched to its payment by the reference
    in the transfer's content and by the amount; trusted only when its signature verifies."""
    body = await request.body()
    if len(body) > 16 * 1024:
        raise Invalid("Thông báo quá lớn.", "Callback body too large.", code="malformed_callback")
    fees.verify(runtime.payments, body, request.headers.get(SIGNATURE_HEADER))
    payment, changed = fees.apply_callback(db, callback=fees.transfer_callback(body))
    return {"reference": payment.reference, "state": payment.state, "changed": changed}
