"""What the code says that the deployment must agree with: topics, who may use them, settings,
metrics. Read from the repository's own sources (the checkout this file is in), never copied.

Used by k8s_generate.py (KafkaTopic and KafkaUser resources), k8s_validate.py (`make k8s-validate`)
and the tests (tests/deploy, tests/test_settings_documented.py).
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("registry", "agreements", "engagements", "reporting")


def use_repository_sources() -> None:
    """Import tansiq_* from this checkout, whatever the interpreter has installed (a clone
    validated with another checkout's virtualenv checks its own code)."""
    folders = [REPO / "libs" / "common" / "src", *sorted((REPO / "services").glob("*/src"))]
    for folder in reversed(folders):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))


use_repository_sources()


# -- topics and who may use them ------------------------------------------------------------------

KAFKA_CLUSTER = "tansiq-kafka"
INTEGRATION = "integration"  # the integration jobs' user: they may only write the ingest topic
INGEST_TOPIC = "engagements.ingest.v1"

# What each service consumes (DESIGN §1 and §5). The topics themselves, their partitions and
# retention come from tansiq_common.events.topics.DOMAIN_TOPICS; who produces each is below.
CONSUMES: dict[str, tuple[str, ...]] = {
    "registry": (),
    "agreements": ("registry.organization.v1",),
    "engagements": ("registry.organization.v1", "agreements.agreement.v1", INGEST_TOPIC),
    "reporting": (
        "registry.organization.v1",
        "agreements.agreement.v1",
        "engagements.engagement.v1",
    ),
}


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    retention_ms: int
    configs: dict[str, str]
    dead_letters_of: str | None  # the topic whose .dlq this is


@cache
def topics() -> dict[str, Topic]:
    from tansiq_common.events.topics import DOMAIN_TOPICS, dlq_name

    dlqs = {dlq_name(name): name for name in DOMAIN_TOPICS if dlq_name(name) in DOMAIN_TOPICS}
    return {
        name: Topic(
            name=name,
            partitions=spec.partitions,
            retention_ms=spec.retention_ms,
            configs=dict(spec.kafka_configs()),
            dead_letters_of=dlqs.get(name),
        )
        for name, spec in DOMAIN_TOPICS.items()
    }


def producer(topic: str) -> str:
    """The one writer of a domain topic (DESIGN §5), from the code's topic contracts
    (tansiq_common.events.contracts): a service, or INTEGRATION for the integration jobs."""
    try:
        from tansiq_common.events.contracts import INTEGRATION_SOURCE_PREFIX, contract_for
    except ImportError:  # an older checkout without contracts: the name says it
        return INTEGRATION if topic == INGEST_TOPIC else topic.split(".", 1)[0]
    source = contract_for(topic).producer
    if source.startswith(INTEGRATION_SOURCE_PREFIX):
        return INTEGRATION
    return source.rstrip("/").rsplit("/", 1)[-1]


def dlq(topic: str) -> str:
    from tansiq_common.events.topics import dlq_name

    return dlq_name(topic)


@dataclass(frozen=True)
class Acl:
    resource_type: str  # topic | group
    name: str
    pattern: str  # literal | prefix
    operations: tuple[str, ...]


def kafka_user_name(principal: str) -> str:
    return f"tansiq-{principal}"


def access(principal: str) -> list[Acl]:
    """Least privilege: write the topics it produces, and read their dead letters (`tansiq
    events redrive` runs as the topic's producer: it reads `<topic>.dlq` without a consumer
    group and writes the topic); read what it consumes and write those topics' dead letters;
    its consumer groups (`<service>.<consumer>`) and nothing else."""
    domain = [t for t in topics().values() if t.dead_letters_of is None]
    rules = []
    for t in domain:
        if producer(t.name) == principal:
            rules.append(Acl("topic", t.name, "literal", ("Write", "Describe")))
            rules.append(Acl("topic", dlq(t.name), "literal", ("Read", "Describe")))
    consumed = CONSUMES.get(principal, ())
    for name in consumed:
        rules.append(Acl("topic", name, "literal", ("Read", "Describe")))
        rules.append(Acl("topic", dlq(name), "literal", ("Write", "Describe")))
    if consumed:
        rules.append(Acl("group", f"{principal}.", "prefix", ("Read",)))
    return rules


def principals() -> tuple[str, ...]:
    return (*SERVICES, INTEGRATION)


def produced_by_catalog() -> dict[str, set[str]]:
    """Topics each service's event catalogue (tansiq_<service>.events.EVENTS) publishes to."""
    from tansiq_common.events.catalog import discover

    found: dict[str, set[str]] = {}
    for service in SERVICES:
        for doc in discover((service,)):
            found.setdefault(service, set()).add(doc.topic)
    return found


