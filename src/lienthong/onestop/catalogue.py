"""The procedure catalogue: search, and CSV import (the seed of Quảng Ninh procedures is one)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lienthong.kernel.errors import Invalid, NotFound
from lienthong.kernel.text import escape_like, fold
from lienthong.onestop.models import Procedure
from lienthong.registry.models import Agency, AgencyStatus

PROVINCE_SUFFIX = ".000.00.00.H49"
FIELDS = {
    "dang_ky_kinh_doanh": ("Đăng ký kinh doanh", "Business registration"),
    "ho_tich": ("Hộ tịch", "Civil status"),
    "dat_dai": ("Đất đai", "Land"),
    "xay_dung": ("Xây dựng", "Construction"),
    "giao_thong_duong_bo": ("Giao thông đường bộ", "Road transport"),
    "duong_thuy_noi_dia": ("Đường thủy nội địa", "Inland waterways"),
    "du_lich": ("Du lịch", "Tourism"),
    "moi_truong": ("Môi trường", "Environment"),
}
LEVELS = ("province", "commune")
ONLINE_LEVELS = ("toan_trinh", "mot_phan")
UNITS = ("working_days", "working_hours", "calendar_days")
ROLES = ("reception", "processing", "approval", "return")
COLUMNS = (
    "national_code",
    "name",
    "field",
    "level",
    "implementing_agency",
    "online_level",
    "duration",
    "duration_unit",
    "fee_vnd",
    "fee_note",
    "papers",
    "steps",
    "note",
)
Progress = Callable[[int, int], None]


@dataclass
class ImportResult:
    created: int
    updated: int
    rows: int


def get_procedure(session: Session, *, code: str) -> Procedure:
    code = code.strip()
    procedure = session.scalars(
        select(Procedure).where(
            (Procedure.code == code) | (Procedure.code == code + PROVINCE_SUFFIX)
        )
    ).first()
    if procedure is None or not procedure.active:
        raise NotFound(
            f"Không có thủ tục {code}.",
            f"No procedure {code}.",
            code="unknown_procedure",
            details={"code": code},
        )
    return procedure


def list_procedures(
    session: Session,
    *,
    q: str | None = None,
    field: str | None = None,
    online_level: str | None = None,
    page: int = 1,
    page_size: int = 20,
) -> tuple[list[Procedure], int]:
    stmt = select(Procedure).where(Procedure.active.is_(True))
    if field:
        stmt = stmt.where(Procedure.field == field)
    if online_level:
        stmt = stmt.where(Procedure.online_level == online_level)
    for word in fold(q or "").split():
        stmt = stmt.where(Procedure.search_text.like(f"%{escape_like(word)}%", escape="\\"))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(Procedure.field, Procedure.name, Procedure.id)
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    return list(rows), int(total)


def _agency_by_short_name(session: Session, name: str) -> Agency | None:
    return session.scalars(
        select(Agency).where(
            (Agency.short_name == name) | (Agency.name == name),
            Agency.status == AgencyStatus.ACTIVE.value,
        )
    ).first()


def _papers(text: str) -> list[dict[str, Any]]:
    out = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        name, _, required = part.rpartition("|")
        out.append(
            {
                "name": (name or required).strip(),
                "required": required.strip() != "0" if name else True,
            }
        )
    return out


# Remarks about where a figure came from: kept in the procedure's `note`, never shown publicly.
PROVENANCE = re.compile(
    r"unverified|chưa xác minh|best guess|placeholder|sample|mức phổ biến|niêm yết|"
    r"not confirmed|by analogy|khoảng \d|nhiều tỉnh",
    re.IGNORECASE,
)


def _clauses(text: str) -> list[str]:
    """`text` split at the semicolons outside parentheses."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == ";" and depth <= 0:
            out.append(text[start:i])
            start = i + 1
    return [*out, text[start:]]


def split_provenance(text: str | None) -> tuple[str | None, list[str]]:
    """A fee text as a citizen may read it, and the source remarks taken out of it.

    Clauses are separated by ";"; a clause's " - ..." tail or "(...)" aside holding a remark is
    cut, and a clause that is still a remark after that is dropped whole."""
    if not text:
        return None, []
    kept: list[str] = []
    remarks: list[str] = []
    for clause in filter(None, (c.strip() for c in _clauses(text))):
        head, dash, tail = clause.partition(" - ")
        if dash and PROVENANCE.search(tail):
            remarks.append(tail.strip())
            clause = head.strip()
        for aside in re.findall(r"\s*\([^()]*\)", clause):
            if PROVENANCE.search(aside):
                remarks.append(aside.strip())
                clause = clause.replace(aside, "")
        if PROVENANCE.search(clause):
            remarks.append(clause)
            continue
        kept.append(re.sub(r"\bArt\. (\d+)", r"Điều \1", clause.strip()))
    return "; ".join(kept) or None, remarks


