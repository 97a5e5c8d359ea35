"""What a running node holds besides its database: the blob store and the keys. Built once
from the settings by the entry point and passed to the app and the worker."""

from __future__ import annotations

from dataclasses import dataclass

from lienthong.config import Settings
from lienthong.kernel.blobs import BlobStore, FileBlobStore
from lienthong.kernel.pki import FileKeyStore, KeyStore
from lienthong.onestop.fees import LocalGateway, PaymentGateway


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    blobs: BlobStore
    keys: KeyStore
    payments: PaymentGateway


def build_runtime(settings: Settings) -> Runtime:
    keys = FileKeyStore(settings.key_dir)
    keys.ensure_ca(f"lienthong node {settings.node_code} CA")
    return Runtime(
        settings=settings,
        blobs=FileBlobStore(settings.blob_dir),
        keys=keys,
        payments=LocalGateway(settings.key_dir),
    )
