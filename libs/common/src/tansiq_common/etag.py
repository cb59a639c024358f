"""ETags from the version column; If-Match required on updates (428 without, 412 stale)."""

from __future__ import annotations

from tansiq_common.problems import PreconditionFailed, PreconditionRequired


def etag_for(version: int) -> str:
    return f'"{version}"'


def _candidates(header: str) -> list[str]:
    return [part.strip().removeprefix("W/") for part in header.split(",") if part.strip()]


def require_if_match(if_match: str | None, current_version: int) -> None:
    if not if_match:
        raise PreconditionRequired(
            "This update needs an If-Match header with the ETag you last read.",
            slug="if-match-required",
        )
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
        raise PreconditionRequired(
            "This update needs an If-Match header with the ETag you last read.",
            slug="if-match-required",
        )
    candidates = _candidates(if_match)
    for candidate in candidates:
        stripped = candidate.strip('"')
        if stripped.isdigit():
            return int(stripped)
    raise PreconditionFailed("The If-Match header names no ETag of this API.", slug="stale-etag")
