"""Base for request bodies: unknown fields are refused (422), never silently dropped.

Server-owned fields (id, version, status, created_at, ...) are simply not declared on a request
model, so sending them is an unknown field and a 422 names it: mass assignment is impossible.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
