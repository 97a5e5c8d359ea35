"""The clerk's API (Decree 30/2020): the registers (list, CSV, printable PDF), the agency's
notation, the seal and signature images of the signing step, and the PDF signatures found on
a document."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from lienthong.accounts.deps import CurrentPrincipal
from lienthong.exchange import copies, pdfcheck, pdfsign, register_book, registers, service, tsa
from lienthong.exchange.api import Clerk, PageNo, PageSize, Reader, readable_agencies
from lienthong.exchange.schemas import DocumentAnswer, PdfSignatures
from lienthong.kernel.clock import local_today
from lienthong.kernel.errors import TooLarge
from lienthong.registry import service as registry
from lienthong.registry.codes import PATTERN as AGENCY_CODE
from lienthong.web.deps import DB, IsoDate, NodeRuntime, Pk
from lienthong.web.openapi import SIGNED_IN, WITH_BODY, binary, errors, raw_body
from lienthong.web.render import csv_download

router = APIRouter(prefix="/api/v1", tags=["registers"])
tsa_router = APIRouter(tags=["time-stamping"])
Book = Literal["outgoing", "incoming"]
Year = Annotated[int | None, Query(ge=2000, le=2100)]
MAX_IMAGE_BYTES = 2 * 1024 * 1024


class RegisterLineOut(BaseModel):
    number: str = Field(
        description="The register's number: the document's (outgoing) or the arrival number (incoming)"
    )
    registered_at: Any
    document: int
    document_id: str
    code_number: str | None
    code_notation: str | None
    type_name: str | None
    subject: str | None
    promulgation_date: date | None
    signer_name: str | None
    sender_code: str
    sender_name: str
    recipients: list[str]
    pdf_state: Literal["green", "amber", "red"] | None


class RegisterPage(BaseModel):
    book: Book
    agency: str
    year: int
    items: list[RegisterLineOut]
    total: int
    page: int
    page_size: int
    next_number: str = Field(description="The number the outgoing register gives next")


class NotationIn(BaseModel):
    abbreviation: str = Field(min_length=1, max_length=30, pattern=r"^[^\s/,]+$")


class NotationOut(BaseModel):
    agency: str
    abbreviation: str
    example: str


class ImageSaved(BaseModel):
    agency: str
    kind: Literal["seal", "signature"]
    width: int
    height: int


def _filters(
    year: int | None, q: str | None, other: str | None, date_from: date | None, date_to: date | None
) -> register_book.Filter:
    return register_book.Filter(year or local_today().year, q, other, date_from, date_to)


def line_json(line: register_book.Line) -> dict[str, Any]:
    d = line.document
    return {
        "number": line.number,
        "registered_at": line.registered_at,
        "document": d.id,
        "document_id": d.document_id,
        "code_number": d.code_number,
        "code_notation": d.code_notation,
        "type_name": d.type_name,
        "subject": d.subject,
        "promulgation_date": d.promulgation_date,
        "signer_name": d.signer_name,
        "sender_code": line.sender.code,
        "sender_name": line.sender.name,
        "recipients": [r.code for r in line.recipients],
        "pdf_state": line.pdf_state,
    }


Q = Annotated[str | None, Query(max_length=200, description="In the subject or number/notation")]
Other = Annotated[
    str | None,
    Query(pattern=AGENCY_CODE, description="The sender (incoming) or a recipient (outgoing)"),
]
From = Annotated[IsoDate | None, Query(alias="from")]
To = Annotated[IsoDate | None, Query(alias="to")]


@router.get("/registers/{book}", response_model=RegisterPage, responses=SIGNED_IN)
def list_register(
    book: Book,
    db: DB,
    acting: Reader,
    year: Year = None,
    q: Q = None,
    other: Other = None,
    date_from: From = None,
    date_to: To = None,
    page: PageNo = 1,
    page_size: PageSize = 50,
) -> dict[str, Any]:
    """One page of the agency's register for a year, in register order."""
    agency = registry.get_agency(db, code=acting.agency_code)
    filters = _filters(year, q, other, date_from, date_to)
    found, total = register_book.lines(
        db, agency=agency, book=book, filters=filters, page=page, page_size=page_size
    )
    upcoming = registers.last_number(db, agency=agency, year=filters.year) + 1
    return {
        "book": book,
        "agency": agency.code,
        "year": filters.year,
        "items": [line_json(line) for line in found],
        "total": total,
        "page": page,
        "page_size": page_size,
        "next_number": registers.format_number(upcoming),
    }


@router.get(
    "/registers/{book}/export.csv",
    response_class=StreamingResponse,
    responses={**binary("text/csv", "The register as CSV (UTF-8 with BOM)"), **SIGNED_IN},
)
def export_register(
    book: Book,
    db: DB,
    acting: Reader,
    year: Year = None,
    q: Q = None,
    other: Other = None,
    date_from: From = None,
    date_to: To = None,
) -> Response:
    agency = registry.get_agency(db, code=acting.agency_code)
    filters = _filters(year, q, other, date_from, date_to)
    body = list(
        register_book.csv_chunks(
            book, register_book.all_lines(db, agency=agency, book=book, filters=filters)
        )
    )
    name = f"so-{'di' if book == 'outgoing' else 'den'}-{filters.year}-{agency.code}.csv"
    return csv_download(iter(body), name)


