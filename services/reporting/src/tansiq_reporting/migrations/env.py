from tansiq_common.migrations import run_env
from tansiq_common.schema import infra_metadata
from tansiq_reporting.database import Base
from tansiq_reporting.settings import get_settings

run_env([Base.metadata, infra_metadata], get_settings().database_url)
