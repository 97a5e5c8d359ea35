"""Three nodes exchanging over real HTTP: a Quảng Ninh ward writes to a ministry served by the
national axis and to a department of another province, statuses come back, nothing is lost
or doubled when a peer is down, and bad input is refused with a reason."""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lienthong.exchange import answers, compose
from lienthong.exchange.edxml.model import DocumentPackage, ResponseFor, StatusPackage
from lienthong.exchange.edxml.signature import sign
from lienthong.exchange.edxml.writer import to_bytes, write_status
from lienthong.exchange.intake import read_package
from lienthong.exchange.models import Delivery, DeliveryStatus, Document
from lienthong.exchange.routing import organization
from lienthong.federation import directory, peers
from lienthong.federation.httpsig import content_digest, sign_request
from lienthong.federation.models import Outbound, Peer
from lienthong.federation.transport import (
    HttpTransport,
    PeerInfo,
    PeerRefused,
    PeerUnavailable,
    answer_of,
    signed_json_response,
    verify_receipt,
)
from lienthong.kernel.errors import AppError, Forbidden
from lienthong.kernel.pki import FileKeyStore, issue
from lienthong.registry import service as registry
from tests.fixtures.wrapping import variants

from .conftest import (
    BTC,
    HN_DEPT,
    HN_UBND,
    HONG_GAI,
    SNV,
    VPCP,
    Federation,
    Node,
    add_department,
)


def _document(node: Node, sender: str, document_id: str) -> tuple[Document, list[Delivery]]:
    with node.session() as session:
        agency = registry.get_agency(session, code=sender)
        document = session.scalars(
            select(Document).where(
                Document.sender_id == agency.id, Document.document_id == document_id
            )
        ).one()
        deliveries = list(
            session.scalars(select(Delivery).where(Delivery.document_fk == document.id))
        )
        session.expunge_all()
        return document, deliveries


def _statuses(node: Node, delivery_id: int) -> list[str]:
    with node.session() as session:
        return list(
            session.scalars(
                select(DeliveryStatus.code)
                .where(DeliveryStatus.delivery_id == delivery_id)
                .order_by(DeliveryStatus.id)
            )
        )


def _post(node: Node, document_pk: int, agency: str, code: str) -> None:
    with node.factory.begin() as session:
        answers.post_status(
            session,
            runtime=node.runtime,
            document_pk=document_pk,
            agency_code=agency,
            code=code,
            description=None,
        )


def _peer(node: Node, code: str) -> Peer:
    with node.session() as session:
        peer = session.scalars(select(Peer).where(Peer.code == code)).one()
        session.expunge(peer)
        return peer


def test_ward_to_ministry_through_the_axis_and_statuses_back(federation: Federation) -> None:
    qn, vn = federation.nodes["H49"], federation.nodes["VN"]
    answer = qn.send(HONG_GAI, [VPCP], subject="Báo cáo gửi Văn phòng Chính phủ")
    assert answer["recipients"][0]["route"] == "federation"
    federation.settle()

    at_axis, (inbox,) = _document(vn, HONG_GAI, answer["document_id"])
    sent, (out,) = _document(qn, HONG_GAI, answer["document_id"])
    # The package travelled unchanged and the ward's own signature verified at the axis.
    assert at_axis.stored_sha256 == sent.stored_sha256
    assert at_axis.signature == "verified"
    assert "UID=000.00.84.H49" in (at_axis.signer_subject or "")
    assert [t["node"] for t in at_axis.trace or []] == ["H49", "VN"]
    assert at_axis.arrived_from == "H49"
    assert inbox.state == "delivered"
    assert inbox.status_code == "01"
    assert out.state == "delivered"
    assert _statuses(qn, out.id) == ["01"]

    # The clerk at the ministry accepts; the status reaches the ward's node.
    _post(vn, at_axis.id, VPCP, "03")
    federation.settle()
    assert _statuses(qn, out.id) == ["01", "03"]

    # Proof of hand-over: the axis' signed receipt, checkable again from what was stored.
    with qn.session() as session:
        row = session.scalars(
            select(Outbound).where(
                Outbound.document_id == answer["document_id"], Outbound.kind == "edoc"
            )
        ).one()
        receipt = row.receipt
    assert row.state == "sent"
    assert receipt is not None
    assert receipt["body"]["recipients"][0]["result"] == "accepted"
    axis_cert = vn.runtime.keys.transport_identity()
    assert axis_cert is not None
    assert verify_receipt(receipt, axis_cert.chain[0], "VN")
    forged = {**receipt, "raw": receipt["raw"].replace("accepted", "refused")}
    assert not verify_receipt(forged, axis_cert.chain[0], "VN")


