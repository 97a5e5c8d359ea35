"""Every domain's models, imported once so that the metadata is complete (Alembic, tests)."""

from lienthong.accounts import models as accounts_models
from lienthong.datashare import models as datashare_models
from lienthong.db import Base
from lienthong.exchange import clerk_models as exchange_clerk_models
from lienthong.exchange import models as exchange_models
from lienthong.federation import models as federation_models
from lienthong.kernel import blobgc, jobs, notify, ratelimit
from lienthong.netmon import models as netmon_models
from lienthong.onestop import models as onestop_models
from lienthong.registry import models as registry_models
from lienthong.security import models as security_models

metadata = Base.metadata
__all__ = [
    "accounts_models",
    "blobgc",
    "datashare_models",
    "exchange_clerk_models",
    "exchange_models",
    "federation_models",
    "jobs",
    "metadata",
    "netmon_models",
    "notify",
    "onestop_models",
    "ratelimit",
    "registry_models",
    "security_models",
]
