"""Citizen portal (catalogue, online filing, my dossiers, public look-up, payment) and the
one-stop officer's pages (queue, dossier, actions). Vietnamese first, usable on a phone."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from markupsafe import Markup
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as FormFile

from lienthong.accounts import service as accounts
from lienthong.accounts.deps import OptionalPrincipal, PagePrincipal, check_csrf
from lienthong.accounts.pages import pre_session_form, signed_in_redirect
from lienthong.accounts.service import Principal
from lienthong.kernel.errors import AppError, Conflict, Invalid, NotFound
from lienthong.onestop import (
    catalogue,
    fees,
    processing,
    queries,
    ratings,
    service,
    slips,
    supplements,
)
from lienthong.onestop.api import lookup_allowed
from lienthong.onestop.models import STATUS_LABELS, Dossier, DossierPaper, Payment, Procedure
from lienthong.registry.models import COMMUNE_LEVEL_KINDS, Agency, AgencyStatus
from lienthong.web.deps import DB, AppSettings, NodeRuntime, language
from lienthong.web.render import render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 20


def _ctx(request: Request, **values: Any) -> dict[str, Any]:
    i = 1 if language(request) == "en" else 0
    return {
        "status_label": lambda s: STATUS_LABELS[int(s)][i],
        "fields": {k: v[i] for k, v in catalogue.FIELDS.items()},
        "action_label": lambda a: processing.ACTION_LABELS[a][i],
        "vnd": lambda n: f"{n:,}".replace(",", ".") + " đ",
        "step_label": lambda role: STEP_LABELS.get(role, (role, role))[i],
        **values,
    }


def confirmation_needed(request: Request) -> str:
    """The message when an irreversible action's confirmation box was not ticked."""
    error = Invalid(
        "Đánh dấu ô xác nhận trước khi thực hiện thao tác không hoàn tác được.",
        "Tick the confirmation box before an action that cannot be undone.",
        code="confirmation_needed",
    )
    return str(error.message(language(request)))


STEP_LABELS = {
    "reception": (
        "Nộp hồ sơ; bộ phận một cửa kiểm tra, tiếp nhận và hẹn trả kết quả",
        "Filing; the one-stop desk checks, receives and gives an appointment",
    ),
    "processing": ("Chuyên viên thẩm định, xử lý hồ sơ", "An officer examines the dossier"),
    "approval": ("Lãnh đạo xem xét, phê duyệt", "A leader decides"),
    "return": ("Trả kết quả cho người nộp", "The result goes to the applicant"),
}
FORM_FIELDS = ("agency", "name", "kind", "id_number", "phone", "email", "address")


def _communes(db: DB) -> list[Agency]:
    return list(
        db.scalars(
            select(Agency)
            .where(
                Agency.status == AgencyStatus.ACTIVE.value,
                Agency.kind.in_([k.value for k in COMMUNE_LEVEL_KINDS]),
            )
            .order_by(Agency.search_text)
        )
    )