def test_to_another_provinces_department_and_back(federation: Federation) -> None:
    qn, vn, hn = (federation.nodes[c] for c in ("H49", "VN", "H26"))
    # Hà Nội's department was created at Hà Nội's node only; the directory carries it up to
    # the axis (push) and down to Quảng Ninh (pull).
    hn.forwarder.push_directory("VN")  # (the forwarder's first pass may have pushed it already)
    with vn.session() as session:
        assert registry.get_agency(session, code=HN_DEPT).serving_node == "H26"
    qn.forwarder.pull_directory("VN")
    with qn.session() as session:
        dept = registry.get_agency(session, code=HN_DEPT)
        assert dept.serving_node == "H26"

    answer = qn.send(HONG_GAI, [HN_DEPT], subject="Văn bản gửi Sở Nội vụ Hà Nội", priority=1)
    assert "VN" in (answer["recipients"][0]["note"] or "")
    federation.settle()
    at_hn, (inbox,) = _document(hn, HONG_GAI, answer["document_id"])
    assert [t["node"] for t in at_hn.trace or []] == ["H49", "VN", "H26"]
    assert inbox.state == "delivered"
    _post(hn, at_hn.id, HN_DEPT, "03")
    federation.settle()
    _sent, (out,) = _document(qn, HONG_GAI, answer["document_id"])
    assert _statuses(qn, out.id) == ["01", "03"]
    # The axis relayed and kept its own record of the relay's statuses.
    _relay, (through,) = _document(vn, HONG_GAI, answer["document_id"])
    assert through.route == "federation"
    assert _statuses(vn, through.id) == ["01", "03"]

    # And the other way: Hà Nội's department writes to the ward.
    back = hn.send(HN_DEPT, [HONG_GAI], subject="Trả lời phường Hồng Gai")
    federation.settle()
    at_qn, (ward,) = _document(qn, HN_DEPT, back["document_id"])
    assert ward.state == "delivered"
    assert [t["node"] for t in at_qn.trace or []] == [
        "H26",
        "VN",
        "H49",
    ]
    _hn_doc, (hn_out,) = _document(hn, HN_DEPT, back["document_id"])
    assert _statuses(hn, hn_out.id) == ["01"]


def _hand_over(qn: Node, document_id: str) -> tuple[PeerInfo, dict[str, Any]]:
    """What Quảng Ninh's forwarder sends the axis for a document, to send it again by hand."""
    with qn.session() as session:
        row = session.scalars(select(Outbound).where(Outbound.document_id == document_id)).one()
        peer = session.scalars(select(Peer).where(Peer.code == "VN")).one()
        info = PeerInfo("VN", peer.base_url, qn.forwarder.certificates.leaf(peer.certificate))
        return info, {
            "blob_sha256": row.blob_sha256,
            "size": row.size,
            "recipients": row.recipients,
            "trace": row.trace,
        }


def test_a_repeat_after_a_lost_receipt_is_delivered_once(federation: Federation) -> None:
    qn, vn = federation.nodes["H49"], federation.nodes["VN"]
    answer = qn.send(HONG_GAI, [VPCP], subject="Gửi lại sau khi mất biên nhận")
    federation.settle()
    info, args = _hand_over(qn, answer["document_id"])
    again = HttpTransport(qn.runtime).send_package(info, **args)
    assert again["body"]["repeated"] is True
    assert again["body"]["recipients"][0]["result"] == "duplicate"
    _doc, deliveries = _document(vn, HONG_GAI, answer["document_id"])
    assert len(deliveries) == 1
    with vn.session() as session:
        copies = session.scalar(
            select(func.count())
            .select_from(Document)
            .where(Document.document_id == answer["document_id"])
        )
    assert copies == 1


