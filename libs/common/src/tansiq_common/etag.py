"""ETags from the version column; If-Match required on updates (428 without, 412 stale).

If-Match uses the strong comparison (RFC 9110, 13.1.1): a weak validator (`W/"3"`) never
matches, since it only claims the two representations are equivalent, not the same version.
Tansiq's ETags are always strong, so a weak one in If-Match is a stale precondition (412).
"""

from __future__ import annotations

import re

from tansiq_common.problems import PreconditionFailed, PreconditionRequired

# A strong ETag of this API: a version in quotes (ASCII digits: `\d` would take "²" too).
_STRONG_VERSION = re.compile(r'"([0-9]+)"')


def etag_for(version: int) -> str:
    return f'"{version}"'


def _candidates(header: str) -> list[str]:
    """The entity tags of an If-Match list, as sent; weak ones keep their `W/` and so match
    no ETag of this API."""
    return [part.strip() for part in header.split(",") if part.strip()]


def _required() -> PreconditionRequired:
    return PreconditionRequired(
        "This update needs an If-Match header with the ETag you last read.",
        slug="if-match-required",
    )


def require_if_match(if_match: str | None, current_version: int) -> None:
    if not if_match:
        raise _required()
    candidates = _candidates(if_match)
    if "*" in candidates or etag_for(current_version) in candidates:
        return
    raise PreconditionFailed(
        "The record changed since you read it; read it again and reapply your change.",
        slug="stale-etag",
        extra={"current_etag": etag_for(current_version)},
    )


def expected_version(if_match: str | None) -> int:
    """The version a client claims to update, for a conditional UPDATE ... WHERE version = ?."""
    if not if_match:
        raise _required()
    for candidate in _candidates(if_match):
        strong = _STRONG_VERSION.fullmatch(candidate)
        if strong:
            return int(strong.group(1))
    raise PreconditionFailed("The If-Match header names no ETag of this API.", slug="stale-etag")