# -- settings ----------------------------------------------------------------------------------

REQUIRED = object()  # the default of a setting that has none
_CLASS = re.compile(r"^class\s+\w+\s*\(\s*[\w.]*Settings\s*\)", re.MULTILINE)
# A default that names the developer's machine cannot be right in a cluster.
_LOCAL = ("127.0.0.1", "localhost", "[::1]")


@dataclass(frozen=True)
class Setting:
    service: str | None  # None: read by every service (shared classes)
    cls: str
    field: str
    env: tuple[str, ...]  # the variable(s) pydantic reads; the first is the documented one
    default: Any
    description: str
    inherited: bool  # a ServiceSettings field that the service's class did not redeclare

    @property
    def variable(self) -> str:
        return self.env[0]

    @property
    def generic(self) -> str | None:
        """`<SERVICE>_DATABASE_URL` for a per-service variable that every service has."""
        if self.service is None or not self.variable.startswith(self.service.upper() + "_"):
            return None
        from tansiq_common.settings import ServiceSettings

        if self.field not in ServiceSettings.model_fields:
            return None
        return "<SERVICE>_" + self.variable.removeprefix(self.service.upper() + "_")

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def default_is_local(self) -> bool:
        return not self.required and any(mark in str(self.default) for mark in _LOCAL)


def _modules_with_settings() -> list[str]:
    roots = [REPO / "libs" / "common" / "src", *sorted((REPO / "services").glob("*/src"))]
    found = []
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            if "testing" in path.relative_to(root).parts or "migrations" in path.parts:
                continue
            if _CLASS.search(path.read_text(encoding="utf-8")):
                module = ".".join(path.relative_to(root).with_suffix("").parts)
                found.append(module.removesuffix(".__init__"))
    return found


def _env_names(cls: Any, name: str, field: Any) -> tuple[str, ...]:
    from pydantic import AliasChoices

    alias = field.validation_alias
    if isinstance(alias, str):
        return (alias.upper(),)
    if isinstance(alias, AliasChoices):
        return tuple(choice.upper() for choice in alias.choices if isinstance(choice, str))
    if field.alias:
        return (str(field.alias).upper(),)
    return ((str(cls.model_config.get("env_prefix", "")) + name).upper(),)


def settings_classes() -> list[tuple[str | None, type[Any]]]:
    """(service or None, class) for every pydantic-settings class in the code."""
    from pydantic_settings import BaseSettings
    from tansiq_common.settings import ServiceSettings

    classes: list[tuple[str | None, type[Any]]] = []
    for module_name in _modules_with_settings():
        module = importlib.import_module(module_name)
        for value in vars(module).values():
            if not (
                isinstance(value, type)
                and issubclass(value, BaseSettings)
                and value.__module__ == module_name
            ):
                continue
            if value is ServiceSettings:
                continue  # abstract: read through each service's class
            service = module_name.split(".")[0].removeprefix("tansiq_")
            if issubclass(value, ServiceSettings):
                classes.append((service, value))
            else:
                classes.append((None, value))
    return classes


@cache
def settings() -> tuple[Setting, ...]:
    from tansiq_common.settings import ServiceSettings

    found = []
    for service, cls in settings_classes():
        own = set(cls.__annotations__) if service is not None else set()
        for name, field in cls.model_fields.items():
            default = (
                REQUIRED if field.is_required() else field.get_default(call_default_factory=True)
            )
            found.append(
                Setting(
                    service=service,
                    cls=f"{cls.__module__}.{cls.__qualname__}",
                    field=name,
                    env=_env_names(cls, name, field),
                    default=default,
                    description=field.description or "",
                    inherited=service is not None
                    and name in ServiceSettings.model_fields
                    and name not in own,
                )
            )
    return tuple(found)


def settings_read_by(service: str) -> list[Setting]:
    return [s for s in settings() if s.service in (service, None)]


# -- metrics -----------------------------------------------------------------------------------

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
}


@cache
def exported_metrics() -> frozenset[str]:
    """Every series name the services' /metrics can show: the metric modules of libs/common and
    of each service (modules named metrics.py), plus the client's process/platform collectors."""
    from prometheus_client import REGISTRY

    for root in [REPO / "libs" / "common" / "src", *sorted((REPO / "services").glob("*/src"))]:
        for path in sorted(root.rglob("metrics.py")):
            importlib.import_module(".".join(path.relative_to(root).with_suffix("").parts))
    names: set[str] = set()
    for family in REGISTRY.collect():
        names |= {family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",))}
        names |= {sample.name for sample in family.samples}
    return frozenset(names)


def tansiq_metric_families() -> Iterator[str]:
    yield from sorted(n for n in exported_metrics() if n.startswith("tansiq_"))
