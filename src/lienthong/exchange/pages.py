"""Clerk pages: inbox, document view with status actions, composer, sent documents."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from lienthong.accounts.deps import (
    Acting,
    PagePrincipal,
    check_csrf,
    choose_agency,
    page_acting_for,
)
from lienthong.accounts.models import Role
from lienthong.exchange import (
    answers,
    compose,
    copies,
    pdfcheck,
    register_book,
    registers,
    service,
    validation,
)
from lienthong.exchange import statuses as sc
from lienthong.exchange.api import check_status_role, readable_agencies
from lienthong.exchange.spool import chunks as read_chunks
from lienthong.kernel.clock import local_today
from lienthong.kernel.errors import AppError
from lienthong.registry import service as registry
from lienthong.registry.models import COMMUNE_LEVEL_KINDS, Agency, AgencyStatus
from lienthong.web.deps import DB, NodeRuntime, language
from lienthong.web.render import render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25
PageReader = Annotated[Acting, Depends(page_acting_for(Role.CLERK, Role.LEADER))]
PageClerk = Annotated[Acting, Depends(page_acting_for(Role.CLERK))]
PRIORITIES = {
    0: ("Thường", "Normal"),
    1: ("Khẩn", "Urgent"),
    2: ("Thượng khẩn", "Very urgent"),
    3: ("Hỏa tốc", "Immediate"),
    4: ("Hỏa tốc hẹn giờ", "Immediate, timed"),
}


def _context(request: Request, **values: Any) -> dict[str, Any]:
    lang = language(request)
    return {
        "priorities": {k: v[1] if lang == "en" else v[0] for k, v in PRIORITIES.items()},
        "status_label": lambda code: sc.label(code, lang),
        **values,
    }


@router.get("/documents", response_class=HTMLResponse)
def inbox_page(
    request: Request,
    db: DB,
    acting: PageReader,
    status: str = "",
    priority: str = "",
    unread: str = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    owner = registry.get_agency(db, code=acting.agency_code)
    filters = service.InboxFilter(
        status=status if status in sc.STATUS_CODES else None,
        priority=int(priority) if priority.isdigit() else None,
        unread=True if unread == "1" else None,
    )
    rows, total = service.inbox(db, agency=owner, filters=filters, page=page, page_size=PAGE_SIZE)
    return render(
        request,
        "exchange/inbox.html",
        _context(
            request,
            owner=owner,
            rows=rows,
            total=total,
            page=page,
            page_size=PAGE_SIZE,
            status=status,
            priority=priority,
            unread=unread,
            codes=sc.STATUS_CODES,
            unread_count=service.count_unread(db, agency=owner),
        ),
    )


@router.get("/documents/sent", response_class=HTMLResponse)
def sent_page(
    request: Request,
    db: DB,
    acting: PageReader,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    owner = registry.get_agency(db, code=acting.agency_code)
    rows, total = service.sent(db, agency=owner, page=page, page_size=PAGE_SIZE)
    return render(
        request,
        "exchange/sent.html",
        _context(request, owner=owner, rows=rows, total=total, page=page, page_size=PAGE_SIZE),
    )


@router.get("/registers", response_class=HTMLResponse)
def registers_page(
    request: Request,
    db: DB,
    acting: PageReader,
    book: Annotated[str, Query(pattern="^(outgoing|incoming)$")] = "outgoing",
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """The agency's outgoing or incoming register for a year (Phụ lục IV)."""
    owner = registry.get_agency(db, code=acting.agency_code)
    filters = register_book.Filter(year or local_today().year, q.strip() or None)
    lines, total = register_book.lines(
        db, agency=owner, book=book, filters=filters, page=page, page_size=PAGE_SIZE
    )
    return render(
        request,
        "exchange/registers.html",
        _context(
            request,
            owner=owner,
            book=book,
            year=filters.year,
            q=q,
            lines=lines,
            total=total,
            page=page,
            page_size=PAGE_SIZE,
            shown_number=register_book.shown_number,
            unread_count=service.count_unread(db, agency=owner),
        ),
    )


