"""deploy/k8s: every object valid against its schema, both overlays render, and they say what
docs/operations.md describes (probes, resources, security, migrations, topics, scaling).

Nothing here needs a cluster or Docker. Kustomize comes from `kustomize` on PATH, from
.local/bin, from `kubectl kustomize` (kubectl bundles kustomize), or, failing all three, is built
from the Go module proxy into .local/bin (about 80 s once, with a cold module cache).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from tansiq_common.events.topics import DOMAIN_TOPICS as CATALOG

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
SERVICES = ("registry", "agreements", "engagements", "reporting")
DOMAIN_TOPICS = (
    "registry.organization.v1",
    "agreements.agreement.v1",
    "engagements.engagement.v1",
    "engagements.ingest.v1",
)
# The Kubernetes release whose API schemas the plain objects are checked against.
KUBERNETES_VERSION = "1.32"
KUSTOMIZE_MODULE = "sigs.k8s.io/kustomize/kustomize/v5@v5.5.0"

# Custom resources and the schema file (under shared/k8s-crd-schemas) that describes each.
CRD_SCHEMAS = {
    ("kafka.strimzi.io/v1", "Kafka"): "kafka.strimzi.io/kafka_v1.json",
    ("kafka.strimzi.io/v1", "KafkaNodePool"): "kafka.strimzi.io/kafkanodepool_v1.json",
    ("kafka.strimzi.io/v1", "KafkaTopic"): "kafka.strimzi.io/kafkatopic_v1.json",
    ("kafka.strimzi.io/v1", "KafkaUser"): "kafka.strimzi.io/kafkauser_v1.json",
    ("postgresql.cnpg.io/v1", "Cluster"): "postgresql.cnpg.io/cluster_v1.json",
    ("postgresql.cnpg.io/v1", "Database"): "postgresql.cnpg.io/database_v1.json",
}

Doc = dict[str, Any]


def crd_schema_dir() -> Path:
    configured = os.environ.get("TANSIQ_CRD_SCHEMAS")
    return Path(configured) if configured else REPO.parent / "shared" / "k8s-crd-schemas"


@pytest.fixture(scope="session")
def crd_schemas() -> dict[tuple[str, str], Any]:
    folder = crd_schema_dir()
    if not folder.is_dir():
        # Failing, not skipping: a green run must mean the custom resources were checked.
        pytest.fail(
            f"CRD schemas not found at {folder}: the deployment tests validate the Strimzi and "
            "CloudNativePG resources against them. Check out shared/ beside the repository or "
            "set TANSIQ_CRD_SCHEMAS to the folder."
        )
    return {key: json.loads((folder / name).read_text()) for key, name in CRD_SCHEMAS.items()}


@pytest.fixture(scope="session")
def validate(crd_schemas: dict[tuple[str, str], Any]) -> Callable[[Doc], None]:
    """Checks one whole object against its schema; raises on any problem, or an unknown kind."""

    def check(doc: Doc) -> None:
        key = (doc["apiVersion"], doc["kind"])
        if key in crd_schemas:
            jsonschema.validate(doc, crd_schemas[key])
        else:
            # strict: unknown fields are errors, so a misspelt or misplaced key is caught.
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)

    return check


def load_documents(path: Path) -> list[Any]:
    with path.open() as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def _kustomize_command() -> list[str] | None:
    local = REPO / ".local" / "bin" / "kustomize"
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if local.is_file():
        return [str(local), "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    if shutil.which("go"):
        env = {**os.environ, "GOBIN": str(local.parent), "GOFLAGS": "-mod=mod"}
        subprocess.run(["go", "install", KUSTOMIZE_MODULE], check=True, env=env, timeout=600)
        return [str(local), "build"]
    return None


@cache
def render(overlay: str) -> list[Doc]:
    command = _kustomize_command()
    if command is None:
        pytest.fail("no kustomize: install kubectl or kustomize, or Go to build it")
    result = subprocess.run(
        [*command, str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"kustomize failed for {overlay}:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc is not None]


@pytest.fixture(scope="session", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def rendered(overlay: str) -> list[Doc]:
    return render(overlay)


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [doc for doc in docs if doc["kind"] == kind]


def named(docs: list[Doc], kind: str, name: str) -> Doc:
    matches = [doc for doc in of_kind(docs, kind) if doc["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


# -- the sources ---------------------------------------------------------------------------------


def _kustomizations() -> list[Path]:
    return sorted(K8S.rglob("kustomization.yaml"))


def _patch_files() -> set[Path]:
    patches = set()
    for kustomization in _kustomizations():
        for patch in load_documents(kustomization)[0].get("patches", []):
            if "path" in patch:
                patches.add((kustomization.parent / patch["path"]).resolve())
    return patches


def test_every_path_a_kustomization_names_exists():
    assert _kustomizations(), "no kustomization.yaml under deploy/k8s"
    for kustomization in _kustomizations():
        spec = load_documents(kustomization)[0]
        folder = kustomization.parent
        named_paths = [*spec.get("resources", []), *spec.get("components", [])]
        named_paths += [p["path"] for p in spec.get("patches", []) if "path" in p]
        for generator in spec.get("configMapGenerator", []) + spec.get("secretGenerator", []):
            named_paths += [f.split("=", 1)[-1] for f in generator.get("files", [])]
        for relative in named_paths:
            target = folder / relative
            assert target.exists(), f"{kustomization}: {relative} does not exist"
            if target.is_dir():
                assert (target / "kustomization.yaml").is_file(), f"{target} is no kustomization"


def test_every_object_in_the_sources_is_valid(validate):
    """Whole objects as written (patches are partial and are checked once rendered)."""
    patches = _patch_files()
    checked = 0
    for path in sorted(K8S.rglob("*.yaml")):
        if path.name == "kustomization.yaml" or path.resolve() in patches:
            continue
        for doc in load_documents(path):
            try:
                validate(doc)
            except Exception as exc:
                pytest.fail(f"{path.relative_to(REPO)}: {doc.get('kind')} invalid: {exc}")
            checked += 1
    assert checked >= 30


def test_the_validator_rejects_what_a_cluster_would(validate):
    """The schemas in use really bite: a misplaced field and a wrong type are refused."""
    deployment = load_documents(K8S / "base" / "services" / "registry.yaml")[0]
    broken = json.loads(json.dumps(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)
    topic = load_documents(K8S / "base" / "kafka" / "topics.yaml")[0]
    broken_topic = {**topic, "spec": {**topic["spec"], "partitions": "three"}}
    with pytest.raises(jsonschema.ValidationError):
        validate(broken_topic)


# -- the rendered overlays -------------------------------------------------------------------------


def test_every_rendered_object_is_valid(rendered, validate, overlay):
    for doc in rendered:
        try:
            validate(doc)
        except Exception as exc:
            pytest.fail(f"{overlay}: {doc['kind']} {doc['metadata']['name']} invalid: {exc}")


def test_everything_lands_in_the_overlay_namespace(rendered, overlay):
    namespace = named(rendered, "Namespace", f"tansiq-{overlay}" if overlay == "dev" else "tansiq")
    for doc in rendered:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == namespace["metadata"]["name"], doc["kind"]


def _pod_containers(pod_spec: Doc) -> list[Doc]:
    return [*pod_spec.get("initContainers", []), *pod_spec["containers"]]


def _env(container: Doc) -> dict[str, Doc]:
    return {item["name"]: item for item in container.get("env", [])}


def test_each_service_has_a_hardened_deployment_with_probes(rendered):
    deployments = {d["metadata"]["name"]: d for d in of_kind(rendered, "Deployment")}
    assert set(deployments) == set(SERVICES)
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        app = next(c for c in pod["containers"] if c["name"] == name)
        assert app["args"] == ["serve", name, "--host", "0.0.0.0", "--port", "8000"]
        assert {"name": "http", "containerPort": 8000, "protocol": "TCP"} in app["ports"]
        assert app["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
        assert app["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/path"] == "/metrics"
        assert annotations["prometheus.io/port"] == "8000"
        for container in _pod_containers(pod):
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][bound]), container["name"]
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"]["drop"] == ["ALL"]


def test_each_service_has_a_migration_job_named_for_the_release(rendered):
    release = _release(rendered)
    jobs = of_kind(rendered, "Job")
    for service in SERVICES:
        job = named(jobs, "Job", f"migrate-{service}-{release}")
        pod = job["spec"]["template"]["spec"]
        assert pod["restartPolicy"] == "Never"
        assert pod["securityContext"]["runAsNonRoot"] is True
        (container,) = pod["containers"]
        assert container["args"] == ["migrate", service]
        assert f"{service.upper()}_DATABASE_URL" in _env(container)
        deployment = named(rendered, "Deployment", service)
        assert (
            container["image"] == deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        )
        # The Deployment's pods wait for this Job's work before they start.
        (wait,) = deployment["spec"]["template"]["spec"]["initContainers"]
        assert wait["command"][-1] == service
        assert "wait_for_migrations.py" in wait["command"][1]
    assert len(jobs) == len(SERVICES)


def _release(rendered: list[Doc]) -> str:
    (config,) = [
        c
        for c in of_kind(rendered, "ConfigMap")
        if c["metadata"]["name"].startswith("tansiq-release-")
    ]
    return str(config["data"]["TANSIQ_RELEASE"])


def test_the_release_is_the_image_tag(rendered):
    release = _release(rendered)
    for deployment in of_kind(rendered, "Deployment") + of_kind(rendered, "Job"):
        for container in _pod_containers(deployment["spec"]["template"]["spec"]):
            assert container["image"].rsplit(":", 1)[1] == release


def test_every_config_map_a_pod_uses_is_rendered(rendered):
    config_maps = {c["metadata"]["name"] for c in of_kind(rendered, "ConfigMap")}
    for workload in of_kind(rendered, "Deployment") + of_kind(rendered, "Job"):
        pod = workload["spec"]["template"]["spec"]
        used = {v["configMap"]["name"] for v in pod.get("volumes", []) if "configMap" in v}
        for container in _pod_containers(pod):
            used |= {e["configMapRef"]["name"] for e in container.get("envFrom", [])}
        assert used <= config_maps, used - config_maps


def test_the_wait_script_shipped_is_the_one_in_the_repository(rendered):
    (scripts,) = [
        c
        for c in of_kind(rendered, "ConfigMap")
        if c["metadata"]["name"].startswith("tansiq-scripts-")
    ]
    source = (K8S / "base" / "scripts" / "wait_for_migrations.py").read_text()
    assert scripts["data"]["wait_for_migrations.py"] == source


def test_services_reach_their_own_database_in_the_postgres_cluster(rendered):
    (cluster,) = of_kind(rendered, "Cluster")
    roles = {r["name"]: r for r in cluster["spec"]["managed"]["roles"]}
    databases = {d["spec"]["name"]: d for d in of_kind(rendered, "Database")}
    host = f"{cluster['metadata']['name']}-rw"
    for service in SERVICES:
        database = databases[service]
        assert database["spec"]["owner"] == service
        assert database["spec"]["cluster"]["name"] == cluster["metadata"]["name"]
        assert {"name": "pg_trgm", "ensure": "present"} in database["spec"]["extensions"]
        role = roles[service]
        assert role["login"] is True
        secret = role["passwordSecret"]["name"]
        for workload in (
            named(rendered, "Deployment", service),
            *[
                j
                for j in of_kind(rendered, "Job")
                if j["metadata"]["labels"]["app.kubernetes.io/name"] == service
            ],
        ):
            for container in _pod_containers(workload["spec"]["template"]["spec"]):
                env = _env(container)
                url = env[f"{service.upper()}_DATABASE_URL"]["value"]
                assert url == f"postgresql://$(DB_USERNAME):$(DB_PASSWORD)@{host}:5432/{service}"
                for variable in ("DB_USERNAME", "DB_PASSWORD"):
                    assert env[variable]["valueFrom"]["secretKeyRef"]["name"] == secret
                # $(VAR) expands only from variables defined earlier in the list.
                names = list(env)
                assert names.index("DB_PASSWORD") < names.index(f"{service.upper()}_DATABASE_URL")


def test_services_reach_the_kafka_cluster(rendered):
    (kafka,) = of_kind(rendered, "Kafka")
    (config,) = [
        c
        for c in of_kind(rendered, "ConfigMap")
        if c["metadata"]["name"].startswith("tansiq-config-")
    ]
    listener_ports = {item["port"] for item in kafka["spec"]["kafka"]["listeners"]}
    host, port = config["data"]["KAFKA_BOOTSTRAP_SERVERS"].split(":")
    assert host == f"{kafka['metadata']['name']}-kafka-bootstrap"
    assert int(port) in listener_ports
    assert kafka["spec"]["kafka"]["config"]["auto.create.topics.enable"] is False
    for pool in of_kind(rendered, "KafkaNodePool"):
        assert pool["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]


def _replication(overlay: str) -> int:
    return 1 if overlay == "dev" else 3


def test_every_topic_and_its_dead_letters_are_declared(rendered, overlay):
    (kafka,) = of_kind(rendered, "Kafka")
    topics = {t["spec"]["topicName"]: t for t in of_kind(rendered, "KafkaTopic")}
    assert set(topics) == {*DOMAIN_TOPICS, *(f"{t}.dlq" for t in DOMAIN_TOPICS)}
    assert set(topics) == set(CATALOG)
    brokers = sum(
        p["spec"]["replicas"]
        for p in of_kind(rendered, "KafkaNodePool")
        if "broker" in p["spec"]["roles"]
    )
    assert brokers == _replication(overlay)
    for name, topic in topics.items():
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
        # The same partitions and retention as the code's own topic catalog.
        assert topic["spec"]["partitions"] == CATALOG[name].partitions
        assert topic["spec"]["config"]["retention.ms"] == CATALOG[name].retention_ms
        assert topic["spec"]["replicas"] == _replication(overlay)
        assert topic["spec"]["config"]["min.insync.replicas"] == (1 if overlay == "dev" else 2)
        assert topic["spec"]["replicas"] <= brokers
        expected_retention = 30 * 24 * 3600 * 1000 if name.endswith(".dlq") else -1
        assert topic["spec"]["config"]["retention.ms"] == expected_retention


def test_scaling_and_disruption_rules_per_overlay(rendered, overlay):
    autoscalers = {
        h["spec"]["scaleTargetRef"]["name"]: h for h in of_kind(rendered, "HorizontalPodAutoscaler")
    }
    budgets = of_kind(rendered, "PodDisruptionBudget")
    (cluster,) = of_kind(rendered, "Cluster")
    if overlay == "dev":
        assert autoscalers == {}
        assert budgets == []
        assert all(d["spec"]["replicas"] == 1 for d in of_kind(rendered, "Deployment"))
        assert cluster["spec"]["instances"] == 1
        return
    assert set(autoscalers) == set(SERVICES)
    assert cluster["spec"]["instances"] == 3
    for service, autoscaler in autoscalers.items():
        spec = autoscaler["spec"]
        assert (spec["minReplicas"], spec["maxReplicas"]) == (2, 6)
        assert [m["resource"]["name"] for m in spec["metrics"]] == ["cpu"]
        # The autoscaler owns the replica count; a fixed one would fight it on every apply.
        assert "replicas" not in named(rendered, "Deployment", service)["spec"]
    assert len(budgets) == len(SERVICES)
    for budget in budgets:
        assert budget["spec"]["minAvailable"] == 1
        selector = budget["spec"]["selector"]["matchLabels"]
        matching = [
            d
            for d in of_kind(rendered, "Deployment")
            if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(matching) == 1


def test_each_service_is_exposed_on_port_8000(rendered):
    for service in SERVICES:
        svc = named(rendered, "Service", service)
        (port,) = svc["spec"]["ports"]
        assert (port["port"], port["targetPort"]) == (8000, "http")
        pod_labels = named(rendered, "Deployment", service)["spec"]["template"]["metadata"][
            "labels"
        ]
        assert svc["spec"]["selector"].items() <= pod_labels.items()
        # Migration pods must never receive traffic.
        for job in of_kind(rendered, "Job"):
            assert (
                not svc["spec"]["selector"].items()
                <= job["spec"]["template"]["metadata"]["labels"].items()
            )


def test_production_refuses_no_development_setting(rendered, overlay):
    (config,) = [
        c
        for c in of_kind(rendered, "ConfigMap")
        if c["metadata"]["name"].startswith("tansiq-config-")
    ]
    data = config["data"]
    assert data["TANSIQ_ENV"] == ("development" if overlay == "dev" else "production")
    assert data["AUTH_JWKS_URL"].startswith("https://")
    assert "AUTH_JWKS_FILE" not in data
