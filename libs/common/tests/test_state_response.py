"""Responses of JSON-ready states (tansiq_common.deps): the bytes the standard library's compact
encoding gives, headers as documented."""

import json

from pydantic import BaseModel
from tansiq_common.deps import page, versioned

STATE = {
    "id": "0b6c6c8e-2f57-4f8e-9d55-6e1b2f0f7a11",
    "name_ar": "مؤسسة قطر للعمل الاجتماعي",
    "name_en": "Qatar Foundation for Social Work",
    "amount": "250000.00",
    "themes": {"sdg": [4, 17], "sectors": ["education"]},
    "note": 'quotes " and \\ and \u2028 and \x00 and </script>',
    "signed": None,
    "cleared": True,
    "version": 7,
}


class Shape(BaseModel):
    id: str
    name_ar: str
    name_en: str
    amount: str
    themes: dict[str, list[object]]
    note: str
    signed: str | None
    cleared: bool
    version: int


def stdlib(content: object) -> bytes:
    return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()


def test_a_versioned_state_is_the_standard_encoding_with_its_etag_and_location():
    response = versioned(Shape, STATE, 201, location="/v1/things/x")
    assert response.body == stdlib(STATE)
    assert response.status_code == 201
    assert response.headers["etag"] == '"7"'
    assert response.headers["location"] == "/v1/things/x"
    assert response.headers["content-type"] == "application/json"


def test_a_page_is_the_standard_encoding_of_its_items_and_cursor():
    items = [STATE, {**STATE, "version": 8, "note": "ثانية"}]
    response = page(items, "c2Vjb25k")
    assert response.body == stdlib({"items": items, "next_cursor": "c2Vjb25k"})
    assert page([], None).body == b'{"items":[],"next_cursor":null}'


def test_a_number_json_cannot_write_is_null_not_an_invalid_document():
    response = page([{"ratio": float("nan"), "peak": float("inf")}], None)
    assert json.loads(response.body) == {
        "items": [{"ratio": None, "peak": None}],
        "next_cursor": None,
    }