@router.get(
    "/registers/{book}/register.pdf",
    response_class=Response,
    responses={**binary("application/pdf", "The printable register (Phụ lục IV)"), **SIGNED_IN},
)
def print_register(
    book: Book,
    db: DB,
    acting: Reader,
    year: Year = None,
    q: Q = None,
    other: Other = None,
    date_from: From = None,
    date_to: To = None,
) -> Response:
    agency = registry.get_agency(db, code=acting.agency_code)
    filters = _filters(year, q, other, date_from, date_to)
    pdf = register_book.register_pdf(
        agency,
        book,
        filters.year,
        register_book.all_lines(db, agency=agency, book=book, filters=filters),
    )
    name = f"so-{'di' if book == 'outgoing' else 'den'}-{filters.year}-{agency.code}.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )


@router.put(
    "/registers/notation", response_model=NotationOut, responses={**SIGNED_IN, **errors(404)}
)
def put_notation(body: NotationIn, db: DB, acting: Clerk) -> dict[str, Any]:
    """The abbreviation the agency writes in its notations (07/QĐ-<this>)."""
    agency = registry.get_agency(db, code=acting.agency_code)
    registers.set_abbreviation(db, agency=agency, value=body.abbreviation)
    db.commit()
    return {
        "agency": agency.code,
        "abbreviation": registers.abbreviation(db, agency=agency),
        "example": "07/" + registers.notation(db, agency=agency, type_name="Quyết định"),
    }


IMAGE = raw_body("image/png", "A PNG with a transparent background")


async def _image_body(request: Request) -> bytes:
    data = b""
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_IMAGE_BYTES:
            raise TooLarge(
                "Ảnh lớn hơn 2 MB.", "The image is larger than 2 MB.", code="image_too_large"
            )
    return data


@router.put(
    "/signing/seal",
    response_model=ImageSaved,
    responses={**SIGNED_IN, **WITH_BODY},
    openapi_extra=IMAGE,
)
async def put_seal(request: Request, runtime: NodeRuntime, acting: Clerk) -> dict[str, Any]:
    """The agency's seal image (red, real size, transparent PNG) used by the signing step."""
    data = await _image_body(request)
    image = pdfsign.check_image(data, what="con dấu")
    pdfsign.save_image(runtime, data, agency_code=acting.agency_code)
    return {
        "agency": acting.agency_code,
        "kind": "seal",
        "width": image.width,
        "height": image.height,
    }


@router.put(
    "/signing/signature",
    response_model=ImageSaved,
    responses={**SIGNED_IN, **WITH_BODY},
    openapi_extra=IMAGE,
)
async def put_signature(
    request: Request,
    runtime: NodeRuntime,
    acting: Clerk,
    name: Annotated[str, Query(min_length=1, max_length=100)],
    title: Annotated[str, Query(max_length=100)] = "",
) -> dict[str, Any]:
    """A signing person's handwritten signature image (blue, transparent PNG)."""
    data = await _image_body(request)
    image = pdfsign.check_image(data, what="chữ ký")
    person = pdfsign.Person(name.strip(), title.strip(), acting.agency_code)
    pdfsign.save_image(runtime, data, agency_code=acting.agency_code, person=person)
    return {
        "agency": acting.agency_code,
        "kind": "signature",
        "width": image.width,
        "height": image.height,
    }


@router.get(
    "/documents/{document_pk}/signatures",
    response_model=PdfSignatures,
    responses={**SIGNED_IN, **errors(404)},
)
def document_signatures(document_pk: Pk, db: DB, principal: CurrentPrincipal) -> dict[str, Any]:
    """The signatures found on the document's PDFs at intake, and the verdict on each."""
    document, _ = service.visible_document(
        db, document_pk=document_pk, agency_codes=readable_agencies(principal)
    )
    return pdfcheck.summary(pdfcheck.checks_of(db, [document.id])[document.id])


class CopyIn(BaseModel):
    form: Literal["SAO Y", "TRÍCH SAO", "SAO LỤC"]
    recipients: list[Annotated[str, Field(pattern=AGENCY_CODE)]] = Field(
        min_length=1, max_length=200
    )
    attachment: int = Field(default=0, ge=0, le=10_000, description="The file's position")


@router.post(
    "/documents/{document_pk}/copies",
    response_model=DocumentAnswer,
    status_code=202,
    responses={**SIGNED_IN, **errors(404, 409)},
)
def copy_document(
    document_pk: Pk, body: CopyIn, db: DB, runtime: NodeRuntime, acting: Clerk
) -> dict[str, Any]:
    """An electronic copy (SAO Y, TRÍCH SAO, SAO LỤC) of one of the document's PDFs, signed by
    the clerk's agency, numbered from its outgoing register and sent to `recipients`."""
    answer = copies.make_copy(
        db,
        runtime,
        document_pk=document_pk,
        agency_code=acting.agency_code,
        form=body.form,
        recipients=body.recipients,
        position=body.attachment,
    )
    db.commit()
    return answer


MAX_TSA_QUERY = 64 * 1024


@tsa_router.post(
    "/tsa",
    response_class=Response,
    responses={
        **binary(tsa.TIMESTAMP_REPLY, "A TimeStampResp (RFC 3161), DER"),
        **SIGNED_IN,
        **WITH_BODY,
        **errors(400, 503),
    },
    openapi_extra=raw_body(tsa.TIMESTAMP_QUERY, "A TimeStampReq (RFC 3161), DER"),
)
async def time_stamp(
    request: Request, runtime: NodeRuntime, principal: CurrentPrincipal
) -> Response:
    """The node's time-stamping authority, for the node's agencies and their software."""
    data = b""
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_TSA_QUERY:
            raise TooLarge(
                "Yêu cầu dấu thời gian quá lớn.",
                "The time-stamp request is too large.",
                code="tsa_request_too_large",
            )
    return Response(tsa.respond(runtime, data), media_type=tsa.TIMESTAMP_REPLY)
