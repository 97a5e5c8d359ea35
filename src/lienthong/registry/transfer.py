"""CSV import and export of the registry.

An import is all or nothing: every row is checked first (codes, kinds, references to parents
and successors in the file or in the registry, cycles) and every bad row is reported with its
line number; only a clean file changes anything, inside the caller's transaction.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import Invalid
from lienthong.registry import service
from lienthong.registry.codes import InvalidAgencyCode, parse_code
from lienthong.registry.models import Agency, AgencyKind, AgencyStatus, Succession
from lienthong.registry.schemas import ImportResult

COLUMNS = (
    "code",
    "name",
    "short_name",
    "kind",
    "parent_code",
    "status",
    "effective_on",
    "successor_codes",
    "admin_code",
    *service.CONTACT_FIELDS,
    "serving_node",
    "illustrative",
)
REQUIRED = ("code", "name", "kind")
Progress = Callable[[int, int], None]


@dataclass
class Row:
    line: int
    code: str
    values: dict[str, Any]
    parent_code: str | None
    successor_codes: list[str] = field(default_factory=list)


@dataclass
class RowErrors:
    items: list[dict[str, Any]] = field(default_factory=list)

    def add(self, line: int, column: str, vi: str, en: str) -> None:
        self.items.append({"line": line, "column": column, "message": vi, "message_en": en})


def _parse_date(text: str) -> date:
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "co", "có", "x"):
        return True
    if lowered in ("", "0", "false", "no", "khong", "không"):
        return False
    raise ValueError(text)


def read_csv(text: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header and the rows, each row with the line it starts on."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [name.strip() for name in reader.fieldnames or [] if name]
    rows = []
    line = 2
    for record in reader:
        rows.append((line, {k.strip(): (v or "").strip() for k, v in record.items() if k}))
        line = reader.line_num + 1
    return header, rows


def _check_header(header: set[str]) -> None:
    missing = [c for c in REQUIRED if c not in header]
    unknown = sorted(header - set(COLUMNS))
    if missing or unknown:
        raise Invalid(
            "Dòng tiêu đề sai: "
            + (f"thiếu {', '.join(missing)}; " if missing else "")
            + (f"không biết cột {', '.join(unknown)}; " if unknown else "")
            + "các cột dùng được: "
            + ", ".join(COLUMNS),
            "Bad header: "
            + (f"missing {', '.join(missing)}; " if missing else "")
            + (f"unknown columns {', '.join(unknown)}; " if unknown else "")
            + "allowed columns: "
            + ", ".join(COLUMNS),
            code="import_invalid",
            details={"errors": [{"line": 1, "column": "", "message": "header"}]},
        )


def parse_rows(raw_rows: Sequence[tuple[int, dict[str, str]]], errors: RowErrors) -> list[Row]:
    rows: list[Row] = []
    seen: dict[str, int] = {}
    for line, raw in raw_rows:
        for column in REQUIRED:
            if not raw.get(column):
                errors.add(line, column, f"thiếu cột {column}", f"{column} is empty")
        try:
            code = str(parse_code(raw.get("code", "")))
        except InvalidAgencyCode as exc:
            errors.add(line, "code", exc.message_vi, exc.message_en)
            continue
        if code in seen:
            errors.add(
                line,
                "code",
                f"mã {code} đã có ở dòng {seen[code]}",
                f"code {code} already appears on line {seen[code]}",
            )
            continue
        seen[code] = line
        values: dict[str, Any] = {
            "name": raw.get("name", ""),
            "short_name": raw.get("short_name") or None,
        }
        try:
            values["kind"] = AgencyKind(raw.get("kind", "")).value
        except ValueError:
            if raw.get("kind"):
                errors.add(
                    line,
                    "kind",
                    f"loại '{raw['kind']}' không hợp lệ; dùng một trong: "
                    + ", ".join(k.value for k in AgencyKind),
                    f"kind '{raw['kind']}' is not one of: "
                    + ", ".join(k.value for k in AgencyKind),
                )
        try:
            values["status"] = AgencyStatus(raw.get("status") or "active").value
        except ValueError:
            errors.add(
                line,
                "status",
                f"trạng thái '{raw['status']}' không hợp lệ (active, merged, dissolved)",
                f"status '{raw['status']}' is not active, merged or dissolved",
            )
        values["status_effective_on"] = None
        if raw.get("effective_on"):
            try:
                values["status_effective_on"] = _parse_date(raw["effective_on"])
            except ValueError:
                errors.add(
                    line,
                    "effective_on",
                    "ngày phải có dạng yyyy-mm-dd hoặc dd/mm/yyyy",
                    "dates must be yyyy-mm-dd or dd/mm/yyyy",
                )
        admin_code = raw.get("admin_code") or None
        if admin_code and not (len(admin_code) == 5 and admin_code.isdigit()):
            errors.add(
                line,
                "admin_code",
                "mã đơn vị hành chính phải gồm 5 chữ số",
                "the administrative code must be 5 digits",
            )
        values["admin_code"] = admin_code
        try:
            values["illustrative"] = _parse_bool(raw.get("illustrative", ""))
        except ValueError:
            errors.add(line, "illustrative", "giá trị phải là true/false", "must be true or false")
        for name in (*service.CONTACT_FIELDS, "serving_node"):
            values[name] = raw.get(name) or None
        parent_code = None
        if raw.get("parent_code"):
            try:
                parent_code = str(parse_code(raw["parent_code"]))
            except InvalidAgencyCode as exc:
                errors.add(line, "parent_code", exc.message_vi, exc.message_en)
        successors: list[str] = []
        for part in filter(None, (p.strip() for p in raw.get("successor_codes", "").split(";"))):
            try:
                successors.append(str(parse_code(part)))
            except InvalidAgencyCode as exc:
                errors.add(line, "successor_codes", exc.message_vi, exc.message_en)
        if successors and values.get("status") == AgencyStatus.ACTIVE.value:
            errors.add(
                line,
                "successor_codes",
                "cơ quan đang hoạt động không có cơ quan kế thừa",
                "an active agency has no successors",
            )
        if code in successors:
            errors.add(
                line,
                "successor_codes",
                "cơ quan không thể kế thừa chính nó",
                "an agency cannot succeed itself",
            )
        rows.append(Row(line, code, values, parent_code, successors))
    return rows


def _check_references(session: Session, rows: list[Row], errors: RowErrors) -> dict[str, Agency]:
    in_file = {row.code: row for row in rows}
    wanted = {c for row in rows for c in (row.code, row.parent_code, *row.successor_codes) if c}
    existing = {a.code: a for a in session.scalars(select(Agency).where(Agency.code.in_(wanted)))}
    # Parents after this import: the file's word where it has the row, else the registry's.
    parent_of: dict[str, str | None] = {}
    for row in rows:
        if row.parent_code and row.parent_code not in in_file and row.parent_code not in existing:
            errors.add(
                row.line,
                "parent_code",
                f"cơ quan cấp trên {row.parent_code} không có trong tệp lẫn danh bạ",
                f"parent {row.parent_code} is neither in the file nor in the registry",
            )
        for code in row.successor_codes:
            if code not in in_file and code not in existing:
                errors.add(
                    row.line,
                    "successor_codes",
                    f"cơ quan kế thừa {code} không có trong tệp lẫn danh bạ",
                    f"successor {code} is neither in the file nor in the registry",
                )
        parent_of[row.code] = row.parent_code
    for row in rows:
        seen = {row.code}
        current = parent_of.get(row.code)
        while current is not None:
            if current in seen:
                errors.add(
                    row.line,
                    "parent_code",
                    "quan hệ cấp trên tạo thành vòng lặp",
                    "the parent relation makes a cycle",
                )
                break
            seen.add(current)
            if current in parent_of:
                current = parent_of[current]
            else:
                agency = existing.get(current) or service.find_agency(session, code=current)
                current = agency.parent.code if agency and agency.parent else None
    return existing


def _parents_first(rows: list[Row]) -> list[Row]:
    by_code = {row.code: row for row in rows}
    ordered: list[Row] = []
    done: set[str] = set()

    def visit(row: Row) -> None:
        if row.code in done:
            return
        done.add(row.code)
        if row.parent_code in by_code:
            visit(by_code[row.parent_code])
        ordered.append(row)

    for row in rows:
        visit(row)
    return ordered


def import_rows(
    session: Session,
    raw_rows: Sequence[tuple[int, dict[str, str]]],
    *,
    actor: str,
    default_node: str,
    header: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    errors = RowErrors()
    _check_header(set(header if header is not None else (raw_rows[0][1] if raw_rows else ())))
    if not raw_rows:
        raise Invalid(
            "Tệp không có dòng dữ liệu nào.", "The file has no data rows.", code="import_empty"
        )
    rows = parse_rows(raw_rows, errors)
    existing = _check_references(session, rows, errors)
    if errors.items:
        errors.items.sort(key=lambda e: (e["line"], e["column"]))
        raise Invalid(
            f"Tệp có {len(errors.items)} lỗi; không dòng nào được nhập. Sửa các dòng sau rồi nhập lại.",
            f"The file has {len(errors.items)} errors; nothing was imported. Fix these rows and import again.",
            code="import_invalid",
            details={"errors": errors.items},
        )
    created = updated = unchanged = 0
    ordered = _parents_first(rows)
    agencies: dict[str, Agency] = dict(existing)
    now = utcnow()
    for index, row in enumerate(ordered, start=1):
        parsed = parse_code(row.code)
        fields = {k: v for k, v in row.values.items()}
        fields["serving_node"] = fields["serving_node"] or default_node
        parent = agencies.get(row.parent_code) if row.parent_code else None
        if row.parent_code and parent is None:
            parent = service.get_agency(session, code=row.parent_code)
        agency = agencies.get(row.code)
        if agency is None:
            agency = Agency(
                code=row.code,
                level=parsed.level,
                parent=parent,
                created_at=now,
                updated_at=now,
                search_text="",
                **fields,
            )
            agency.search_text = service.search_text_for(
                agency.name, agency.short_name, agency.code
            )
            session.add(agency)
            session.flush()
            service.record(
                session,
                agency,
                actor=actor,
                action="imported",
                changes={
                    "name": agency.name,
                    "parent_code": row.parent_code,
                    "status": agency.status,
                },
            )
            created += 1
        else:
            changes: dict[str, Any] = {}
            for name, value in fields.items():
                if getattr(agency, name) != value:
                    changes[name] = [_plain(getattr(agency, name)), _plain(value)]
                    setattr(agency, name, value)
            old_parent = agency.parent.code if agency.parent else None
            if old_parent != row.parent_code:
                changes["parent_code"] = [old_parent, row.parent_code]
                agency.parent = parent
            if changes:
                agency.search_text = service.search_text_for(
                    agency.name, agency.short_name, agency.code
                )
                agency.updated_at = now
                service.record(session, agency, actor=actor, action="imported", changes=changes)
                updated += 1
            else:
                unchanged += 1
        agencies[row.code] = agency
        if progress:
            progress(index, len(ordered))
    session.flush()
    for row in rows:
        if row.successor_codes:
            _set_successors(session, agencies[row.code], [agencies[c] for c in row.successor_codes])
    session.flush()
    return ImportResult(created=created, updated=updated, unchanged=unchanged, rows=len(rows))


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _set_successors(session: Session, agency: Agency, successors: list[Agency]) -> None:
    current = set(
        session.scalars(
            select(Succession.successor_id).where(Succession.predecessor_id == agency.id)
        )
    )
    wanted = {s.id for s in successors}
    if current == wanted:
        return
    for successor_id in current - wanted:
        session.delete(session.get_one(Succession, (agency.id, successor_id)))
    effective_on = agency.status_effective_on or utcnow().date()
    for successor in successors:
        if successor.id not in current:
            session.add(
                Succession(
                    predecessor_id=agency.id, successor_id=successor.id, effective_on=effective_on
                )
            )


def import_csv(
    session: Session, *, text: str, actor: str, default_node: str, progress: Progress | None = None
) -> ImportResult:
    try:
        header, raw_rows = read_csv(text)
    except csv.Error as exc:
        raise Invalid(
            f"Tệp CSV hỏng: {exc}", f"Malformed CSV: {exc}", code="import_invalid"
        ) from exc
    return import_rows(
        session, raw_rows, actor=actor, default_node=default_node, header=header, progress=progress
    )


def export_csv(session: Session, *, batch: int = 500) -> Iterator[str]:
    """The whole registry as CSV, streamed in batches; reads back through import unchanged."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    yield buffer.getvalue()
    last_id = 0
    while True:
        agencies = list(
            session.scalars(
                select(Agency).where(Agency.id > last_id).order_by(Agency.id).limit(batch)
            )
        )
        if not agencies:
            return
        links = service.links_for(session, (a.id for a in agencies))
        buffer.seek(0)
        buffer.truncate()
        for a in agencies:
            writer.writerow(
                [
                    a.code,
                    a.name,
                    a.short_name or "",
                    a.kind,
                    a.parent.code if a.parent else "",
                    a.status,
                    a.status_effective_on.isoformat() if a.status_effective_on else "",
                    ";".join(links[a.id].successor_codes),
                    a.admin_code or "",
                    *[getattr(a, name) or "" for name in service.CONTACT_FIELDS],
                    a.serving_node,
                    "true" if a.illustrative else "false",
                ]
            )
        yield buffer.getvalue()
        last_id = agencies[-1].id
