"""JSON structured logs, one object a line, carrying the request id and, while a span is active,
its trace and span ids (tansiq_common.tracing)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from pydantic_core import PydanticSerializationError, to_json

from tansiq_common.context import current_request_id, current_span_ids

_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = current_request_id()
        if request_id:
            entry["request_id"] = request_id
        if (span := current_span_ids()) is not None:
            entry["trace_id"], entry["span_id"] = span
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # pydantic-core's encoder: the stdlib's output for plain values, several times faster.
        try:
            return to_json(entry, fallback=str, inf_nan_mode="strings").decode()
        except PydanticSerializationError:  # text it cannot encode (a lone surrogate): escaped
            return json.dumps(entry, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    root = logging.getLogger()
    # Idempotent, and leaves other handlers (pytest's log capture) in place.
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter(service))
        root.addHandler(handler)
    root.setLevel(level.upper())
    # What no line shows is not collected for every record (the logging HOWTO's "Optimization"):
    # the caller's file and line (a walk up the stack per record), thread and process.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    # uvicorn's own access log duplicates ours (which has the request id); keep its errors.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
