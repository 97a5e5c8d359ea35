"""Open data without sign-in: a real CKAN client (ckanapi) reads the node over HTTP; only open
items ever appear; CSV, GeoJSON and DCAT-AP downloads."""

from __future__ import annotations

import ckanapi  # type: ignore[import-untyped]
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from lienthong.app import create_app
from lienthong.config import Settings
from lienthong.runtime import Runtime
from tests.fixtures.server import served


def test_ckan_client_reads_open_datasets(
    settings: Settings,
    session_factory: sessionmaker[Session],
    runtime: Runtime,
    db: Session,
    datasets: None,
) -> None:
    with served(create_app(settings, session_factory, runtime)) as (host, port):
        ckan = ckanapi.RemoteCKAN(f"http://{host}:{port}", user_agent="lienthong-test")
        names = ckan.action.package_list()
        assert "doanh-nghiep" in names
        assert "khai-sinh" not in names  # no open item: not open data
        assert "luu-tru-nguoi-nuoc-ngoai" not in names
        found = ckan.action.package_search(q="doanh nghiep", rows=5)
        assert found["count"] >= 1
        assert found["results"][0]["name"] == "doanh-nghiep"
        package = ckan.action.package_show(id="thua-dat")
        assert package["organization"]["name"] == "000.00.07.H49"
        [resource] = package["resources"]
        assert resource["datastore_active"] is True
        rows = ckan.action.datastore_search(resource_id="thua-dat", limit=5)
        assert rows["total"] == 20
        assert len(rows["records"]) == 5
        fields = {f["id"] for f in rows["fields"]}
        assert "so_dinh_danh_chu" not in fields  # restricted items never leave as open data
        assert all("chu_su_dung" not in r for r in rows["records"])
        ward = rows["records"][0]["phuong_xa"]
        filtered = ckan.action.datastore_search(resource_id="thua-dat", filters={"phuong_xa": ward})
        assert all(r["phuong_xa"] == ward for r in filtered["records"])
        with pytest.raises(ckanapi.errors.CKANAPIError):
            ckan.action.datastore_search(
                resource_id="thua-dat", filters={"so_dinh_danh_chu": "022090001234"}
            )
        with pytest.raises(ckanapi.errors.CKANAPIError):
            ckan.action.package_show(id="khai-sinh")


def test_downloads_and_dcat(client: TestClient, datasets: None) -> None:
    csv_text = client.get("/du-lieu-mo/thua-dat.csv").text.lstrip("\ufeff")
    header = csv_text.splitlines()[0].split(",")
    assert header == ["ma_thua", "phuong_xa", "so_to", "so_thua", "dien_tich", "muc_dich"]
    assert len(csv_text.splitlines()) == 21
    geo = client.get("/du-lieu-mo/tram-bts.geojson")
    assert geo.headers["content-type"].startswith("application/geo+json")
    features = geo.json()["features"]
    assert len(features) == 20
    assert features[0]["geometry"]["type"] == "Point"
    as_json = {"Accept": "application/json"}
    no_points = client.get("/du-lieu-mo/thua-dat.geojson", headers=as_json)
    assert no_points.status_code == 404
    assert no_points.json()["error"]["code"] == "no_geometry"
    closed = client.get("/du-lieu-mo/khai-sinh.csv", headers=as_json)
    assert closed.json()["error"]["code"] == "unknown_dataset"
    dcat = client.get("/du-lieu-mo/dcat.jsonld").json()
    assert dcat["@type"] == "dcat:Catalog"
    assert {d["dct:identifier"] for d in dcat["dcat:dataset"]} >= {"doanh-nghiep", "tram-bts"}