def _steps(text: str) -> list[dict[str, Any]]:
    steps = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        role, _, share = part.partition(":")
        steps.append({"role": role.strip(), "share": int(share or 0)})
    return steps


def import_csv(session: Session, *, text: str, progress: Progress | None = None) -> ImportResult:
    """All rows or none; every bad row reported with its line number."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [
        c
        for c in ("national_code", "name", "field", "level", "duration", "duration_unit")
        if c not in (reader.fieldnames or [])
    ]
    if missing:
        raise Invalid(
            f"Thiếu cột: {', '.join(missing)}.",
            f"Missing columns: {', '.join(missing)}.",
            code="import_invalid",
            details={"errors": [{"line": 1, "column": c} for c in missing]},
        )
    errors: list[dict[str, Any]] = []
    parsed: list[dict[str, Any]] = []
    for row in reader:
        line = reader.line_num

        def bad(column: str, vi: str, en: str, line: int = line) -> None:
            errors.append({"line": line, "column": column, "message": vi, "message_en": en})

        values = {k: (v or "").strip() for k, v in row.items() if k}
        if values["level"] not in LEVELS:
            bad("level", "level phải là province hoặc commune", "level must be province or commune")
        if values.get("online_level", "mot_phan") not in ONLINE_LEVELS:
            bad(
                "online_level",
                "online_level phải là toan_trinh hoặc mot_phan",
                "online_level must be toan_trinh or mot_phan",
            )
        if values["duration_unit"] not in UNITS:
            bad(
                "duration_unit",
                "đơn vị thời gian không hợp lệ",
                f"duration_unit must be one of {', '.join(UNITS)}",
            )
        try:
            duration = float(values["duration"])
            if duration <= 0:
                raise ValueError
        except ValueError:
            bad(
                "duration",
                "thời gian giải quyết phải là số dương",
                "duration must be a positive number",
            )
            duration = 0
        try:
            fee = int(values.get("fee_vnd") or 0)
        except ValueError:
            bad(
                "fee_vnd", "lệ phí phải là số nguyên (VND)", "fee_vnd must be a whole number of VND"
            )
            fee = 0
        steps = _steps(values.get("steps") or "reception:10;processing:70;approval:10;return:10")
        if sum(s["share"] for s in steps) != 100 or any(s["role"] not in ROLES for s in steps):
            bad(
                "steps",
                "các bước phải có vai trò hợp lệ và tổng tỉ lệ 100",
                "steps need known roles and shares adding to 100",
            )
        agency = None
        if values["level"] == "province":
            agency = _agency_by_short_name(session, values.get("implementing_agency", ""))
            if agency is None:
                bad(
                    "implementing_agency",
                    f"không có cơ quan '{values.get('implementing_agency')}' trong danh bạ",
                    f"no agency '{values.get('implementing_agency')}' in the registry",
                )
        fee_note, fee_remarks = split_provenance(values.get("fee_note"))
        parsed.append(
            {
                "national_code": values["national_code"],
                "name": values["name"],
                "field": values["field"],
                "level": values["level"],
                "agency_id": agency.id if agency else None,
                "online_level": values.get("online_level") or "mot_phan",
                "duration": duration,
                "duration_unit": values["duration_unit"],
                "fee_vnd": fee,
                "fee_note": fee_note,
                "papers": _papers(values.get("papers", "")),
                "steps": steps,
                "note": "; ".join(
                    filter(None, [values.get("note"), *(f"fee: {r}" for r in fee_remarks)])
                )
                or None,
            }
        )
    if errors:
        raise Invalid(
            f"Tệp có {len(errors)} lỗi; không thủ tục nào được nhập.",
            f"The file has {len(errors)} errors; nothing was imported.",
            code="import_invalid",
            details={"errors": errors},
        )
    created = updated = 0
    for index, values in enumerate(parsed, start=1):
        code = values["national_code"] + PROVINCE_SUFFIX
        values["search_text"] = fold(
            " ".join(
                (values["national_code"], values["name"], FIELDS.get(values["field"], ("", ""))[0])
            )
        )[:2000]
        existing = session.scalars(select(Procedure).where(Procedure.code == code)).first()
        if existing is None:
            session.add(Procedure(code=code, **values))
            created += 1
        else:
            for key, value in values.items():
                setattr(existing, key, value)
            updated += 1
        if progress:
            progress(index, len(parsed))
    session.flush()
    return ImportResult(created, updated, len(parsed))


def seed_procedures(session: Session, *, progress: Progress | None = None) -> ImportResult:
    text = (
        resources.files("lienthong.onestop")
        .joinpath("seed", "procedures.csv")
        .read_text(encoding="utf-8")
    )
    return import_csv(session, text=text, progress=progress)
