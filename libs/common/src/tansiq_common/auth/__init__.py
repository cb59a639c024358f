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
    apply_organization_event,
    create_directory_table,
    directory_consumer,
    directory_metadata,
    drop_directory_table,
    organization_directory,
)
from tansiq_common.auth.install import install_auth
from tansiq_common.auth.principal import ALL_ROLES, Principal, Role
from tansiq_common.auth.scope import (
    OrganizationDirectory,
    OrgScope,
    acts_as_coordinator,
    may_write_for,
    sees_everything,
)
from tansiq_common.auth.visibility import INTERAGENCY, RESTRICTED, VISIBILITIES, visible_to

__all__ = [
    "ALL_ROLES",
    "INTERAGENCY",
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
    "rule_of",
    "sees_everything",
    "visible_to",
]