def _recipient_choices(db: DB, settings_node: str) -> list[tuple[str, list[Agency]]]:
    agencies = db.scalars(
        select(Agency)
        .where(Agency.status == AgencyStatus.ACTIVE.value)
        .order_by(Agency.level, Agency.code)
    ).all()
    groups: dict[str, list[Agency]] = {
        "Cơ quan cấp tỉnh": [],
        "Xã, phường, đặc khu": [],
        "Bộ, ngành, tỉnh khác": [],
    }
    for a in agencies:
        if a.serving_node != settings_node:
            groups["Bộ, ngành, tỉnh khác"].append(a)
        elif a.kind in {k.value for k in COMMUNE_LEVEL_KINDS}:
            groups["Xã, phường, đặc khu"].append(a)
        else:
            groups["Cơ quan cấp tỉnh"].append(a)
    return list(groups.items())


@router.get("/documents/new", response_class=HTMLResponse)
def compose_page(
    request: Request,
    db: DB,
    runtime: NodeRuntime,
    acting: PageClerk,
    error: str | None = None,
) -> HTMLResponse:
    owner = registry.get_agency(db, code=acting.agency_code)
    return render(
        request,
        "exchange/compose.html",
        _compose_context(request, db, runtime, owner=owner, error=error),
    )


def _compose_context(
    request: Request, db: DB, runtime: NodeRuntime, *, owner: Agency, **values: Any
) -> dict[str, Any]:
    year = local_today().year
    upcoming = registers.format_number(registers.last_number(db, agency=owner, year=year) + 1)
    return _context(
        request,
        owner=owner,
        groups=_recipient_choices(db, runtime.settings.node_code),
        type_names=list(registers.TYPE_ABBREVIATIONS),
        next_example=f"{upcoming}/{registers.notation(db, agency=owner, type_name='Công văn')}",
        **values,
    )


