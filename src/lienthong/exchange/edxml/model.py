"""Document and status packages as values. Field names follow the edXML element names."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from lienthong.kernel.blobs import BlobRef


@dataclass
class Node:
    """An element kept as it came, for elements the model does not name (kept, not dropped)."""

    name: str
    attrs: dict[str, str] = field(default_factory=dict)
    text: str = ""
    children: list[Node] = field(default_factory=list)
    blob: BlobRef | None = None  # an attachment's content, decoded where it stood

    def child(self, name: str) -> Node | None:
        return next((c for c in self.children if c.name == name), None)

    def all(self, name: str) -> list[Node]:
        return [c for c in self.children if c.name == name]

    def value(self, name: str) -> str | None:
        found = self.child(name)
        return found.text.strip() if found is not None else None


@dataclass
class Organization:
    organ_id: str = ""
    organ_name: str | None = None
    organization_in_charge: str | None = None
    organ_add: str | None = None
    email: str | None = None
    telephone: str | None = None
    fax: str | None = None
    website: str | None = None


@dataclass
class ResponseFor:
    organ_id: str | None = None
    code: str | None = None
    promulgation_date: str | None = None
    document_id: str | None = None


@dataclass
class StaffInfo:
    department: str | None = None
    staff: str | None = None
    email: str | None = None
    mobile: str | None = None


@dataclass
class TraceHeader:
    organ_id: str
    timestamp: str | None = None


@dataclass
class Receiver:
    organ_id: str
    receiver_type: int  # 0 removed from the recipients, 1 added


@dataclass
class ReplacementInfo:
    document_id: str
    organ_ids: list[str] = field(default_factory=list)


@dataclass
class Business:
    doc_type: int = 0  # 0 new, 1 recall, 2 update, 3 replace
    reason: str | None = None
    paper: str | None = None
    document_id: str | None = None
    document_info: str | None = None
    document_receiver: str | None = None
    receivers: list[Receiver] = field(default_factory=list)
    replacements: list[ReplacementInfo] = field(default_factory=list)
    staff: StaffInfo | None = None
    extra: list[Node] = field(default_factory=list)


@dataclass
class ManifestEntry:
    content_id: str
    content_type: str | None = None
    description: str | None = None
    attachment_name: str | None = None


@dataclass
class Attachment:
    content_id: str
    attachment_name: str | None = None
    description: str | None = None
    content_type: str | None = None
    blob: BlobRef | None = None


@dataclass
class SignatureInfo:
    """What the package's XML-DSig says; `verified` is set by the verifier."""

    canonicalization: str
    signature_method: str
    digest_method: str
    transforms: list[str]
    digest_value: str
    signature_value: str
    certificates: list[bytes]  # DER, leaf first
    namespace: str | None
    computed_digest: str | None = None
    reference_uris: list[str | None] = field(default_factory=list)  # one per Reference


@dataclass
class DocumentPackage:
    from_: Organization
    to: list[Organization]
    document_id: str
    code_number: str | None = None
    code_notation: str | None = None
    place: str | None = None
    promulgation_date: date | None = None
    promulgation_date_raw: str | None = None
    type: str | None = None
    type_detail: str | None = None
    type_name: str | None = None
    subject: str | None = None
    content: str | None = None
    signer_competence: str | None = None
    signer_position: str | None = None
    signer_full_name: str | None = None
    due_date: date | None = None
    due_date_raw: str | None = None
    to_places: list[str] = field(default_factory=list)
    priority: int = 0
    sphere_of_promulgation: str | None = None
    typer_notation: str | None = None
    promulgation_amount: str | None = None
    page_amount: str | None = None
    direction: str | None = None
    appendixes: list[str] = field(default_factory=list)
    other_info_extra: list[Node] = field(default_factory=list)
    response_for: list[ResponseFor] = field(default_factory=list)
    steering_type: str | None = None
    traces: list[TraceHeader] = field(default_factory=list)
    business: Business = field(default_factory=Business)
    manifest: list[ManifestEntry] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    extra: list[Node] = field(default_factory=list)
    signature: SignatureInfo | None = None


@dataclass
class StatusPackage:
    from_: Organization
    response_for: ResponseFor
    status_code: str
    description: str | None = None
    timestamp: datetime | None = None
    timestamp_raw: str | None = None
    staff: StaffInfo | None = None
    traces: list[TraceHeader] = field(default_factory=list)
    extra: list[Node] = field(default_factory=list)
    signature: SignatureInfo | None = None


Package = DocumentPackage | StatusPackage