def test_peer_down_backlog_then_urgent_first(federation: Federation) -> None:
    qn, vn = federation.nodes["H49"], federation.nodes["VN"]
    vn.stop()
    try:
        ids = [qn.send(HONG_GAI, [VPCP], subject=f"Thường {i}")["document_id"] for i in range(3)]
        urgent = qn.send(HONG_GAI, [VPCP], subject="Hỏa tốc", priority=3)["document_id"]
        assert qn.forwarder.pump("VN") == 0
        with qn.session() as session:
            (row,) = [r for r in peers.status(session) if r["code"] == "VN"]
        assert row["state"] == "down"
        assert row["backlog"] == 4
        assert row["oldest_waiting_at"] is not None
        assert row["last_error"]
    finally:
        vn.start()
    time.sleep(0.3)  # the backoff (0.05–0.2 s in these tests)
    federation.settle()
    with vn.session() as session:
        arrived = list(
            session.scalars(
                select(Document.document_id)
                .where(Document.document_id.in_([*ids, urgent]))
                .order_by(Document.id)
            )
        )
    assert arrived[0] == urgent
    assert sorted(arrived[1:]) == sorted(ids)
    assert _peer(qn, "VN").state == "up"


def test_a_peer_that_hangs_times_out_and_the_worker_goes_on(federation: Federation) -> None:
    qn = federation.nodes["H49"]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []

    def accept_and_say_nothing() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(conn)

    threading.Thread(target=accept_and_say_nothing, daemon=True).start()
    real = _peer(qn, "VN").base_url
    with qn.factory.begin() as session:
        session.scalars(
            select(Peer).where(Peer.code == "VN")
        ).one().base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        answer = qn.send(HONG_GAI, [VPCP], subject="Nút treo")
        started = time.monotonic()
        assert qn.forwarder.pump("VN") == 0
        assert time.monotonic() - started < qn.settings.peer_timeout_seconds + 2
        peer = _peer(qn, "VN")
        assert peer.state == "down"
        assert "Timeout" in (peer.last_error or "")
    finally:
        with qn.factory.begin() as session:
            session.scalars(select(Peer).where(Peer.code == "VN")).one().base_url = real
        listener.close()
        for conn in accepted:
            conn.close()
    time.sleep(0.3)
    federation.settle()
    _doc, (delivery,) = _document(qn, HONG_GAI, answer["document_id"])
    assert delivery.state == "delivered"


def _copies(node: Node, document_id: str) -> int:
    with node.session() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Document)
                .where(Document.document_id == document_id)
            )
            or 0
        )


def test_a_node_cannot_sign_for_another_nodes_agency(federation: Federation) -> None:
    """Quảng Ninh's CA issues itself a certificate naming Hà Nội's People's Committee and signs
    a package with it: the axis refuses it, since Hà Nội's agencies are vouched for by Hà Nội."""
    qn, vn = federation.nodes["H49"], federation.nodes["VN"]
    assert isinstance(qn.runtime.keys, FileKeyStore)
    qn.runtime.keys.ensure_agency(HN_UBND, "UBND thành phố Hà Nội (giả)")
    try:
        # Its own intake will not take a package from an agency it does not serve …
        with pytest.raises(Forbidden, match="served by node H26"):
            qn.send(HN_UBND, [VPCP], subject="Mạo danh Hà Nội")
        # … so it writes the package by hand and posts it to the axis.
        with qn.session() as session:
            package = compose.build(
                session,
                qn.runtime,
                sender_code=HN_UBND,
                draft=compose.Draft(recipients=[VPCP], subject="Mạo danh Hà Nội", uploads=[]),
            )
        response = _raw_post(qn, vn, b"".join(compose.signed_chunks(qn.runtime, package)))
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "certificate_not_for_sender"
        assert _copies(vn, package.document_id) == 0
    finally:
        for suffix in (".key", ".pem"):
            (qn.runtime.keys.root / "agencies" / f"{HN_UBND}{suffix}").unlink()
        qn.runtime.keys._identities.clear()


def _raw_post(node: Node, target: Node, body: bytes, **extra: str) -> httpx.Response:
    url = target.url + "/federation/v1/packages"
    headers = {
        "Content-Type": "application/xml",
        "Content-Digest": content_digest(hashlib.sha256(body).digest()),
        "Lienthong-To": target.code,
        "Lienthong-Trace": f"{node.code};2026-11-30T00:00:00Z",
        "Lienthong-Recipients": VPCP,
        **extra,
    }
    identity = node.runtime.keys.transport_identity()
    assert identity is not None
    headers.update(
        sign_request(method="POST", url=url, headers=headers, key=identity.key, key_id=node.code)
    )
    return httpx.post(url, content=body, headers=headers)