@router.post("/documents/new")
async def compose_submit(
    request: Request,
    db: DB,
    runtime: NodeRuntime,
    principal: PagePrincipal,
    csrf_token: Annotated[str, Form()] = "",
    recipients: Annotated[list[str] | None, Form()] = None,
    subject: Annotated[str, Form(max_length=2000)] = "",
    type_name: Annotated[str, Form(max_length=100)] = "Công văn",
    drafting_unit: Annotated[str, Form(max_length=20)] = "",
    priority: Annotated[int, Form(ge=0, le=4)] = 0,
    due_date: Annotated[str, Form(max_length=10)] = "",
    signer: Annotated[str, Form(max_length=200)] = "",
    signer_title: Annotated[str, Form(max_length=100)] = "",
    competence: Annotated[str, Form(max_length=8)] = "",
    sign_pdfs: Annotated[str, Form(max_length=1)] = "",
    agency: Annotated[str | None, Form()] = None,
    files: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    check_csrf(request, principal, csrf_token)
    code = choose_agency(principal, (Role.CLERK,), software=False, requested=agency).agency_code
    draft = compose.Draft(
        recipients=recipients or [],
        subject=subject,
        type_name=type_name or "Công văn",
        drafting_unit=drafting_unit.strip() or None,
        priority=priority,
        due_date=date.fromisoformat(due_date) if due_date else None,
        signer=signer.strip() or None,
        signer_title=signer_title.strip() or None,
        competence=competence.strip(),
        sign_pdfs=sign_pdfs == "1",
        uploads=[
            compose.Upload(f.filename or "tep.pdf", f.file) for f in files or [] if f.filename
        ],
    )

    try:
        answer = await run_in_threadpool(
            lambda: compose.send(db, runtime, sender_code=code, draft=draft)
        )
    except AppError as exc:
        db.rollback()
        owner = registry.get_agency(db, code=code)
        return render(
            request,
            "exchange/compose.html",
            _compose_context(
                request, db, runtime, owner=owner, error=exc.message(language(request)), draft=draft
            ),
            status_code=exc.status_code,
        )
    return RedirectResponse(f"/documents/{answer['id']}?sent=1", status_code=303)


@router.get("/documents/{document_pk}", response_class=HTMLResponse)
def document_page(
    request: Request, document_pk: int, db: DB, principal: PagePrincipal
) -> HTMLResponse:
    document, delivery = service.visible_document(
        db, document_pk=document_pk, agency_codes=readable_agencies(principal)
    )
    sender = db.get_one(Agency, document.sender_id)
    if delivery is not None:
        service.mark_read(delivery)
        deliveries = [(delivery, db.get_one(Agency, delivery.recipient_id))]
    else:
        deliveries = service.deliveries_of(db, document)
    histories = service.history(db, [d.id for d, _ in deliveries])
    actions: list[str] = []
    if delivery is not None and delivery.state == "delivered":
        recipient_code = deliveries[0][1].code
        actions = sorted(sc.RECIPIENT_NEXT.get(delivery.status_code, frozenset()))
        if delivery.pending_request == sc.RECALL_REQUESTED:
            actions += [sc.REQUEST_AGREED, sc.REQUEST_REFUSED]
        if not principal.has_role(Role.CLERK, recipient_code):  # a leader assigns, only
            actions = [a for a in actions if a == sc.ASSIGNED]
    return render(
        request,
        "exchange/document.html",
        _context(
            request,
            document=document,
            sender=sender,
            delivery=delivery,
            deliveries=deliveries,
            histories=histories,
            attachments=service.attachments(db, document),
            pdf_checks=pdfcheck.checks_of(db, [document.id])[document.id],
            may_copy=any(principal.has_role(Role.CLERK, a.code) for _, a in deliveries)
            or principal.has_role(Role.CLERK, sender.code),
            copy_forms=list(copies.FORMS),
            actions=actions,
            is_sender=delivery is None,
            may_recall=delivery is None and principal.has_role(Role.CLERK, sender.code),
            agencies={
                a.id: a
                for a in db.scalars(
                    select(Agency).where(
                        Agency.id.in_(
                            {
                                s.by_agency_id
                                for rows in histories.values()
                                for s in rows
                                if s.by_agency_id
                            }
                        )
                    )
                )
            },
        ),
    )


@router.post("/documents/{document_pk}/status")
def status_submit(
    request: Request,
    document_pk: int,
    db: DB,
    runtime: NodeRuntime,
    principal: PagePrincipal,
    code: Annotated[str, Form(max_length=2)],
    csrf_token: Annotated[str, Form()] = "",
    description: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    check_csrf(request, principal, csrf_token)
    document, delivery = service.visible_document(
        db, document_pk=document_pk, agency_codes=readable_agencies(principal)
    )
    actor = (
        db.get_one(Agency, delivery.recipient_id).code
        if delivery is not None
        else db.get_one(Agency, document.sender_id).code
    )
    check_status_role(
        choose_agency(principal, (Role.CLERK, Role.LEADER), software=False, requested=actor), code
    )
    answers.post_status(
        db,
        runtime=runtime,
        document_pk=document.id,
        agency_code=actor,
        code=code,
        description=description.strip() or None,
    )
    return RedirectResponse(f"/documents/{document.id}", status_code=303)


@router.post("/documents/{document_pk}/copy")
def copy_submit(
    request: Request,
    document_pk: int,
    db: DB,
    runtime: NodeRuntime,
    principal: PagePrincipal,
    form: Annotated[str, Form(max_length=20)],
    recipient: Annotated[str, Form(max_length=64)],
    csrf_token: Annotated[str, Form()] = "",
    agency: Annotated[str | None, Form()] = None,
) -> Response:
    """An electronic copy of the document's first PDF, signed by the clerk's agency and sent."""
    check_csrf(request, principal, csrf_token)
    code = choose_agency(principal, (Role.CLERK,), software=False, requested=agency).agency_code
    answer = copies.make_copy(
        db,
        runtime,
        document_pk=document_pk,
        agency_code=code,
        form=form,
        recipients=[recipient.strip()],
    )
    return RedirectResponse(f"/documents/{answer['id']}?sent=1", status_code=303)


@router.get("/edxml/validate", response_class=HTMLResponse)
def checker_page(request: Request) -> HTMLResponse:
    return render(request, "exchange/validate.html", {"report": None})


@router.post("/edxml/validate", response_class=HTMLResponse)
async def checker_submit(
    request: Request, runtime: NodeRuntime, package: Annotated[UploadFile, File()]
) -> HTMLResponse:
    """For vendors: what is wrong with a package, without storing anything (no sign-in needed)."""

    def check() -> dict[str, Any]:
        return validation.validate(runtime, read_chunks(package.file))

    report = await run_in_threadpool(check)
    return render(
        request, "exchange/validate.html", {"report": report, "filename": package.filename}
    )