@router.get("/dich-vu-cong", response_class=HTMLResponse)
def catalogue_page(
    request: Request,
    db: DB,
    principal: OptionalPrincipal,  # the header's menu is the signed-in person's
    q: Annotated[str, Query(max_length=200)] = "",
    field: Annotated[str, Query(max_length=60)] = "",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    rows, total = catalogue.list_procedures(
        db, q=q, field=field or None, page=page, page_size=PAGE_SIZE
    )
    return render(
        request,
        "onestop/catalogue.html",
        _ctx(request, rows=rows, total=total, q=q, field=field, page=page, page_size=PAGE_SIZE),
    )


@router.get("/dich-vu-cong/thu-tuc/{code}", response_class=HTMLResponse)
def procedure_page(
    request: Request, code: str, db: DB, principal: OptionalPrincipal
) -> HTMLResponse:
    procedure = catalogue.get_procedure(db, code=code)
    agency = db.get(Agency, procedure.agency_id) if procedure.agency_id else None
    return render(request, "onestop/procedure.html", _ctx(request, p=procedure, agency=agency))


@router.get("/dich-vu-cong/nop/{code}", response_class=HTMLResponse)
def filing_page(
    request: Request, code: str, db: DB, principal: PagePrincipal, error: str | None = None
) -> HTMLResponse:
    procedure = catalogue.get_procedure(db, code=code)
    return render(
        request,
        "onestop/file.html",
        _ctx(request, p=procedure, communes=_communes(db), error=error, values={}),
    )


@router.post("/dich-vu-cong/nop/{code}")
async def filing_submit(
    request: Request, code: str, db: DB, runtime: NodeRuntime, principal: PagePrincipal
) -> Response:
    return await submit_filing(request, code, db, runtime, principal, channel="online")


async def submit_filing(
    request: Request,
    code: str,
    db: DB,
    runtime: NodeRuntime,
    principal: Principal,
    *,
    channel: str,
    officer_id: int | None = None,
    communes: list[Agency] | None = None,
) -> Response:
    """Files from the form online (the citizen) or at the counter (an officer for a citizen);
    on a refusal the form comes back with everything typed, the missing papers marked."""
    form = await request.form()
    check_csrf(request, principal, str(form.get("csrf_token", "")))
    procedure = catalogue.get_procedure(db, code=code)
    uploads = []
    for index, paper in enumerate(procedure.papers):
        item = form.get(f"paper_{index}")
        if isinstance(item, FormFile) and item.filename:
            uploads.append(service.Upload(paper["name"], item.filename, item.file))
    applicant = service.Applicant(
        name=str(form.get("name", "")),
        kind=str(form.get("kind", "person")),
        id_number=str(form.get("id_number", "")) or None,
        phone=str(form.get("phone", "")) or None,
        email=str(form.get("email", "")) or None,
        address=str(form.get("address", "")) or None,
    )
    filing = service.Filing(
        procedure_code=code,
        applicant=applicant,
        channel=channel,
        agency_code=str(form.get("agency", "")) or None,
        uploads=uploads,
        citizen_id=None if officer_id else principal.user_id,
    )

    def file() -> str:
        return service.file_dossier(
            db, settings=runtime.settings, blobs=runtime.blobs, filing=filing, officer_id=officer_id
        ).code

    try:
        dossier_code = await run_in_threadpool(file)
    except AppError as exc:
        db.rollback()
        return render(
            request,
            "onestop/file.html",
            _ctx(
                request,
                p=procedure,
                communes=_communes(db) if communes is None else communes,
                error=exc.message(language(request)),
                values={k: str(form.get(k, "")) for k in FORM_FIELDS},
                missing=set((exc.details or {}).get("missing", [])),
                counter=officer_id is not None,
            ),
            status_code=exc.status_code,
        )
    if officer_id is not None:
        return RedirectResponse(f"/mot-cua/ho-so/{dossier_code}?done=accept", status_code=303)
    return RedirectResponse(f"/dich-vu-cong/ho-so/{dossier_code}?nop=1", status_code=303)


def _owned(db: DB, code: str, principal: Principal) -> Dossier:
    """A dossier its applicant or an officer of its agency may open; others get not found."""
    dossier = service.get_dossier(db, code=code)
    agency = db.get_one(Agency, dossier.agency_id)
    if dossier.citizen_id == principal.user_id or agency.code in principal.agency_codes:
        return dossier
    raise NotFound(f"Không có hồ sơ {code}.", f"No dossier {code}.", code="unknown_dossier")


@router.get("/dich-vu-cong/ho-so", response_class=HTMLResponse)
def my_dossiers(
    request: Request,
    db: DB,
    principal: PagePrincipal,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    rows, total = queries.citizen_dossiers(
        db, citizen_id=principal.user_id or 0, page=page, page_size=PAGE_SIZE
    )
    names = queries.procedure_names(db, rows)
    return render(
        request,
        "onestop/mine.html",
        _ctx(request, rows=rows, total=total, page=page, page_size=PAGE_SIZE, names=names),
    )


@router.get("/dich-vu-cong/ho-so/{code}", response_class=HTMLResponse)
def dossier_page(
    request: Request, code: str, db: DB, principal: PagePrincipal, error: str | None = None
) -> HTMLResponse:
    dossier = _owned(db, code, principal)
    view = queries.public_view(db, dossier, language(request))
    payments = list(
        db.scalars(select(Payment).where(Payment.dossier_id == dossier.id).order_by(Payment.id))
    )
    return render(
        request,
        "onestop/dossier.html",
        _ctx(
            request,
            d=dossier,
            view=view,
            papers=queries.papers(db, dossier),
            payments=payments,
            officer=False,
            error=error,
            supplement=supplements.latest_request(db, dossier),
            rating=ratings.rating_of(db, dossier),
            rateable=dossier.status in ratings.RATEABLE,
            criteria={
                k: v[1 if language(request) == "en" else 0] for k, v in ratings.CRITERIA.items()
            },
            scale={k: v[1 if language(request) == "en" else 0] for k, v in ratings.SCALE.items()},
        ),
    )


def _receipt(db: DB, dossier: Dossier, settings: Any) -> slips.ReceiptSlip:
    procedure = db.get_one(Procedure, dossier.procedure_id)
    agency = db.get_one(Agency, dossier.agency_id)
    unit = {
        "working_days": "ngày làm việc",
        "working_hours": "giờ làm việc",
        "calendar_days": "ngày",
    }[procedure.duration_unit]
    amount = (
        int(procedure.duration)
        if procedure.duration == int(procedure.duration)
        else procedure.duration
    )
    return slips.ReceiptSlip(
        dossier_code=dossier.code,
        centre_name=agency.name,
        place="Quảng Ninh",
        applicant_name=dossier.applicant_name,
        applicant_address=dossier.applicant_address,
        applicant_phone=dossier.applicant_phone,
        applicant_email=dossier.applicant_email,
        applicant_id=dossier.applicant_id_number,
        procedure_name=procedure.name,
        fee_mode="Không thu phí"
        if not dossier.fee_vnd
        else ("Đã nộp" if dossier.payment_state == "paid" else "Thu trước"),
        papers=[slips.SlipPaper(p.name) for p in queries.papers(db, dossier) if p.kind == "paper"],
        processing_time=f"{amount} {unit}",
        received_at=dossier.received_at or dossier.created_at,
        due_at=dossier.due_at or dossier.created_at,  # the route refuses a dossier not received
        lookup_url=f"{settings.public_url}/tra-cuu?ma={dossier.code}",
        officer_name=None,
    )


@router.get("/dich-vu-cong/ho-so/{code}/phieu-tiep-nhan.pdf")
def receipt_pdf(code: str, db: DB, settings: AppSettings, principal: PagePrincipal) -> Response:
    dossier = _owned(db, code, principal)
    if dossier.received_at is None or dossier.due_at is None:
        raise Conflict(
            "Hồ sơ chưa được tiếp nhận: giấy tiếp nhận và hẹn trả kết quả có sau khi tiếp nhận.",
            "The dossier is not received yet: the receipt and appointment slip comes after.",
            code="not_received_yet",
        )
    return Response(
        slips.receipt_pdf(_receipt(db, dossier, settings)),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="phieu-tiep-nhan-{dossier.code}.pdf"'},
    )


@router.get("/dich-vu-cong/ho-so/{code}/bien-lai/{payment_id}.pdf")
def fee_receipt_pdf(
    code: str, payment_id: int, db: DB, settings: AppSettings, principal: PagePrincipal
) -> Response:
    """The electronic fee receipt of a paid payment."""
    dossier = _owned(db, code, principal)
    payment = db.get(Payment, payment_id)
    if payment is None or payment.dossier_id != dossier.id:
        raise NotFound("Không có giao dịch này.", "No such payment.", code="unknown_payment")
    if payment.state != "paid" or not payment.receipt_number:
        raise Conflict(
            "Giao dịch chưa thanh toán nên chưa có biên lai.",
            "The payment is not made, so there is no receipt.",
            code="receipt_not_issued",
        )
    procedure = db.get_one(Procedure, dossier.procedure_id)
    agency = db.get_one(Agency, dossier.agency_id)
    receipt = slips.FeeReceipt(
        number=payment.receipt_number,
        centre_name=agency.name,
        payer_name=dossier.applicant_name,
        payer_address=dossier.applicant_address,
        dossier_code=dossier.code,
        procedure_name=procedure.name,
        amount_vnd=payment.amount,
        paid_at=payment.updated_at,
        reference=payment.reference,
        transaction_id=payment.transaction_id,
        gateway=payment.gateway,
        lookup_url=f"{settings.public_url}/tra-cuu?ma={dossier.code}",
    )
    return Response(
        slips.fee_receipt_pdf(receipt),
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="bien-lai-{payment.receipt_number}.pdf"'
        },
    )


@router.get("/dich-vu-cong/ho-so/{code}/phieu-kiem-soat.pdf")
def control_pdf(code: str, db: DB, principal: PagePrincipal) -> Response:
    dossier = _owned(db, code, principal)
    procedure = db.get_one(Procedure, dossier.procedure_id)
    agency = db.get_one(Agency, dossier.agency_id)
    outcomes = {"early": "Trước hạn", "on_time": "Đúng hạn", "late": "Quá hạn"}
    slip = slips.ControlSlip(
        dossier_code=dossier.code,
        centre_name=agency.name,
        applicant_name=dossier.applicant_name,
        procedure_name=procedure.name,
        received_at=dossier.received_at or dossier.created_at,
        due_at=dossier.due_at or dossier.created_at,
        hops=[
            slips.ControlHop(h.from_unit, h.to_unit, h.at, outcomes.get(h.outcome or ""))
            for h in queries.hand_overs(db, dossier)
        ],
    )
    return Response(
        slips.control_pdf(slip),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="phieu-kiem-soat-{dossier.code}.pdf"'},
    )


@router.get("/dich-vu-cong/ho-so/{code}/giay-to/{paper_id}")
def paper_file(
    code: str, paper_id: int, db: DB, runtime: NodeRuntime, principal: PagePrincipal
) -> Response:
    dossier = _owned(db, code, principal)
    paper = db.get(DossierPaper, paper_id)
    if paper is None or paper.dossier_id != dossier.id or not paper.blob_sha256:
        raise NotFound("Không có giấy tờ này.", "No such paper.", code="unknown_paper")
    handle = runtime.blobs.open(paper.blob_sha256)
    return StreamingResponse(
        iter(lambda: handle.read(256 * 1024), b""),
        media_type=paper.content_type or "application/octet-stream",
    )


@router.post("/dich-vu-cong/ho-so/{code}/thanh-toan")
def pay(
    request: Request,
    code: str,
    db: DB,
    runtime: NodeRuntime,
    principal: PagePrincipal,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, principal, csrf_token)
    dossier = _owned(db, code, principal)
    payment = fees.start_payment(db, dossier=dossier, gateway=runtime.payments)
    return RedirectResponse(runtime.payments.checkout_url(payment), status_code=303)


@router.post("/dich-vu-cong/ho-so/{code}/vietqr")
def pay_by_vietqr(
    request: Request,
    code: str,
    db: DB,
    runtime: NodeRuntime,
    principal: PagePrincipal,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, principal, csrf_token)
    fees.start_payment(db, dossier=_owned(db, code, principal), gateway=runtime.payments)
    return RedirectResponse(f"/dich-vu-cong/ho-so/{code}/vietqr", status_code=303)


@router.get("/dich-vu-cong/ho-so/{code}/vietqr", response_class=HTMLResponse)
def vietqr_page(
    request: Request, code: str, db: DB, settings: AppSettings, principal: PagePrincipal
) -> Response:
    """The VietQR to scan with any banking app: the fee's amount and the payment's reference."""
    dossier = _owned(db, code, principal)
    payment = db.scalars(
        select(Payment).where(Payment.dossier_id == dossier.id, Payment.state == "pending")
    ).first()
    if payment is None:
        return RedirectResponse(f"/dich-vu-cong/ho-so/{code}", status_code=303)
    payload = fees.vietqr_payload(
        payment, bank_bin=settings.onestop_vietqr_bank_bin, account=settings.onestop_vietqr_account
    )
    return render(
        request,
        "onestop/vietqr.html",
        _ctx(
            request,
            d=dossier,
            payment=payment,
            payload=payload,
            qr=Markup(slips.qr_svg(payload)),  # noqa: S704 - reportlab's own SVG, no user text
            settings=settings,
        ),
    )


@router.post("/dich-vu-cong/ho-so/{code}/rut")
def withdraw(
    request: Request,
    code: str,
    db: DB,
    runtime: NodeRuntime,
    principal: PagePrincipal,
    csrf_token: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    check_csrf(request, principal, csrf_token)
    if confirm != "1":
        _owned(db, code, principal)
        return RedirectResponse(f"/dich-vu-cong/ho-so/{code}", status_code=303)
    processing.act(
        db,
        settings=runtime.settings,
        blobs=runtime.blobs,
        code=code,
        action="withdraw",
        officer=None,
        citizen_id=principal.user_id,
    )
    return RedirectResponse(f"/dich-vu-cong/ho-so/{code}", status_code=303)


@router.post("/dich-vu-cong/ho-so/{code}/bo-sung")
async def supply(
    request: Request,
    code: str,
    db: DB,
    runtime: NodeRuntime,
    principal: PagePrincipal,
    csrf_token: Annotated[str, Form()] = "",
    names: Annotated[list[str] | None, Form()] = None,
    files: Annotated[list[UploadFile] | None, File()] = None,
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """The applicant sends the papers a supplement request asked for."""
    check_csrf(request, principal, csrf_token)
    dossier = _owned(db, code, principal)
    uploads = [
        service.Upload(name, f.filename or "", f.file)
        for name, f in zip(names or [], files or [], strict=False)
        if f.filename
    ]

    def run() -> None:
        supplements.answer(
            db,
            settings=runtime.settings,
            blobs=runtime.blobs,
            dossier=dossier,
            citizen_id=principal.user_id,
            uploads=uploads,
            note=note,
        )

    try:
        await run_in_threadpool(run)
    except AppError as exc:
        db.rollback()
        if exc.status_code == 404:
            raise
        return dossier_page(request, code, db, principal, error=exc.message(language(request)))
    return RedirectResponse(f"/dich-vu-cong/ho-so/{code}?bo-sung=1", status_code=303)


@router.post("/dich-vu-cong/ho-so/{code}/danh-gia")
async def rate(request: Request, code: str, db: DB, principal: PagePrincipal) -> Response:
    """The applicant's satisfaction rating, once the result is out."""
    form = await request.form()
    check_csrf(request, principal, str(form.get("csrf_token", "")))
    dossier = _owned(db, code, principal)
    scores = {
        c: int(v) for c in ratings.CRITERIA if (v := str(form.get(f"score_{c}", ""))).isdigit()
    }
    try:
        ratings.rate(
            db,
            dossier=dossier,
            citizen_id=principal.user_id,
            scores=scores,
            comment=str(form.get("comment", ""))[:2000],
        )
    except AppError as exc:
        db.rollback()
        return dossier_page(request, code, db, principal, error=exc.message(language(request)))
    return RedirectResponse(f"/dich-vu-cong/ho-so/{code}?danh-gia=1", status_code=303)


@router.get("/thanh-toan/local/{reference}", response_class=HTMLResponse)
def gateway_page(request: Request, reference: str, db: DB) -> HTMLResponse:
    payment = db.scalars(select(Payment).where(Payment.reference == reference)).first()
    if payment is None:
        raise NotFound("Không có giao dịch này.", "No such payment.", code="unknown_payment")
    dossier = db.get_one(Dossier, payment.dossier_id)
    request.state.csrf_token = ""
    return render(request, "onestop/gateway.html", _ctx(request, payment=payment, d=dossier))


@router.post("/thanh-toan/local/{reference}")
def gateway_confirm(
    reference: str, db: DB, runtime: NodeRuntime, choice: Annotated[str, Form()] = "pay"
) -> Response:
    """The local gateway's own button: it signs its callback exactly as it would send it, and the
    node verifies it through the same path as the public callback endpoint."""
    payment = db.scalars(select(Payment).where(Payment.reference == reference)).first()
    if payment is None:
        raise NotFound("Không có giao dịch này.", "No such payment.", code="unknown_payment")
    gateway = runtime.payments
    assert isinstance(gateway, fees.LocalGateway)
    body = gateway.callback_body(payment, "paid" if choice == "pay" else "failed")
    callback = gateway.parse_callback(body, gateway.sign(body))
    fees.apply_callback(db, callback=callback)
    dossier = db.get_one(Dossier, payment.dossier_id)
    return RedirectResponse(
        f"/dich-vu-cong/ho-so/{dossier.code}?thanh-toan={payment.state}", status_code=303
    )


@router.get("/tra-cuu", response_class=HTMLResponse)
def lookup_page(
    request: Request,
    db: DB,
    runtime: NodeRuntime,
    principal: OptionalPrincipal,
    ma: Annotated[str, Query(max_length=64)] = "",
) -> HTMLResponse:
    view = None
    error = None
    status, headers = 200, None
    if ma.strip():
        try:
            lookup_allowed(request, runtime)
            view = queries.public_view(db, service.get_dossier(db, code=ma), language(request))
        except AppError as exc:
            error = exc.message(language(request))
            status, headers = exc.status_code, exc.headers
    response = render(
        request,
        "onestop/lookup.html",
        _ctx(request, ma=ma, view=view, error=error),
        status_code=status,
    )
    response.headers.update(headers or {})
    return response


@router.get("/dang-ky", response_class=HTMLResponse)
def signup_page(
    request: Request, principal: OptionalPrincipal, error: str | None = None
) -> Response:
    return pre_session_form(request, "onestop/signup.html", {"error": error})


@router.post("/dang-ky")
def signup(
    request: Request,
    db: DB,
    settings: AppSettings,
    username: Annotated[str, Form(max_length=80)],
    full_name: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=256)],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, None, csrf_token)
    try:
        user = accounts.create_user(
            db, username=username, full_name=full_name, password=password, grants=[]
        )
    except AppError as exc:
        db.rollback()
        return pre_session_form(
            request,
            "onestop/signup.html",
            {"error": exc.message(language(request))},
            exc.status_code,
        )
    token = accounts.open_session(db, user=user, hours=settings.session_hours)
    return signed_in_redirect("/dich-vu-cong", token, settings)
