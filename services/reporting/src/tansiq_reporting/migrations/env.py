from tansiq_common.migrations import run_env
from tansiq_common.schema import infra_metadata
from tansiq_reporting.database import Base
from tansiq_reporting.settings import get_settings

settings = get_settings()
# As the owner role; the runtime role gets its grants (tansiq_common.migrations.harden).
run_env(
    [Base.metadata, infra_metadata],
    settings.migration_url,
    runtime_role=settings.database_runtime_role,
)