def test_requests_not_signed_by_a_known_peer_get_401(federation: Federation, tmp_path: Any) -> None:
    vn = federation.nodes["VN"]
    plain = httpx.post(vn.url + "/federation/v1/packages", content=b"<x/>")
    assert plain.status_code == 401
    assert plain.json()["error"]["code"] == "signature_missing"
    # A node under the same root that the axis has not added as a peer.
    stranger_keys = FileKeyStore(tmp_path / "stranger")
    stranger_keys.join_federation(
        node_code="H99", root_key=federation.root_key, root_cert=federation.root_cert
    )
    identity = stranger_keys.transport_identity()
    assert identity is not None
    url = vn.url + "/federation/v1/packages"
    headers = {
        "Content-Digest": content_digest(hashlib.sha256(b"<x/>").digest()),
        "Lienthong-To": "VN",
    }
    headers.update(
        sign_request(method="POST", url=url, headers=headers, key=identity.key, key_id="H99")
    )
    stranger = httpx.post(url, content=b"<x/>", headers=headers)
    assert stranger.status_code == 401
    assert stranger.json()["error"]["code"] == "unknown_peer"


def test_a_package_whose_inner_signature_fails_is_refused_and_kept_out(
    federation: Federation,
) -> None:
    qn, vn = federation.nodes["H49"], federation.nodes["VN"]
    answer = qn.send(SNV, [VPCP], subject="Nội dung gốc")  # queued; no forwarder runs here
    document, _ = _document(qn, SNV, answer["document_id"])
    with qn.runtime.blobs.open(document.stored_sha256) as handle:
        original = handle.read()
    tampered = original.replace("Nội dung gốc".encode(), "Nội dung sửa".encode())
    assert tampered != original
    response = _raw_post(qn, vn, tampered)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "bad_signature"
    assert _copies(vn, answer["document_id"]) == 0
    # A node may not hand a package to recipients its sender did not address.
    local = qn.send(SNV, [HONG_GAI], subject="Chỉ gửi phường Hồng Gai")
    to_ward, _ = _document(qn, SNV, local["document_id"])
    with qn.runtime.blobs.open(to_ward.stored_sha256) as handle:
        readdressed = _raw_post(qn, vn, handle.read())
    assert readdressed.status_code == 403
    assert readdressed.json()["error"]["code"] == "recipient_not_addressed"
    assert _copies(vn, local["document_id"]) == 0
    loop = _raw_post(
        qn, vn, original, **{"Lienthong-Trace": "H49;2026-11-30T00:00:00Z, VN;2026-11-30T00:00:01Z"}
    )
    assert loop.status_code == 409
    assert loop.json()["error"]["code"] == "routing_loop"


def test_signature_wrapping_variants_are_refused_between_nodes(federation: Federation) -> None:
    """A node hands over a package whose sender's signature is intact over what it covers but
    which carries other content where the digest does not look: the receiving node refuses."""
    qn, vn = federation.nodes["H49"], federation.nodes["VN"]
    answer = qn.send(SNV, [VPCP], subject="Gói tin gốc để thử bọc chữ ký")
    document, _ = _document(qn, SNV, answer["document_id"])
    with qn.runtime.blobs.open(document.stored_sha256) as handle:
        original = handle.read()
    package = read_package(qn.runtime, [original]).package
    identity = qn.runtime.keys.identity(SNV)
    assert identity is not None
    assert isinstance(package, DocumentPackage)
    for name, (body, code) in variants(original, package, qn.runtime.blobs, identity).items():
        response = _raw_post(qn, vn, body)
        assert response.status_code == 422, (name, response.text)
        assert response.json()["error"]["code"] == code, name
    assert _copies(vn, answer["document_id"]) == 0


