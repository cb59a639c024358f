"""parse_id: the canonical spelling of an id, or None for what names nothing (pure)."""

from __future__ import annotations

import uuid
from enum import StrEnum

import pytest
from tansiq_common.repository import parse_id

ID = "0f8e3c1a-5b7d-4e2f-9a6b-1c2d3e4f5a6b"


class Named(StrEnum):
    one = ID.upper()


@pytest.mark.parametrize(
    "value",
    [ID, ID.upper(), "{" + ID + "}", ID.replace("-", ""), uuid.UUID(ID), Named.one],
)
def test_every_spelling_of_a_uuid_is_its_canonical_text(value):
    assert parse_id(value) == ID
    assert parse_id(value) == ID  # asked again: the same answer


@pytest.mark.parametrize("value", [None, "", "not-a-uuid", ID[:-1], 12, b"bytes", object()])
def test_what_is_no_uuid_names_nothing(value):
    assert parse_id(value) is None
