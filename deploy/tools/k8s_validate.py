"""`make k8s-validate`: the deployment assets checked offline, against the code they deploy.

    python deploy/tools/k8s_validate.py

1. The generated Kafka resources are current (deploy/tools/k8s_generate.py --check).
2. Every object written under deploy/k8s, and every object of every rendered overlay, is valid:
   core objects strictly against the Kubernetes API schemas (kubernetes-validate, unknown fields
   are errors), custom resources against the vendored schemas in deploy/k8s/crd-schemas.
3. Policy, per overlay: probes, resources, non-root, read-only root filesystem, dropped
   capabilities; a migration Job per service and release; every topic in the code has its
   KafkaTopic; Kafka only over TLS + SCRAM-SHA-512 with one least-privilege KafkaUser per service
   (and one for integration jobs); NetworkPolicies; separate owner and runtime database roles;
   backups in production; every setting the code reads is set (rule in `required_settings`).
4. docker-compose.yml against the same code (topics, settings, service URLs).
5. deploy/monitoring: `promtool check rules` and `promtool test rules`, and the alerts' and the
   Grafana dashboard's expressions use only metrics the code exports.

Prints each problem, then one summary line, last. Exit status 1 if anything is wrong.
Needs kustomize (kubectl kustomize, or kustomize; built with Go as a last resort) and promtool
(on PATH, or unpacked from Debian's `prometheus` package into .local/bin by
deploy/tools/install-promtool.sh, which `make k8s-validate` runs when it is missing).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import code_catalog as catalog
import k8s_generate as generate

REPO = catalog.REPO
K8S = REPO / "deploy" / "k8s"
CRD_DIR = K8S / "crd-schemas"
MONITORING = REPO / "deploy" / "monitoring"
COMPOSE = REPO / "docker-compose.yml"
OVERLAYS = ("dev", "prod")
NAMESPACES = {"dev": "tansiq-dev", "prod": "tansiq"}
KUBERNETES_VERSION = "1.32"  # the API schemas the plain objects are checked against
KUSTOMIZE_MODULE = "sigs.k8s.io/kustomize/kustomize/v5@v5.5.0"

CRD_SCHEMAS = {
    ("kafka.strimzi.io/v1", "Kafka"): "kafka.strimzi.io/kafka_v1.json",
    ("kafka.strimzi.io/v1", "KafkaNodePool"): "kafka.strimzi.io/kafkanodepool_v1.json",
    ("kafka.strimzi.io/v1", "KafkaTopic"): "kafka.strimzi.io/kafkatopic_v1.json",
    ("kafka.strimzi.io/v1", "KafkaUser"): "kafka.strimzi.io/kafkauser_v1.json",
    ("postgresql.cnpg.io/v1", "Cluster"): "postgresql.cnpg.io/cluster_v1.json",
    ("postgresql.cnpg.io/v1", "Database"): "postgresql.cnpg.io/database_v1.json",
}

# Settings that must be written out on Kubernetes even though the code has a default: the
# environment is named explicitly outside development (issue 9), the identity provider is the
# installation's, and Kafka is reached only over TLS + SCRAM as the pod's own user.
MUST_SET_ON_KUBERNETES = (
    "TANSIQ_ENV",
    "AUTH_JWKS_URL",
    "AUTH_ISSUER",
    "AUTH_AUDIENCE",
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "KAFKA_SSL_CAFILE",
)
KAFKA_CLIENT_LABEL = "tansiq.io/kafka-client"
DATABASE_CLIENT_LABEL = "tansiq.io/database-client"
LOCAL_CONFIG = "config.kubernetes.io/local-config"

# Metrics the alerts and the dashboard may use besides the services' own: kube-state-metrics'
# view of the Deployments (readiness is a pod condition; no service exports it about itself).
EXTERNAL_METRICS = frozenset(
    {
        "kube_deployment_status_replicas_available",
        "kube_deployment_spec_replicas",
    }
)
# The alerts issue 16 asks for, by what they watch.
REQUIRED_ALERTS = {
    "relay backlog": "TansiqOutboxBacklog",
    "relay age": "TansiqOutboxStale",
    "relay missing": "TansiqRelayNotRunning",
    "consumer lag": "TansiqConsumerLag",
    "DLQ growth": "TansiqDeadLetters",
    "5xx rate": "TansiqHttp5xxRate",
    "readiness": "TansiqReplicasNotReady",
}
# Who asks whom over REST on a replica miss (DESIGN §1): <OTHER>_BASE_URL must name that Service.
SERVICE_CALLS = {"agreements": ("registry",), "engagements": ("registry", "agreements")}
TEXT_SUFFIXES = frozenset({".yaml", ".yml", ".md", ".py", ".sh", ".json", ".sql", ""})
TOPIC_LIKE = re.compile(r"\b[a-z]+\.[a-z_]+\.v\d+(?:\.dlq)?\b")

Doc = dict[str, Any]


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    checks: int = 0
    facts: dict[str, int] = field(default_factory=dict)

    def check(self, condition: object, problem: str) -> bool:
        self.checks += 1
        if not condition:
            self.problems.append(problem)
        return bool(condition)


# -- rendering and schemas -----------------------------------------------------------------------


def kustomize_command() -> list[str]:
    local = REPO / ".local" / "bin" / "kustomize"
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if local.is_file():
        return [str(local), "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    if shutil.which("go"):
        env = {**os.environ, "GOBIN": str(local.parent), "GOFLAGS": "-mod=mod"}
        subprocess.run(  # noqa: S603 - a fixed command
            ["go", "install", KUSTOMIZE_MODULE],  # noqa: S607 - Go from PATH
            check=True,
            env=env,
            timeout=600,
        )
        return [str(local), "build"]
    raise RuntimeError("no kustomize: install kubectl or kustomize (or Go, to build it)")


@cache
def render(overlay: str) -> tuple[Doc, ...]:
    result = subprocess.run(  # noqa: S603 - kustomize over our own overlays
        [*kustomize_command(), str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"kustomize failed for overlays/{overlay}:\n{result.stderr}")
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def crd_checksums() -> dict[str, str]:
    """The sha256 of each vendored schema as its README records it."""
    rows = re.findall(
        r"^\| (\S+\.json) \|.*\| `([0-9a-f]{64})` \|$", _read(CRD_DIR / "README.md"), re.M
    )
    return dict(rows)


@cache
def crd_validators() -> dict[tuple[str, str], Any]:
    """One validator per schema, built once. (The schemas are not checked against their
    meta-schema: that takes seconds, and the README's checksums already pin them.)"""
    import jsonschema

    validators = {}
    for key, name in CRD_SCHEMAS.items():
        schema = json.loads((CRD_DIR / name).read_text(encoding="utf-8"))
        cls = jsonschema.validators.validator_for(schema)
        validators[key] = cls(schema)
    return validators


def validate_object(doc: Doc) -> None:
    """Raises if the object is not what a cluster with these operators would accept."""
    import jsonschema
    import kubernetes_validate

    key = (str(doc.get("apiVersion")), str(doc.get("kind")))
    validators = crd_validators()
    if key in validators:
        error = jsonschema.exceptions.best_match(validators[key].iter_errors(doc))
        if error is not None:
            raise error
    else:
        # strict: unknown fields are errors, so a misspelt or misplaced key is caught.
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def load_documents(path: Path) -> list[Any]:
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def kustomizations() -> list[Path]:
    return sorted(K8S.rglob("kustomization.yaml"))


def patch_files() -> set[Path]:
    patches = set()
    for path in kustomizations():
        for patch in load_documents(path)[0].get("patches", []):
            if "path" in patch:
                patches.add((path.parent / patch["path"]).resolve())
    return patches


def is_local_config(doc: Doc) -> bool:
    annotations = doc.get("metadata", {}).get("annotations") or {}
    return str(annotations.get(LOCAL_CONFIG, "")).lower() == "true"


def check_sources(report: Report) -> None:
    """Whole objects as written (patches are partial: they are checked once rendered)."""
    for name, expected in sorted(crd_checksums().items()):
        path = CRD_DIR / name
        actual = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"
        report.check(
            actual == expected, f"crd-schemas/{name}: sha256 {actual}, README says {expected}"
        )
    report.check(
        set(crd_checksums()) == set(CRD_SCHEMAS.values()),
        "crd-schemas/README.md must list every schema the validator uses, with its sha256",
    )
    for stale in generate.stale():
        report.check(False, f"{generate.shown(stale)} is stale: run deploy/tools/k8s_generate.py")
    for path in kustomizations():
        spec = load_documents(path)[0]
        named = [*spec.get("resources", []), *spec.get("components", [])]
        named += [p["path"] for p in spec.get("patches", []) if "path" in p]
        for generator in spec.get("configMapGenerator", []) + spec.get("secretGenerator", []):
            named += [f.split("=", 1)[-1] for f in generator.get("files", [])]
        for relative in named:
            target = path.parent / relative
            report.check(
                target.is_file() or (target / "kustomization.yaml").is_file(),
                f"{path.relative_to(REPO)}: {relative} does not exist",
            )
    patches = patch_files()
    count = 0
    for path in sorted(K8S.rglob("*.yaml")):
        if path.name == "kustomization.yaml" or path.resolve() in patches:
            continue
        for doc in load_documents(path):
            if is_local_config(doc):
                continue
            count += 1
            error = _validation_error(doc)
            report.check(
                error is None, f"{path.relative_to(REPO)}: {doc.get('kind')} {_name(doc)}: {error}"
            )
    report.facts["source objects"] = count
    # Nothing may need files from beside the repository (the folder that once held the CRD
    # schemas and the spec sat next to the checkout).
    beside = "/".join(("..", "shared"))
    machine = "/".join(("", "work", "shared"))
    for path in [*sorted((REPO / "deploy").rglob("*")), COMPOSE, REPO / "Dockerfile"]:
        if path.is_file() and path.suffix in TEXT_SUFFIXES:
            if "crd-schemas" in path.parts or any(
                part.startswith(".") for part in path.relative_to(REPO).parts
            ):
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            report.check(
                beside not in text and machine not in text,
                f"{path.relative_to(REPO)} refers to files outside the repository",
            )


def _name(doc: Doc) -> str:
    return str(doc.get("metadata", {}).get("name", "?"))


# -- helpers over a rendered overlay -------------------------------------------------------------


def of_kind(docs: Iterable[Doc], kind: str) -> list[Doc]:
    return [doc for doc in docs if doc.get("kind") == kind]


def named(docs: Iterable[Doc], kind: str, name: str) -> Doc | None:
    matches = [doc for doc in of_kind(docs, kind) if _name(doc) == name]
    return matches[0] if len(matches) == 1 else None


def generated(docs: Iterable[Doc], base_name: str) -> Doc | None:
    """A generated ConfigMap by the name it was given (kustomize appends a content hash)."""
    matches = [
        c
        for c in of_kind(docs, "ConfigMap")
        if re.fullmatch(rf"{base_name}-[a-z0-9]{{10}}", _name(c))
    ]
    return matches[0] if len(matches) == 1 else None


def pod_spec(workload: Doc) -> Doc:
    return dict(workload["spec"]["template"]["spec"])


def containers(workload: Doc, init: bool = True) -> list[Doc]:
    pod = pod_spec(workload)
    return [*(pod.get("initContainers", []) if init else []), *pod.get("containers", [])]


def env_of(container: Doc) -> dict[str, Doc]:
    return {item["name"]: item for item in container.get("env", [])}


def visible_env(container: Doc, docs: Iterable[Doc]) -> dict[str, str | None]:
    """Variables the container gets: env (value, or None when from a Secret) and envFrom's
    ConfigMaps' keys."""
    found: dict[str, str | None] = {}
    config_maps = {_name(c): c for c in of_kind(docs, "ConfigMap")}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef")
        if ref and ref["name"] in config_maps:
            for key, value in (config_maps[ref["name"]].get("data") or {}).items():
                found[source.get("prefix", "") + key] = value
    for name, item in env_of(container).items():
        found[name] = item.get("value")
    return found


def service_of(workload: Doc) -> str:
    return str(workload["metadata"].get("labels", {}).get("app.kubernetes.io/name", ""))


def release(docs: Iterable[Doc]) -> str:
    config = generated(docs, "tansiq-release")
    return str(config["data"]["TANSIQ_RELEASE"]) if config else "?"


def shared_config(docs: Iterable[Doc]) -> dict[str, str]:
    config = generated(docs, "tansiq-config")
    return dict(config.get("data", {})) if config else {}


# -- policy over a rendered overlay --------------------------------------------------------------


def check_rendered_objects(docs: tuple[Doc, ...], overlay: str, report: Report) -> None:
    custom = 0
    for doc in docs:
        error = _validation_error(doc)
        report.check(error is None, f"{overlay}: {doc.get('kind')} {_name(doc)} invalid: {error}")
        custom += (doc.get("apiVersion"), doc.get("kind")) in CRD_SCHEMAS
    report.facts["rendered objects"] = report.facts.get("rendered objects", 0) + len(docs)
    report.facts["custom resources"] = report.facts.get("custom resources", 0) + custom
    placeholders = [
        f"{d['kind']} {_name(d)}" for d in docs if "SERVICE" in _json(d, skip_data=True)
    ]
    report.check(not placeholders, f"{overlay}: SERVICE placeholder left in {placeholders}")
    namespace = NAMESPACES[overlay]
    report.check(named(docs, "Namespace", namespace), f"{overlay}: no Namespace {namespace}")
    for doc in docs:
        if doc["kind"] != "Namespace":
            report.check(
                doc["metadata"].get("namespace") == namespace,
                f"{overlay}: {doc['kind']} {_name(doc)} is not in namespace {namespace}",
            )


def _validation_error(doc: Doc) -> str | None:
    try:
        validate_object(doc)
    except Exception as exc:  # any refusal is the finding
        return str(exc).splitlines()[0][:300]
    return None


def _json(doc: Doc, skip_data: bool = False) -> str:
    if skip_data and doc.get("kind") == "ConfigMap":
        doc = {k: v for k, v in doc.items() if k != "data"}
    return json.dumps(doc)


def check_workloads(docs: tuple[Doc, ...], overlay: str, report: Report) -> None:
    """Probes, resources, non-root, read-only root filesystem, no capabilities, one image."""
    tag = release(docs)
    for workload in of_kind(docs, "Deployment") + of_kind(docs, "Job"):
        where = f"{overlay}: {workload['kind']} {_name(workload)}"
        pod = pod_spec(workload)
        security = pod.get("securityContext", {})
        report.check(security.get("runAsNonRoot") is True, f"{where}: runAsNonRoot is not true")
        report.check(security.get("runAsUser", 0) != 0, f"{where}: runs as uid 0")
        report.check(
            security.get("seccompProfile", {}).get("type") == "RuntimeDefault",
            f"{where}: no RuntimeDefault seccomp profile",
        )
        report.check(
            pod.get("automountServiceAccountToken") is False,
            f"{where}: mounts a Kubernetes API token it does not need",
        )
        for container in containers(workload):
            at = f"{where} container {container['name']}"
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                report.check(
                    {"cpu", "memory"} <= set(resources.get(bound, {})),
                    f"{at}: resources.{bound} needs cpu and memory",
                )
            context = container.get("securityContext", {})
            report.check(
                context.get("readOnlyRootFilesystem") is True,
                f"{at}: root filesystem is writable",
            )
            report.check(
                context.get("allowPrivilegeEscalation") is False,
                f"{at}: allowPrivilegeEscalation is not false",
            )
            report.check(
                context.get("capabilities", {}).get("drop") == ["ALL"],
                f"{at}: capabilities are not all dropped",
            )
            report.check(
                str(container.get("image", "")).rsplit(":", 1)[-1] == tag,
                f"{at}: image {container.get('image')} is not the release {tag}",
            )
        if workload["kind"] != "Deployment":
            continue
        annotations = workload["spec"]["template"]["metadata"].get("annotations", {})
        report.check(
            annotations.get("prometheus.io/path") == "/metrics"
            and annotations.get("prometheus.io/port") == "8000",
            f"{where}: not scraped at :8000/metrics",
        )
        for container in containers(workload, init=False):
            at = f"{where} container {container['name']}"
            for probe, path in (
                ("startupProbe", "/health/live"),
                ("livenessProbe", "/health/live"),
                ("readinessProbe", "/health/ready"),
            ):
                got = container.get(probe, {}).get("httpGet", {})
                report.check(
                    got.get("path") == path and got.get("port") == "http",
                    f"{at}: {probe} must GET {path} on port http",
                )


def check_services(docs: tuple[Doc, ...], overlay: str, report: Report) -> None:
    """Each service: its Deployment, Service, migration Job for this release, autoscaling."""
    services = set(catalog.SERVICES)
    folders = {p.name for p in (K8S / "base" / "services").iterdir() if p.is_dir()}
    report.check(
        folders == services, f"base/services has {sorted(folders)}, code has {sorted(services)}"
    )
    report.check(
        {_name(d) for d in of_kind(docs, "Deployment")} == services,
        f"{overlay}: Deployments {sorted(_name(d) for d in of_kind(docs, 'Deployment'))}",
    )
    tag = release(docs)
    config_maps = {_name(c) for c in of_kind(docs, "ConfigMap")}
    for service in sorted(services):
        where = f"{overlay}: {service}"
        deployment = named(docs, "Deployment", service)
        svc = named(docs, "Service", service)
        job = named(docs, "Job", f"migrate-{service}-{tag}")
        if not report.check(
            deployment and svc and job, f"{where}: Deployment, Service or Job missing"
        ):
            continue
        assert deployment is not None
        assert svc is not None
        assert job is not None
        app = containers(deployment, init=False)[0]
        report.check(
            app.get("args") == ["serve", service, "--host", "0.0.0.0", "--port", "8000"],
            f"{where}: the container does not serve {service} on 8000",
        )
        report.check(
            {"name": "http", "containerPort": 8000, "protocol": "TCP"} in app.get("ports", []),
            f"{where}: no http port 8000",
        )
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        selector = svc["spec"]["selector"]
        report.check(selector.items() <= pod_labels.items(), f"{where}: Service selects no API pod")
        report.check(
            not selector.items() <= job["spec"]["template"]["metadata"]["labels"].items(),
            f"{where}: the Service would send traffic to migration pods",
        )
        (port,) = svc["spec"]["ports"]
        report.check((port["port"], port["targetPort"]) == (8000, "http"), f"{where}: Service port")
        (migrate,) = containers(job)
        report.check(
            job["spec"]["template"]["spec"]["restartPolicy"] == "Never", f"{where}: Job restarts"
        )
        report.check(
            migrate.get("args") == ["migrate", service], f"{where}: Job does not migrate {service}"
        )
        (wait,) = pod_spec(deployment).get("initContainers", [None])
        report.check(
            wait is not None
            and wait["command"][-1] == service
            and wait["command"][1].endswith("/wait_for_migrations.py"),
            f"{where}: pods do not wait for the migrations",
        )
        for workload in (deployment, job):
            pod = pod_spec(workload)
            used = {v["configMap"]["name"] for v in pod.get("volumes", []) if "configMap" in v}
            for container in containers(workload):
                used |= {
                    e["configMapRef"]["name"]
                    for e in container.get("envFrom", [])
                    if "configMapRef" in e and not e["configMapRef"].get("optional")
                }
            report.check(
                used <= config_maps, f"{where}: uses missing ConfigMaps {used - config_maps}"
            )
    scripts = generated(docs, "tansiq-scripts")
    report.check(
        scripts
        and scripts["data"].get("wait_for_migrations.py")
        == _read(K8S / "base" / "scripts" / "wait_for_migrations.py"),
        f"{overlay}: the shipped wait_for_migrations.py is not the repository's",
    )
    autoscalers = {
        h["spec"]["scaleTargetRef"]["name"] for h in of_kind(docs, "HorizontalPodAutoscaler")
    }
    budgets = of_kind(docs, "PodDisruptionBudget")
    if overlay == "dev":
        report.check(not autoscalers and not budgets, "dev: no autoscaler or disruption budget")
        report.check(
            all(d["spec"].get("replicas") == 1 for d in of_kind(docs, "Deployment")),
            "dev: one pod per service",
        )
        return
    report.check(autoscalers == services, f"{overlay}: autoscalers for {sorted(autoscalers)}")
    for deployment in of_kind(docs, "Deployment"):
        # The autoscaler owns the replica count; a fixed one would fight it on every apply.
        report.check(
            "replicas" not in deployment["spec"], f"{overlay}: {_name(deployment)} fixes replicas"
        )
    for budget in budgets:
        selector = budget["spec"]["selector"]["matchLabels"]
        matching = [
            d
            for d in of_kind(docs, "Deployment")
            if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        report.check(
            len(matching) == 1, f"{overlay}: PDB {_name(budget)} covers {len(matching)} Deployments"
        )
    report.check(len(budgets) == len(services), f"{overlay}: {len(budgets)} disruption budgets")


def check_topics(docs: tuple[Doc, ...], overlay: str, report: Report) -> None:
    """Every topic in the code has its KafkaTopic, as the code sizes it; nothing else."""
    kafka = named(docs, "Kafka", catalog.KAFKA_CLUSTER)
    if not report.check(kafka, f"{overlay}: no Kafka {catalog.KAFKA_CLUSTER}") or kafka is None:
        return
    code = catalog.topics()
    declared = {t["spec"]["topicName"]: t for t in of_kind(docs, "KafkaTopic")}
    report.check(
        set(declared) == set(code),
        f"{overlay}: KafkaTopics differ from the code: missing {sorted(set(code) - set(declared))},"
        f" extra {sorted(set(declared) - set(code))}",
    )
    brokers = sum(
        p["spec"]["replicas"]
        for p in of_kind(docs, "KafkaNodePool")
        if "broker" in p["spec"]["roles"]
    )
    report.facts["topics"] = len(code)
    for name, topic in declared.items():
        spec = topic["spec"]
        where = f"{overlay}: KafkaTopic {name}"
        report.check(
            topic["metadata"]["labels"].get("strimzi.io/cluster") == catalog.KAFKA_CLUSTER,
            f"{where}: not labelled for {catalog.KAFKA_CLUSTER}",
        )
        if name in code:
            report.check(spec["partitions"] == code[name].partitions, f"{where}: partitions")
            report.check(
                spec["config"].get("retention.ms") == code[name].retention_ms, f"{where}: retention"
            )
        report.check(
            0 < spec["replicas"] <= brokers,
            f"{where}: {spec['replicas']} replicas, {brokers} brokers",
        )
        insync = spec["config"].get("min.insync.replicas", 1)
        # A write must survive one broker down, unless there is only one.
        report.check(
            insync < spec["replicas"] or spec["replicas"] == 1,
            f"{where}: min.insync.replicas {insync}",
        )
        report.check(
            spec["replicas"] == (1 if overlay == "dev" else 3),
            f"{where}: {spec['replicas']} replicas",
        )
    report.check(
        kafka["spec"]["kafka"]["config"].get("auto.create.topics.enable") is False,
        f"{overlay}: the broker creates topics on first use",
    )


def check_kafka_security(docs: tuple[Doc, ...], overlay: str, report: Report) -> None:
    """TLS + SCRAM-SHA-512 only; ACLs enforced; one least-privilege user per principal."""
    kafka = named(docs, "Kafka", catalog.KAFKA_CLUSTER)
    if kafka is None:
        return
    spec = kafka["spec"]["kafka"]
    listeners = spec.get("listeners", [])
    for listener in listeners:
        where = f"{overlay}: Kafka listener {listener.get('name')}"
        report.check(listener.get("tls") is True, f"{where}: not TLS")
        report.check(
            listener.get("authentication", {}).get("type") == "scram-sha-512",
            f"{where}: not SCRAM-SHA-512",
        )
        peers = listener.get("networkPolicyPeers", [])
        report.check(
            peers
            and all(
                p.get("podSelector", {}).get("matchLabels", {}).get(KAFKA_CLIENT_LABEL) == "true"
                and set(p) == {"podSelector"}
                for p in peers
            ),
            f"{where}: reachable by pods other than Kafka clients",
        )
    report.check(
        spec.get("authorization", {}).get("type") == "simple", f"{overlay}: Kafka ACLs off"
    )
    for pool in of_kind(docs, "KafkaNodePool"):
        report.check(
            pool["metadata"]["labels"].get("strimzi.io/cluster") == catalog.KAFKA_CLUSTER,
            f"{overlay}: KafkaNodePool {_name(pool)} belongs to no cluster",
        )
    config = shared_config(docs)
    host, _, port = config.get("KAFKA_BOOTSTRAP_SERVERS", ":").partition(":")
    report.check(
        host == f"{catalog.KAFKA_CLUSTER}-kafka-bootstrap"
        and port.isdigit()
        and int(port) in {item.get("port") for item in listeners},
        f"{overlay}: KAFKA_BOOTSTRAP_SERVERS={config.get('KAFKA_BOOTSTRAP_SERVERS')}: no listener",
    )
    report.check(config.get("KAFKA_SECURITY_PROTOCOL") == "SASL_SSL", f"{overlay}: not SASL_SSL")
    report.check(config.get("KAFKA_SASL_MECHANISM") == "SCRAM-SHA-512", f"{overlay}: not SCRAM")

    users = {_name(u): u for u in of_kind(docs, "KafkaUser")}
    expected = {catalog.kafka_user_name(p): p for p in catalog.principals()}
    report.check(set(users) == set(expected), f"{overlay}: KafkaUsers {sorted(users)}")
    writers: dict[str, list[str]] = {}
    for user_name, principal in expected.items():
        user = users.get(user_name)
        if user is None:
            continue
        where = f"{overlay}: KafkaUser {user_name}"
        report.check(
            user["spec"].get("authentication", {}).get("type") == "scram-sha-512",
            f"{where}: not SCRAM",
        )
        acls = user["spec"].get("authorization", {}).get("acls", [])
        got = {_acl_key(a) for a in acls}
        want = {
            (a.resource_type, a.name, a.pattern, frozenset(a.operations))
            for a in catalog.access(principal)
        }
        report.check(
            got == want, f"{where}: ACLs {sorted(map(str, got ^ want))} differ from the code's"
        )
        for acl in acls:
            operations = set(acl["operations"])
            report.check(
                "All" not in operations and acl["resource"].get("name", "*") != "*",
                f"{where}: a wildcard ACL",
            )
            if acl["resource"]["type"] == "topic" and "Write" in operations:
                writers.setdefault(acl["resource"]["name"], []).append(principal)
    for name, topic in catalog.topics().items():
        if topic.dead_letters_of is None:
            report.check(
                writers.get(name) == [catalog.producer(name)],
                f"{overlay}: {name} is written by {writers.get(name)}, not only its producer",
            )
    for service, produced in catalog.produced_by_catalog().items():
        for name in produced:
            if catalog.producer(name) == catalog.INTEGRATION:
                continue  # the ingest topic's events, documented by the service that reads them
            report.check(
                service in writers.get(name, []),
                f"{overlay}: {service} publishes {name} (its event catalogue) but may not write it",
            )
    ca_secret = f"{catalog.KAFKA_CLUSTER}-cluster-ca-cert"
    for deployment in of_kind(docs, "Deployment"):
        service = _name(deployment)
        where = f"{overlay}: {service}"
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        report.check(labels.get(KAFKA_CLIENT_LABEL) == "true", f"{where}: pods cannot reach Kafka")
        app = containers(deployment, init=False)[0]
        volumes = {v["name"]: v for v in pod_spec(deployment).get("volumes", [])}
        mounts = {m["mountPath"]: volumes.get(m["name"], {}) for m in app.get("volumeMounts", [])}
        cafile = Path(config.get("KAFKA_SSL_CAFILE", "/"))
        source = mounts.get(str(cafile.parent), {}).get("secret", {})
        report.check(
            source.get("secretName") == ca_secret
            and {"key": "ca.crt", "path": cafile.name} in source.get("items", []),
            f"{where}: KAFKA_SSL_CAFILE {cafile} is not the cluster CA ({ca_secret})",
        )
    # Every container of a service is that service's Kafka user (the settings ask it of each).
    for workload in of_kind(docs, "Deployment") + of_kind(docs, "Job"):
        login = catalog.kafka_user_name(service_of(workload))
        for container in containers(workload):
            env = env_of(container)
            where = f"{overlay}: {workload['kind']} {_name(workload)} container {container['name']}"
            report.check(
                env.get("KAFKA_SASL_USERNAME", {}).get("value") == login,
                f"{where}: KAFKA_SASL_USERNAME is not its KafkaUser {login}",
            )
            report.check(
                env.get("KAFKA_SASL_PASSWORD", {}).get("valueFrom", {}).get("secretKeyRef")
                == {"name": login, "key": "password"},
                f"{where}: KAFKA_SASL_PASSWORD is not from the Secret {login}",
            )


def _acl_key(acl: Doc) -> tuple[str, str, str, frozenset[str]]:
    resource = acl["resource"]
    return (
        resource["type"],
        resource.get("name", ""),
        resource.get("patternType", "literal"),
        frozenset(acl["operations"]),
    )


def check_network_policies(docs: tuple[Doc, ...], overlay: str, report: Report) -> None:
    """Default deny; the APIs from the gateway; PostgreSQL from the services and Jobs only."""
    policies = of_kind(docs, "NetworkPolicy")
    report.check(
        any(
            p["spec"].get("podSelector") == {}
            and p["spec"].get("policyTypes") == ["Ingress"]
            and not p["spec"].get("ingress")
            for p in policies
        ),
        f"{overlay}: no default-deny ingress NetworkPolicy",
    )
    api = [
        p
        for p in policies
        if p["spec"].get("podSelector", {}).get("matchLabels")
        == {"app.kubernetes.io/component": "api"}
    ]
    report.check(
        any(
            any(
                peer.get("namespaceSelector", {}).get("matchLabels", {}).get("tansiq.io/gateway")
                == "true"
                for rule in p["spec"].get("ingress", [])
                for peer in rule.get("from", [])
            )
            for p in api
        ),
        f"{overlay}: the gateway cannot reach the services",
    )
    cluster = of_kind(docs, "Cluster")
    database_pods = {"cnpg.io/cluster": _name(cluster[0])} if cluster else {}
    pg = [
        p for p in policies if p["spec"].get("podSelector", {}).get("matchLabels") == database_pods
    ]
    if report.check(len(pg) == 1, f"{overlay}: no NetworkPolicy for the PostgreSQL pods"):
        for rule in pg[0]["spec"].get("ingress", []):
            ports = {p.get("port") for p in rule.get("ports", [])}
            for peer in rule.get("from", []):
                labels = peer.get("podSelector", {}).get("matchLabels", {})
                allowed = labels in ({DATABASE_CLIENT_LABEL: "true"}, database_pods) or (
                    "namespaceSelector" in peer and 5432 not in ports
                )
                report.check(allowed, f"{overlay}: PostgreSQL is open to {peer}")
    # Only the services' pods and their migration Jobs carry the database client label.
    for doc in docs:
        template = (
            doc.get("spec", {}).get("template", {}) if isinstance(doc.get("spec"), dict) else {}
        )
        labels = (
            template.get("metadata", {}).get("labels", {}) if isinstance(template, dict) else {}
        )
        if labels.get(DATABASE_CLIENT_LABEL) == "true" or labels.get(KAFKA_CLIENT_LABEL) == "true":
            report.check(
                doc["kind"] in {"Deployment", "Job"} and service_of(doc) in catalog.SERVICES,
                f"{overlay}: {doc['kind']} {_name(doc)} is labelled as a database or Kafka client",
            )


def check_databases(docs: tuple[Doc, ...], overlay: str, report: Report) -> None:
    """An owner role that migrates, a runtime role that serves; each from its own Secret."""
    clusters = of_kind(docs, "Cluster")
    if not report.check(len(clusters) == 1, f"{overlay}: {len(clusters)} PostgreSQL clusters"):
        return
    cluster = clusters[0]
    host = f"{_name(cluster)}-rw"
    roles = {r["name"]: r for r in cluster["spec"].get("managed", {}).get("roles", [])}
    databases = {d["spec"]["name"]: d for d in of_kind(docs, "Database")}
    script = _read(K8S / "db-secrets.sh")
    report.check(
        f"for service in {' '.join(catalog.SERVICES)}; do" in script
        and 'make_secret "tansiq-db-$service-runtime" "${service}_runtime"' in script
        and 'make_secret "tansiq-db-$service-owner" "$service"' in script,
        "db-secrets.sh does not make the Secrets of every service",
    )
    tag = release(docs)
    for service in catalog.SERVICES:
        where = f"{overlay}: {service}"
        owner, runtime = roles.get(service), roles.get(f"{service}_runtime")
        if not report.check(owner and runtime, f"{where}: owner or runtime role missing"):
            continue
        assert owner is not None
        assert runtime is not None
        owner_secret = f"tansiq-db-{service}-owner"
        runtime_secret = f"tansiq-db-{service}-runtime"
        report.check(
            owner.get("passwordSecret", {}).get("name") == owner_secret, f"{where}: owner Secret"
        )
        report.check(
            runtime.get("passwordSecret", {}).get("name") == runtime_secret,
            f"{where}: runtime Secret",
        )
        for role in (owner, runtime):
            report.check(
                role.get("login") is True
                and not any(
                    role.get(k)
                    for k in ("superuser", "createdb", "createrole", "replication", "bypassrls")
                ),
                f"{where}: role {role['name']} has more than login",
            )
        database = databases.get(service)
        if report.check(database, f"{where}: no Database"):
            assert database is not None
            report.check(
                database["spec"]["owner"] == service, f"{where}: database not owned by {service}"
            )
            report.check(
                database["spec"]["cluster"]["name"] == _name(cluster), f"{where}: other cluster"
            )
            report.check(
                {"name": "pg_trgm", "ensure": "present"} in database["spec"].get("extensions", []),
                f"{where}: no pg_trgm",
            )
            report.check(
                database["spec"].get("databaseReclaimPolicy") == "retain", f"{where}: not retained"
            )
        url = f"postgresql://$(DB_USERNAME):$(DB_PASSWORD)@{host}:5432/{service}"
        owner_url = f"postgresql://$(DB_OWNER_USERNAME):$(DB_OWNER_PASSWORD)@{host}:5432/{service}"
        prefix = service.upper()
        deployment = named(docs, "Deployment", service)
        job = named(docs, "Job", f"migrate-{service}-{tag}")
        for workload in (deployment, job):
            if workload is None:
                continue
            for container in containers(workload):
                env = env_of(container)
                at = f"{where} {workload['kind']} container {container['name']}"
                report.check(
                    env.get(f"{prefix}_DATABASE_URL", {}).get("value") == url, f"{at}: runtime URL"
                )
                for variable in ("DB_USERNAME", "DB_PASSWORD"):
                    report.check(
                        env.get(variable, {})
                        .get("valueFrom", {})
                        .get("secretKeyRef", {})
                        .get("name")
                        == runtime_secret,
                        f"{at}: {variable} not from {runtime_secret}",
                    )
                names = list(env)
                # $(VAR) expands only from variables defined earlier in the list.
                report.check(
                    names.index("DB_PASSWORD") < names.index(f"{prefix}_DATABASE_URL")
                    if {"DB_PASSWORD", f"{prefix}_DATABASE_URL"} <= set(names)
                    else False,
                    f"{at}: DB_PASSWORD must come before the URL that uses it",
                )
                report.check(
                    env.get(f"{prefix}_DATABASE_RUNTIME_ROLE", {}).get("value") == runtime["name"],
                    f"{at}: {prefix}_DATABASE_RUNTIME_ROLE is not {runtime['name']}",
                )
                migrates = workload["kind"] == "Job"
                report.check(
                    (f"{prefix}_MIGRATION_DATABASE_URL" in env) == migrates
                    and ("DB_OWNER_PASSWORD" in env) == migrates,
                    f"{at}: only the migration Job may have the owner's credentials",
                )
                if migrates:
                    report.check(
                        env[f"{prefix}_MIGRATION_DATABASE_URL"].get("value") == owner_url
                        and env["DB_OWNER_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"]
                        == owner_secret,
                        f"{at}: the migration URL is not the owner's",
                    )
        if deployment is not None:
            labels = deployment["spec"]["template"]["metadata"]["labels"]
            report.check(
                labels.get(DATABASE_CLIENT_LABEL) == "true",
                f"{where}: pods cannot reach PostgreSQL",
            )
        if job is not None:
            labels = job["spec"]["template"]["metadata"]["labels"]
            report.check(
                labels.get(DATABASE_CLIENT_LABEL) == "true", f"{where}: Job cannot reach PostgreSQL"
            )
    if overlay == "prod":
        store = cluster["spec"].get("backup", {}).get("barmanObjectStore", {})
        report.check(
            store.get("destinationPath")
            and store.get("s3Credentials")
            and cluster["spec"]["backup"].get("retentionPolicy"),
            "prod: PostgreSQL has no backup to an object store",
        )


def required_settings(service: str, kubernetes: bool) -> set[str]:
    """The rule: a setting must be set unless its default is safe where it runs.

    Unsafe: no default at all; a default that names the developer's machine (127.0.0.1,
    localhost); on Kubernetes also the names in MUST_SET_ON_KUBERNETES. Everything else (tuning
    numbers, switches, an empty topic prefix) may be left to its default. Every container that
    runs Tansiq code builds the whole settings object (the migration Job too), so each is held
    to the same rule.
    """
    needed = {
        s.variable for s in catalog.settings_read_by(service) if s.required or s.default_is_local
    }
    if kubernetes:
        needed |= set(MUST_SET_ON_KUBERNETES)
    return needed


def check_settings(docs: tuple[Doc, ...], overlay: str, report: Report) -> None:
    """Every setting the code reads is set (required_settings), and every *_BASE_URL names a
    Service that exists, on its port."""
    services = {_name(s): s for s in of_kind(docs, "Service")}
    for workload in of_kind(docs, "Deployment") + of_kind(docs, "Job"):
        service = service_of(workload)
        if service not in catalog.SERVICES:
            continue
        for container in containers(workload):
            env = visible_env(container, docs)
            missing = required_settings(service, True) - set(env)
            report.check(
                not missing,
                f"{overlay}: {workload['kind']} {_name(workload)} container {container['name']} "
                f"does not set {sorted(missing)}",
            )
            for name, value in env.items():
                if name.endswith("_BASE_URL") and value is not None:
                    match = re.fullmatch(r"http://([a-z0-9-]+):(\d+)/?", value)
                    target = services.get(match.group(1)) if match else None
                    report.check(
                        target is not None
                        and match is not None
                        and int(match.group(2)) in {p["port"] for p in target["spec"]["ports"]},
                        f"{overlay}: {_name(workload)} {name}={value}: no such Service here",
                    )
    config = shared_config(docs)
    report.check(
        config.get("TANSIQ_ENV") == ("development" if overlay == "dev" else "production"),
        f"{overlay}: TANSIQ_ENV is {config.get('TANSIQ_ENV')}",
    )
    report.check(
        config.get("AUTH_JWKS_URL", "").startswith("https://"), f"{overlay}: JWKS URL not https"
    )
    report.check("AUTH_JWKS_FILE" not in config, f"{overlay}: the development key is configured")
    if overlay == "prod":
        literals = load_documents(K8S / "overlays" / "prod" / "kustomization.yaml")[0]
        explicit = [
            literal
            for generator in literals.get("configMapGenerator", [])
            if generator["name"] == "tansiq-config"
            for literal in generator.get("literals", [])
        ]
        report.check(
            "TANSIQ_ENV=production" in explicit, "prod: TANSIQ_ENV=production is not explicit"
        )
    for service, consumer_of in SERVICE_CALLS.items():
        deployment = named(docs, "Deployment", service)
        if deployment is None:
            continue
        env = visible_env(containers(deployment, init=False)[0], docs)
        for other in consumer_of:
            report.check(
                env.get(f"{other.upper()}_BASE_URL") == f"http://{other}:8000",
                f"{overlay}: {service} has no {other.upper()}_BASE_URL=http://{other}:8000",
            )


# -- docker-compose.yml --------------------------------------------------------------------------


def check_compose(report: Report) -> None:
    compose = yaml.safe_load(_read(COMPOSE))  # resolves anchors and << merges as Compose does
    services = compose.get("services", {})
    topics_job = services.get("kafka-topics", {})
    report.check(
        topics_job.get("image") == "tansiq:local"
        and topics_job.get("command", [])[:2] == ["events", "topics"],
        "compose: kafka-topics must run `tansiq events topics` (the code's topic list)",
    )
    for name in catalog.SERVICES:
        service = services.get(name)
        if not report.check(service, f"compose: no service {name}"):
            continue
        env = {str(k): str(v) for k, v in service.get("environment", {}).items()}
        missing = required_settings(name, kubernetes=False) - set(env)
        report.check(not missing, f"compose: {name} does not set {sorted(missing)}")
        for key, value in env.items():
            if key.endswith("_BASE_URL"):
                match = re.fullmatch(r"http://([a-z0-9-]+):8000/?", value)
                report.check(
                    match and match.group(1) in services,
                    f"compose: {name} {key}={value} is no service",
                )
    for name, asks in SERVICE_CALLS.items():
        env = {str(k): str(v) for k, v in services.get(name, {}).get("environment", {}).items()}
        for other in asks:
            report.check(
                env.get(f"{other.upper()}_BASE_URL") == f"http://{other}:8000",
                f"compose: {name} has no {other.upper()}_BASE_URL=http://{other}:8000",
            )
    migrate = services.get("migrate", {})
    migrate_env = {str(k) for k in migrate.get("environment", {})}
    for name in catalog.SERVICES:
        report.check(
            {f"{name.upper()}_DATABASE_URL", f"{name.upper()}_MIGRATION_DATABASE_URL"}
            <= migrate_env,
            f"compose: migrate lacks {name}'s database URLs",
        )


def check_topic_mentions(report: Report) -> None:
    """Everything else that names a topic names one the code has."""
    known = set(catalog.topics())
    paths = [COMPOSE, REPO / "docs" / "operations.md", *sorted((REPO / "deploy").rglob("*"))]
    for path in paths:
        if (
            not path.is_file()
            or "crd-schemas" in path.parts
            or any(part.startswith(".") for part in path.relative_to(REPO).parts)
            or path.suffix not in TEXT_SUFFIXES
        ):
            continue
        for topic in set(TOPIC_LIKE.findall(path.read_text(encoding="utf-8", errors="replace"))):
            report.check(
                topic in known,
                f"{path.relative_to(REPO)} names {topic}, which the code does not have",
            )


# -- monitoring ----------------------------------------------------------------------------------


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression uses (ours are tansiq_*, the others are listed)."""
    without_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    words = set(re.findall(r"\b[a-zA-Z_:][a-zA-Z0-9_:]*\b", without_strings))
    return {w for w in words if w.startswith("tansiq_") or w in EXTERNAL_METRICS}


def check_expression(expr: str, where: str, exported: frozenset[str], report: Report) -> None:
    used = metric_names(expr)
    report.check(used, f"{where}: uses no metric the services export: {expr}")
    unknown = {m for m in used if m.startswith("tansiq_") and m not in exported}
    report.check(not unknown, f"{where}: {sorted(unknown)} are not exported by the code")


def promtool() -> str | None:
    local = REPO / ".local" / "bin" / "promtool"  # where install-promtool.sh puts it
    return shutil.which("promtool") or (str(local) if local.is_file() else None)


def check_monitoring(report: Report) -> None:
    exported = catalog.exported_metrics()
    rules = MONITORING / "alerts.yaml"
    tests = MONITORING / "alerts.test.yaml"
    dashboard = MONITORING / "dashboard.json"
    tool = promtool()
    if report.check(tool, "promtool not found: run deploy/tools/install-promtool.sh"):
        assert tool is not None
        for args in (["check", "rules", str(rules)], ["test", "rules", str(tests)]):
            result = subprocess.run(  # noqa: S603 - promtool over our own files
                [tool, *args], capture_output=True, text=True, timeout=120, check=False
            )
            report.check(
                result.returncode == 0,
                f"promtool {args[0]} {args[1]} failed:\n{result.stdout}{result.stderr}",
            )
    document = yaml.safe_load(_read(rules))
    alerts = [rule for group in document["groups"] for rule in group["rules"] if "alert" in rule]
    names = {rule["alert"] for rule in alerts}
    for watched, alert in REQUIRED_ALERTS.items():
        report.check(alert in names, f"alerts.yaml: no alert on {watched} ({alert})")
    for rule in alerts:
        check_expression(rule["expr"], f"alert {rule['alert']}", exported, report)
        report.check(
            rule.get("labels", {}).get("severity") in {"warning", "critical"}
            and rule.get("annotations", {}).get("summary"),
            f"alert {rule['alert']}: needs a severity and a summary",
        )
    tested = {
        alert["alertname"]
        for case in yaml.safe_load(_read(tests)).get("tests", [])
        for alert in case.get("alert_rule_test", [])
        if alert.get("exp_alerts")
    }
    report.check(names <= tested, f"alerts.test.yaml: no firing test for {sorted(names - tested)}")
    report.facts["alerts"] = len(alerts)
    board = json.loads(_read(dashboard))
    panels = [p for p in _panels(board.get("panels", [])) if p.get("type") != "row"]
    targets = 0
    for panel in panels:
        report.check(panel.get("targets"), f"dashboard panel {panel.get('title')}: no query")
        for target in panel.get("targets", []):
            targets += 1
            check_expression(
                target.get("expr", ""), f"dashboard panel {panel.get('title')}", exported, report
            )
    report.facts["dashboard panels"] = len(panels)


def _panels(panels: list[Doc]) -> list[Doc]:
    found = []
    for panel in panels:
        found.append(panel)
        found.extend(_panels(panel.get("panels", [])))
    return found


# -- the run -------------------------------------------------------------------------------------

OVERLAY_CHECKS: tuple[Callable[[tuple[Doc, ...], str, Report], None], ...] = (
    check_rendered_objects,
    check_workloads,
    check_services,
    check_topics,
    check_kafka_security,
    check_network_policies,
    check_databases,
    check_settings,
)


def run(report: Report) -> None:
    check_sources(report)
    for overlay in OVERLAYS:
        docs = render(overlay)
        for check in OVERLAY_CHECKS:
            check(docs, overlay, report)
    check_compose(report)
    check_topic_mentions(report)
    check_monitoring(report)


def main() -> int:
    report = Report()
    try:
        run(report)
    except Exception as exc:  # a crash is a failed validation, said in one line at the end
        report.problems.append(f"validation stopped: {type(exc).__name__}: {exc}")
    for problem in report.problems:
        print(f"  x {problem}")
    facts = report.facts
    summary = (
        f"{len(OVERLAYS)} overlays, {facts.get('rendered objects', 0)} rendered objects "
        f"({facts.get('custom resources', 0)} custom) + {facts.get('source objects', 0)} source "
        f"objects schema-checked, {facts.get('topics', 0)} topics, {facts.get('alerts', 0)} alerts "
        f"(promtool), {facts.get('dashboard panels', 0)} dashboard panels, {report.checks} checks"
    )
    if report.problems:
        print(f"k8s-validate: FAILED, {len(report.problems)} problem(s); {summary}")
        return 1
    print(f"k8s-validate: OK, {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
