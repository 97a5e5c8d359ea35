"""Health, readiness, metrics, and one error shape for every failure."""

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from lienthong import migrations


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"


def test_readyz_reports_database_and_migrations(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["migrations"]["current"] == migrations.head_revision()


def test_readyz_says_when_migrations_are_pending(client: TestClient) -> None:
    client.app.state.migration_head = "9999"  # type: ignore[attr-defined]
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["status"] == "migrations_pending"


def test_metrics_are_prometheus_text(client: TestClient) -> None:
    client.get("/api/v1/organizations/000.00.00.H49")
    body = client.get("/metrics").text
    assert (
        'lienthong_http_requests_total{method="GET",route="/api/v1/organizations/{code}",status="200"}'
        in body
    )
    assert 'lienthong_jobs{status="pending"}' in body


def test_unknown_address_has_the_error_shape(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": "Không tìm thấy địa chỉ này.", "details": None}
    }


def test_unknown_page_is_a_friendly_page(client: TestClient) -> None:
    response = client.get("/khong-co", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]
    assert "Không tìm thấy" in response.text


def test_wrong_method(client: TestClient) -> None:
    response = client.delete("/api/v1/organizations/000.00.00.H49")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_models_and_migrations_agree(engine: Engine) -> None:
    with engine.connect() as conn:
        assert migrations.pending_model_changes(conn) == []
        assert (
            conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            == migrations.head_revision()
        )


def test_every_answer_carries_a_request_id(client: TestClient) -> None:
    given = client.get("/healthz", headers={"X-Request-Id": "abc123"})
    assert given.headers["x-request-id"] == "abc123"
    made = client.get("/api/v1/organizations/000.00.99.H49")
    assert len(made.headers["x-request-id"]) == 16
