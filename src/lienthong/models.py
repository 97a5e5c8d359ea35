"""Every domain's models, imported once so that the metadata is complete (Alembic, tests)."""

from lienthong.accounts import models as accounts_models
from lienthong.db import Base
from lienthong.exchange import clerk_models as exchange_clerk_models
from lienthong.exchange import models as exchange_models
from lienthong.federation import models as federation_models
from lienthong.kernel import blobgc, jobs, notify, ratelimit
from lienthong.onestop import models as onestop_models
from lienthong.registry import models as registry_models

metadata = Base.metadata
__all__ = [
    "accounts_models",
    "blobgc",
    "exchange_clerk_models",
    "exchange_models",
    "federation_models",
    "jobs",
    "metadata",
    "notify",
    "onestop_models",
    "ratelimit",
    "registry_models",
]