def test_a_status_signed_by_a_node_in_its_agencys_name_is_refused(federation: Federation) -> None:
    """The axis answers 03 for Văn phòng Chính phủ signed with its own node certificate instead
    of the agency's: Quảng Ninh refuses it; statuses are signed as what they say they are."""
    qn, vn = federation.nodes["H49"], federation.nodes["VN"]
    answer = qn.send(SNV, [VPCP], subject="Chờ trạng thái 03")
    federation.settle()
    _, deliveries = _document(qn, SNV, answer["document_id"])
    assert [_statuses(qn, d.id) for d in deliveries] == [["01"]]
    with vn.session() as session:
        vpcp = registry.get_agency(session, code=VPCP)
        status = StatusPackage(
            from_=organization(vpcp),
            response_for=ResponseFor(organ_id=SNV, document_id=answer["document_id"]),
            status_code="03",
        )
    node_identity = vn.runtime.keys.transport_identity()
    assert node_identity is not None
    body = to_bytes(sign(lambda sig: write_status(status, signature=sig), node_identity))
    response = _raw_post(vn, qn, body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "certificate_not_for_sender"
    assert [_statuses(qn, d.id) for d in deliveries] == [["01"]]
    # The 01 that came back was signed by the agency itself.
    with qn.session() as session:
        arrived = session.scalars(
            select(DeliveryStatus).where(DeliveryStatus.delivery_id == deliveries[0].id)
        ).one()
        assert arrived.signature == "verified"


def test_the_directory_merge_at_the_axis_reaches_provinces_and_routing_follows(
    federation: Federation,
) -> None:
    qn, vn = federation.nodes["H49"], federation.nodes["VN"]
    with vn.factory.begin() as session:
        registry.merge(
            session, source_codes=[BTC], successor_code=VPCP, effective_on=None, actor="test"
        )
    qn.forwarder.pull_directory("VN")
    with qn.session() as session:
        assert registry.get_agency(session, code=BTC).status == "merged"
    answer = qn.send(HONG_GAI, [BTC], subject="Gửi Bộ Tài chính (đã hợp nhất)")
    (result,) = answer["recipients"]
    assert result["delivered_to"] == VPCP
    federation.settle()
    _doc, (delivery,) = _document(vn, HONG_GAI, answer["document_id"])
    with vn.session() as session:
        assert registry.get_agency(session, code=VPCP).id == delivery.recipient_id
    assert delivery.state == "delivered"


def test_a_stale_or_badly_signed_feed_is_refused_and_the_directory_kept(
    federation: Federation,
) -> None:
    qn, vn = federation.nodes["H49"], federation.nodes["VN"]
    have = _peer(qn, "VN").directory_version
    assert have > 0
    rogue_keys = FileKeyStore(qn.settings.key_dir.parent / "rogue")
    rogue_ca_key, rogue_ca = rogue_keys.ensure_ca("rogue")
    rogue_key, _cert = issue(rogue_ca_key, rogue_ca, common_name="rogue", agency_code="VN")

    def feed(head: int, *, key: Any) -> httpx.MockTransport:
        def handler(request: httpx.Request) -> httpx.Response:
            record = {"code": BTC, "version": head, "name": "Bộ giả mạo"}
            payload = {
                "node": "VN",
                "since": have,
                "head": head,
                "records": [record],
                "more": False,
            }
            runtime = vn.runtime
            if key is not None:  # the axis' name and certificate, another key
                real = vn.runtime.keys.transport_identity()

                class Keys:
                    def transport_identity(self) -> Any:
                        return replace(real, key=key)

                runtime = replace(runtime, keys=Keys())  # type: ignore[arg-type]
            body, headers = signed_json_response(
                runtime, 200, payload, request_signature=request.headers.get("signature")
            )
            return httpx.Response(200, content=body, headers=headers)

        return httpx.MockTransport(handler)

    for transport, error in (
        (feed(have + 5, key=rogue_key), PeerUnavailable),
        (feed(have - 1, key=None), AppError),
    ):
        qn.forwarder.transport = HttpTransport(qn.runtime, client=httpx.Client(transport=transport))
        try:
            with pytest.raises(error):
                qn.forwarder.pull_directory("VN")
        finally:
            qn.forwarder.transport = HttpTransport(qn.runtime)
        peer = _peer(qn, "VN")
        assert peer.directory_version == have
        assert peer.directory_error
        with qn.session() as session:
            assert registry.get_agency(session, code=BTC).name == "Bộ Tài chính"
    assert "stale_directory_feed" in (_peer(qn, "VN").directory_error or "")


def test_a_refused_package_is_a_dead_letter_that_can_be_requeued(federation: Federation) -> None:
    qn, vn = federation.nodes["H49"], federation.nodes["VN"]
    answer = qn.send(HONG_GAI, [VPCP], subject="Sẽ bị từ chối rồi gửi lại")
    # The axis stops trusting the ward's certificate for a moment: it refuses the package.
    identity = qn.runtime.keys.identity(HONG_GAI)
    assert identity is not None
    assert isinstance(vn.runtime.keys, FileKeyStore)
    vn.runtime.keys.revoke(identity.chain[0], identity.chain[1])
    try:
        federation.settle()
        with qn.session() as session:
            row = session.scalars(
                select(Outbound).where(Outbound.document_id == answer["document_id"])
            ).one()
            assert row.state == "dead"
            assert "certificate_revoked" in (row.last_error or "")
            (delivery,) = session.scalars(
                select(Delivery).where(Delivery.document_fk == row.document_fk)
            )
            assert delivery.state == "failed"
            row_id = row.id
    finally:
        (vn.runtime.keys.root / "revoked.txt").unlink()
        vn.runtime.keys.reload_revocation()
    with qn.factory.begin() as session:
        from lienthong.federation import outbox

        outbox.requeue(session, outbound_id=row_id)
    federation.settle()
    _doc, (delivery,) = _document(qn, HONG_GAI, answer["document_id"])
    assert delivery.state == "delivered"


def test_operator_api_lists_peers(federation: Federation) -> None:
    qn = federation.nodes["H49"]
    with qn.session() as session:
        rows = peers.status(session)
    assert [r["code"] for r in rows] == ["VN"]
    assert rows[0]["national"] is True
    assert rows[0]["directory_version"] > 0


def _unused(session: Session) -> None:  # keeps imports honest for mypy
    _ = PeerRefused


def test_a_recall_crosses_nodes_and_the_answer_comes_back(federation: Federation) -> None:
    qn, vn = federation.nodes["H49"], federation.nodes["VN"]
    answer = qn.send(HONG_GAI, [VPCP], subject="Sẽ xin lấy lại")
    federation.settle()
    sent, (out,) = _document(qn, HONG_GAI, answer["document_id"])
    _post(qn, sent.id, HONG_GAI, "13")
    federation.settle()
    at_axis, (inbox,) = _document(vn, HONG_GAI, answer["document_id"])
    assert inbox.pending_request == "13"
    _post(vn, at_axis.id, VPCP, "15")
    federation.settle()
    _sent, (out,) = _document(qn, HONG_GAI, answer["document_id"])
    assert out.state == "recalled"
    assert _statuses(qn, out.id) == ["01", "13", "15"]


def test_a_replayed_directory_push_cannot_undo_a_newer_one(federation: Federation) -> None:
    hn, vn = federation.nodes["H26"], federation.nodes["VN"]
    code = "000.00.07.H26"
    add_department(hn, code, "Sở Văn hóa Hà Nội", "000.00.00.H26")
    with hn.session() as session:
        first = directory.feed(session, since=0, node_code="H26")["records"]
    hn.forwarder.push_directory("VN")
    with hn.factory.begin() as session:
        registry.get_agency(session, code=code).name = "Sở Văn hóa và Thể thao Hà Nội"
    hn.forwarder.push_directory("VN")
    with hn.session() as session:
        peer = session.scalars(select(Peer).where(Peer.code == "VN")).one()
        info = PeerInfo("VN", peer.base_url, hn.forwarder.certificates.leaf(peer.certificate))
    replay = HttpTransport(hn.runtime).post_json(
        info, "/federation/v1/directory", {"records": first}
    )
    assert replay["body"]["stale"] is True
    with vn.session() as session:
        assert registry.get_agency(session, code=code).name == "Sở Văn hóa và Thể thao Hà Nội"


def test_an_answer_signed_for_another_request_is_not_taken(federation: Federation) -> None:
    qn, vn = federation.nodes["H49"], federation.nodes["VN"]
    identity = vn.runtime.keys.transport_identity()
    assert identity is not None
    info = PeerInfo("VN", vn.url, identity.chain[0])
    body, headers = signed_json_response(
        vn.runtime, 422, {"error": {"code": "bad_signature"}}, request_signature="sig=:AAAA:"
    )
    with pytest.raises(PeerUnavailable, match="another request"):
        answer_of(info, 422, httpx.Headers(headers), body, reply_to="sig=:BBBB:")
    with pytest.raises(PeerRefused):
        answer_of(info, 422, httpx.Headers(headers), body, reply_to="sig=:AAAA:")
    assert qn.code == "H49"


def test_a_peer_that_trickles_its_answer_is_cut_off(federation: Federation) -> None:
    qn = federation.nodes["H49"]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)

    def trickle() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
            for _ in range(60):
                try:
                    conn.sendall(b"x")
                except OSError:
                    return
                time.sleep(0.25)

    threading.Thread(target=trickle, daemon=True).start()
    identity = qn.runtime.keys.transport_identity()
    assert identity is not None
    info = PeerInfo("VN", f"http://127.0.0.1:{listener.getsockname()[1]}", identity.chain[0])
    started = time.monotonic()
    with pytest.raises(PeerUnavailable, match="too long or too slow"):
        HttpTransport(qn.runtime).get_json(info, "/federation/v1/directory", {"since": 0})
    assert time.monotonic() - started < qn.settings.peer_timeout_seconds + 2
    listener.close()


