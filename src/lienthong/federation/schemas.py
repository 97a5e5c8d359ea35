"""What crosses the federation's two APIs: node to node (signed) and the operators'."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class NodeInfo(BaseModel):
    code: str
    base_url: str
    certificate: str  # PEM chain, the node's certificate first


class Receipt(BaseModel):
    """The signed answer to a package handed over: what was stored, and whether it was a
    repeat of one stored before."""

    model_config = ConfigDict(extra="allow")

    kind: str | None = None
    package_sha256: str | None = None
    repeated: bool


class DirectoryFeed(BaseModel):
    model_config = ConfigDict(extra="allow")

    node: str
    records: list[dict[str, Any]]


class DirectoryPushAnswer(BaseModel):
    applied: dict[str, Any]
    have: int | None


class PeerOut(BaseModel):
    code: str
    base_url: str
    national: bool
    state: str
    last_success_at: str | None
    last_failure_at: str | None
    last_error: str | None
    failures: int
    retry_at: str | None
    backlog: int
    oldest_waiting_at: str | None
    dead: int
    directory_version: int | None
    directory_synced_at: str | None
    directory_error: str | None


class PeerList(BaseModel):
    items: list[PeerOut]


class OutboundOut(BaseModel):
    id: int
    kind: str
    peer: str
    document_id: str
    origin: str
    recipients: list[str] | None
    priority: int
    state: str
    attempts: int
    last_error: str | None
    created_at: str
    sent_at: str | None
    trace: list[dict[str, str]] | None
    receipt: dict[str, Any] | None


class OutboundPage(BaseModel):
    items: list[OutboundOut]
    total: int
    page: int
    page_size: int
