from tansiq_agreements.database import Base
from tansiq_agreements.settings import get_settings
from tansiq_common.migrations import run_env
from tansiq_common.schema import infra_metadata

run_env([Base.metadata, infra_metadata], get_settings().database_url)
