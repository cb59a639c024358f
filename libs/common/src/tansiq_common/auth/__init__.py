"""The access model (docs/architecture.md): JWT auth, roles, org scope, visibility, audit."""

from tansiq_common.auth.dependencies import (
    ROLE_NOT_ALLOWED,
    Authenticator,
    Authorize,
    authorize,
    current_principal,
    get_scope,
    rule_of,
)
from tansiq_common.auth.directory import (
    ORGANIZATION_TOPIC,
    ReplicaDirectory,
    ScopeDirectory,
    apply_organization_event,
    create_directory_table,
    directory_consumer,
    directory_metadata,
    drop_directory_table,
    organization_directory,
    scope_from_rows,
)
from tansiq_common.auth.install import install_auth
from tansiq_common.auth.principal import ALL_ROLES, Principal, Role
from tansiq_common.auth.scope import (
    NO_COUNTRY,
    OrganizationDirectory,
    OrgScope,
    acts_as_coordinator,
    may_write_for,
    reads_audit,
    reads_country,
    reads_personal_data,
    sees_everything,
)
from tansiq_common.auth.visibility import INTERAGENCY, RESTRICTED, VISIBILITIES, visible_to

__all__ = [
    "ALL_ROLES",
    "INTERAGENCY",
    "NO_COUNTRY",
    "ORGANIZATION_TOPIC",
    "RESTRICTED",
    "ROLE_NOT_ALLOWED",
    "VISIBILITIES",
    "Authenticator",
    "Authorize",
    "OrgScope",
    "OrganizationDirectory",
    "Principal",
    "ReplicaDirectory",
    "Role",
    "ScopeDirectory",
    "acts_as_coordinator",
    "apply_organization_event",
    "authorize",
    "create_directory_table",
    "current_principal",
    "directory_consumer",
    "directory_metadata",
    "drop_directory_table",
    "get_scope",
    "install_auth",
    "may_write_for",
    "organization_directory",
    "reads_audit",
    "reads_country",
    "reads_personal_data",
    "rule_of",
    "scope_from_rows",
    "sees_everything",
    "visible_to",
]