def test_two_copies_arriving_at_once_are_stored_once(federation: Federation) -> None:
    """A retry racing a slow first attempt: both get a signed receipt, one is a repeat."""
    qn, vn = federation.nodes["H49"], federation.nodes["VN"]
    answer = qn.send(HONG_GAI, [VPCP], subject="Hai bản cùng lúc")
    info, args = _hand_over(qn, answer["document_id"])
    receipts: list[dict[str, Any]] = []
    start = threading.Barrier(2)

    def hand_over() -> None:
        start.wait()
        receipts.append(HttpTransport(qn.runtime).send_package(info, **args))

    threads = [threading.Thread(target=hand_over) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(r["body"]["repeated"] for r in receipts) == [False, True]
    assert _copies(vn, answer["document_id"]) == 1
    federation.settle()
    _doc, (delivery,) = _document(qn, HONG_GAI, answer["document_id"])
    assert delivery.state == "delivered"


def test_node_info_is_json_and_names_the_node(federation: Federation) -> None:
    vn = federation.nodes["VN"]
    info = httpx.get(vn.url + "/federation/v1/node").json()
    assert info["code"] == "VN"
    assert info["base_url"] == vn.url
    assert "BEGIN CERTIFICATE" in info["certificate"]


class _SlowRecordingTransport:
    """The real transport, with a peer latency added and every hand-over's span recorded."""

    def __init__(self, inner: Any, latency: float) -> None:
        self.inner, self.latency = inner, latency
        self.lock = threading.Lock()
        self.in_flight = self.most_in_flight = 0
        self.spans: list[tuple[str, float, float]] = []  # blob sha-256, start, end

    def send_package(self, peer: PeerInfo, **kw: Any) -> dict[str, Any]:
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        start = time.monotonic()
        try:
            time.sleep(self.latency)  # the peer's latency, not a wait for a state
            receipt: dict[str, Any] = self.inner.send_package(peer, **kw)
            return receipt
        finally:
            with self.lock:
                self.in_flight -= 1
                self.spans.append((kw["blob_sha256"], start, time.monotonic()))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_hand_overs_overlap_but_a_documents_own_packages_leave_in_order(
    federation: Federation,
) -> None:
    qn, vn = federation.nodes["H49"], federation.nodes["VN"]
    ids = [qn.send(HONG_GAI, [VPCP], subject=f"Cửa sổ {i}")["document_id"] for i in range(6)]
    recalled, _ = _document(qn, HONG_GAI, ids[0])
    _post(qn, recalled.id, HONG_GAI, "13")  # queued behind its document, in the same lane
    with qn.session() as session:
        queued = {
            row.blob_sha256: row.kind
            for row in session.scalars(
                select(Outbound).where(Outbound.peer_code == "VN", Outbound.state == "queued")
            )
        }
        recall_sha = next(sha for sha, kind in queued.items() if kind == "status")
        first_sha = session.scalars(
            select(Outbound.blob_sha256).where(
                Outbound.document_fk == recalled.id, Outbound.kind == "edoc"
            )
        ).one()
    recording = _SlowRecordingTransport(qn.forwarder.transport, latency=0.2)
    qn.forwarder.transport = recording
    assert qn.forwarder.pump("VN") == 7
    assert recording.most_in_flight > 1
    spans = {sha: (start, end) for sha, start, end in recording.spans}
    assert spans[first_sha][1] <= spans[recall_sha][0]  # the recall left after its document
    federation.settle()
    _doc, (inbox,) = _document(vn, HONG_GAI, ids[0])
    assert inbox.pending_request == "13"
    with vn.session() as session:
        arrived = session.scalar(
            select(func.count()).select_from(Document).where(Document.document_id.in_(ids))
        )
    assert arrived == 6
