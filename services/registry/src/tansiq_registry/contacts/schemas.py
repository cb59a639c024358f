"""Request and response bodies of the focal-point API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    title: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(None, max_length=40, pattern=r"^\+?[0-9 ()./-]{3,40}$")


class ContactOut(BaseModel):
    id: str
    org_id: str
    name: str
    title: str | None
    email: str | None
    phone: str | None
    version: int
