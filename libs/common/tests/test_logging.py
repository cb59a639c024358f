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
