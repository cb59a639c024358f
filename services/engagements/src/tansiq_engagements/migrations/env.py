from tansiq_common.migrations import run_env
from tansiq_common.schema import infra_metadata
from tansiq_engagements.database import Base
from tansiq_engagements.settings import get_settings

run_env([Base.metadata, infra_metadata], get_settings().database_url)
