import json
import logging

from tansiq_common.context import request_id_var
from tansiq_common.logging import JsonFormatter


def test_a_log_line_is_one_json_object_with_the_request_id():
    formatter = JsonFormatter("registry")
    record = logging.makeLogRecord(
        {"name": "x", "levelname": "INFO", "levelno": 20, "msg": "hello %s", "args": ("مرحبا",)}
    )
    record.status = 201
    token = request_id_var.set("req-123")
    try:
        line = formatter.format(record)
    finally:
        request_id_var.reset(token)
    entry = json.loads(line)
    assert entry["message"] == "hello مرحبا"
    assert entry["request_id"] == "req-123"
    assert entry["service"] == "registry"
    assert entry["status"] == 201
    assert "\n" not in line


def test_a_line_holds_what_the_fast_encoder_refuses_and_values_of_any_type():
    """Extras of any type are written (as text when JSON has no form for them), and a lone
    surrogate (which UTF-8 cannot encode) is escaped rather than losing the line."""
    formatter = JsonFormatter("registry")
    record = logging.makeLogRecord(
        {
            "name": "x",
            "levelname": "WARNING",
            "levelno": 30,
            "msg": "path %s",
            "args": ("/v1/x\udc80",),
        }
    )
    record.by_status = {404: 2}
    record.amount = 2**80
    record.thing = ValueError("no JSON form")
    entry = json.loads(formatter.format(record))
    assert entry["message"] == "path /v1/x\udc80"
    assert entry["amount"] == 2**80
    assert entry["thing"] == "no JSON form"
    plain = formatter.format(
        logging.makeLogRecord({"name": "x", "levelname": "INFO", "levelno": 20, "msg": "ok"})
    )
    assert json.loads(plain)["message"] == "ok"
    # A fallback line is still one JSON object, with the dict's key as JSON text.
    assert entry["by_status"] == {"404": 2}
