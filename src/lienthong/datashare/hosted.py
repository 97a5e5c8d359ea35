"""Records of hosted datasets, imported from CSV or GeoJSON: all rows or none, every bad row
listed with its line (CSV) or feature number (GeoJSON). A record already there is replaced and
moves forward in the changes feed."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lienthong.datashare import catalogue
from lienthong.datashare.identifiers import is_person_id, is_tax_code
from lienthong.datashare.models import Dataset, HostedRecord
from lienthong.kernel.clock import utcnow
from lienthong.kernel.errors import Invalid

Progress = Callable[[int, int], None]
_CHECKS = {"tax_code": is_tax_code, "person_id": is_person_id}
BATCH = 2000


@dataclass(frozen=True)
class ImportResult:
    rows: int
    created: int
    updated: int


def _check_rows(
    dataset: Dataset, rows: Sequence[tuple[int, dict[str, Any]]]
) -> list[dict[str, Any]]:
    known = set(catalogue.item_names(dataset))
    check = _CHECKS.get(dataset.subject_kind or "")
    errors: list[dict[str, Any]] = []
    seen: dict[str, int] = {}

    def bad(line: int, column: str, vi: str, en: str) -> None:
        errors.append({"line": line, "column": column, "message": vi, "message_en": en})

    for line, values in rows:
        for name in values:
            if name not in known:
                bad(line, name, "trường không có trong bộ dữ liệu", "no such item in the dataset")
        key = str(values.get(dataset.key_item) or "").strip()
        if not key:
            bad(line, dataset.key_item, "thiếu khóa", "the key is missing")
        elif key in seen:
            bad(
                line,
                dataset.key_item,
                f"khóa {key} trùng dòng {seen[key]}",
                f"key {key} repeats line {seen[key]}",
            )
        else:
            seen[key] = line
        subject = str(values.get(dataset.subject_item or "") or "")
        if check and dataset.subject_item and not check(subject):
            bad(
                line,
                dataset.subject_item,
                f"{subject!r} sai định dạng {dataset.subject_kind}",
                f"{subject!r} is not a valid {dataset.subject_kind}",
            )
    return errors


def store(
    session: Session,
    *,
    dataset: Dataset,
    rows: Sequence[tuple[int, dict[str, Any]]],
    progress: Progress | None = None,
) -> ImportResult:
    """Check every row, then write them all (the caller's transaction: all or none)."""
    errors = _check_rows(dataset, rows)
    if errors:
        raise Invalid(
            f"{len(errors)} dòng không hợp lệ; không dòng nào được nhập.",
            f"{len(errors)} bad rows; nothing was imported.",
            code="bad_rows",
            details={"errors": errors[:1000], "count": len(errors)},
        )
    seq = (
        session.scalar(
            select(func.coalesce(func.max(HostedRecord.seq), 0)).where(
                HostedRecord.dataset_id == dataset.id
            )
        )
        or 0
    )
    now = utcnow()
    created = updated = 0
    for start in range(0, len(rows), BATCH):
        chunk = rows[start : start + BATCH]
        keys = [str(v[dataset.key_item]).strip() for _w, v in chunk]
        existing = {
            r.key: r
            for r in session.scalars(
                select(HostedRecord).where(
                    HostedRecord.dataset_id == dataset.id, HostedRecord.key.in_(keys)
                )
            )
        }
        for key, (_where, values) in zip(keys, chunk, strict=True):
            seq += 1
            subject = str(values.get(dataset.subject_item or "") or "") or None
            found = existing.get(key)
            if found is not None:
                found.data, found.subject, found.seq, found.updated_at = values, subject, seq, now
                updated += 1
            else:
                session.add(
                    HostedRecord(
                        dataset_id=dataset.id,
                        key=key,
                        subject=subject,
                        data=values,
                        seq=seq,
                        updated_at=now,
                    )
                )
                created += 1
        session.flush()
        if progress:
            progress(min(start + BATCH, len(rows)), len(rows))
    return ImportResult(rows=len(rows), created=created, updated=updated)


def read_csv(text: str) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    out = []
    for row in reader:
        out.append((reader.line_num, {k.strip(): (v or "").strip() for k, v in row.items() if k}))
    return out


def read_geojson(text: str) -> list[tuple[int, dict[str, Any]]]:
    """A FeatureCollection of points: the properties plus `lon` and `lat`."""
    try:
        doc = json.loads(text)
    except ValueError:
        raise Invalid(
            "Tệp GeoJSON không đọc được.", "The GeoJSON file is not JSON.", code="bad_geojson"
        ) from None
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(features, list):
        raise Invalid(
            "Cần một FeatureCollection.", "A FeatureCollection is needed.", code="bad_geojson"
        )
    out: list[tuple[int, dict[str, Any]]] = []
    bad: list[dict[str, Any]] = []
    for n, feature in enumerate(features, start=1):
        geometry = feature.get("geometry") if isinstance(feature, dict) else None
        props = feature.get("properties") if isinstance(feature, dict) else None
        coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
        if (
            not isinstance(props, dict)
            or not isinstance(geometry, dict)
            or geometry.get("type") != "Point"
            or not isinstance(coords, list)
            or len(coords) < 2
            or not all(isinstance(c, int | float) for c in coords[:2])
        ):
            bad.append(
                {
                    "line": n,
                    "column": "geometry",
                    "message": "không phải điểm có thuộc tính",
                    "message_en": "not a Point feature with properties",
                }
            )
            continue
        out.append(
            (
                n,
                {
                    **{k: str(v) for k, v in props.items()},
                    "lon": str(coords[0]),
                    "lat": str(coords[1]),
                },
            )
        )
    if bad:
        raise Invalid(
            f"{len(bad)} đối tượng không hợp lệ.",
            f"{len(bad)} bad features.",
            code="bad_rows",
            details={"errors": bad[:1000], "count": len(bad)},
        )
    return out


def import_file(
    session: Session,
    *,
    dataset: Dataset,
    text: str,
    geojson: bool,
    progress: Progress | None = None,
) -> ImportResult:
    rows = read_geojson(text) if geojson else read_csv(text)
    return store(session, dataset=dataset, rows=rows, progress=progress)


def feature_collection(
    dataset: Dataset, records: Iterable[dict[str, Any]], items: Sequence[str]
) -> dict[str, Any]:
    features = []
    for r in records:
        try:
            point = [float(r["lon"]), float(r["lat"])]
        except (KeyError, ValueError):
            continue
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": point},
                "properties": {k: r[k] for k in items if k in r and k not in ("lon", "lat")},
            }
        )
    return {"type": "FeatureCollection", "name": dataset.code, "features": features}
