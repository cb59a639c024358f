"""deploy/k8s: every check of `make k8s-validate` passes on both overlays, and each one bites:
a manifest broken the way a person would break it is reported, with what is wrong.

Nothing here needs a cluster or Docker: kustomize renders, the schemas are vendored.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

Doc = dict[str, Any]


def problems_of(validator, check: Callable[..., None], docs: list[Doc], overlay: str) -> list[str]:
    report = validator.Report()
    check(tuple(docs), overlay, report)
    return report.problems


def find(docs: list[Doc], kind: str, name: str) -> Doc:
    (doc,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def job(docs: list[Doc], service: str) -> Doc:
    (doc,) = [
        d
        for d in docs
        if d["kind"] == "Job" and d["metadata"]["name"].startswith(f"migrate-{service}-")
    ]
    return doc


def app(deployment: Doc) -> Doc:
    return deployment["spec"]["template"]["spec"]["containers"][0]


def assert_reported(problems: list[str], *fragments: str) -> None:
    assert problems, "the broken manifest was not reported"
    text = "\n".join(problems)
    for fragment in fragments:
        assert fragment in text, text


# -- what the repository holds passes ------------------------------------------------------------


@pytest.mark.parametrize(
    "check",
    [
        "check_rendered_objects",
        "check_workloads",
        "check_services",
        "check_topics",
        "check_kafka_security",
        "check_network_policies",
        "check_databases",
        "check_settings",
    ],
)
def test_every_overlay_check_passes(validator, rendered, overlay, check):
    assert problems_of(validator, getattr(validator, check), rendered, overlay) == []


def test_the_sources_are_valid_current_and_self_contained(validator):
    report = validator.Report()
    validator.check_sources(report)
    assert report.problems == []
    assert report.facts["source objects"] >= 10


def test_both_overlays_render_everything(validator, rendered, overlay):
    kinds = {d["kind"] for d in rendered}
    assert {
        "Deployment",
        "Service",
        "Job",
        "Database",
        "Cluster",
        "Kafka",
        "KafkaTopic",
        "KafkaUser",
        "NetworkPolicy",
    } <= kinds
    # The local-config TansiqService objects that name each service never reach a cluster.
    assert "TansiqService" not in kinds


# -- schemas -------------------------------------------------------------------------------------


def test_the_schemas_reject_what_a_cluster_would(validator, rendered):
    deployment = find(rendered, "Deployment", "registry")
    app(deployment)["livenessprobe"] = {}  # misspelt: strict validation refuses unknown fields
    with pytest.raises(jsonschema.ValidationError):
        validator.validate_object(deployment)
    topic = find(rendered, "KafkaTopic", "registry-organization-v1")
    topic["spec"]["partitions"] = "three"
    with pytest.raises(jsonschema.ValidationError):
        validator.validate_object(topic)
    user = find(rendered, "KafkaUser", "tansiq-registry")
    user["spec"]["authorization"]["acls"][0]["operations"] = ["Everything"]
    with pytest.raises(jsonschema.ValidationError):
        validator.validate_object(user)


def test_an_invalid_rendered_object_and_a_leftover_placeholder_are_reported(
    validator, rendered, overlay
):
    find(rendered, "Service", "registry")["spec"]["ports"][0]["port"] = "http"
    find(rendered, "Deployment", "agreements")["spec"]["template"]["metadata"]["labels"]["x"] = (
        "SERVICE"
    )
    assert_reported(
        problems_of(validator, validator.check_rendered_objects, rendered, overlay),
        "Service registry invalid",
        "SERVICE placeholder left in ['Deployment agreements']",
    )


def test_a_tampered_vendored_schema_is_reported(validator, tmp_path, monkeypatch):
    copy = tmp_path / "crd-schemas"
    shutil.copytree(validator.CRD_DIR, copy)
    (copy / "kafka.strimzi.io" / "kafkatopic_v1.json").write_text("{}")
    monkeypatch.setattr(validator, "CRD_DIR", copy)
    report = validator.Report()
    validator.check_sources(report)
    assert_reported(report.problems, "crd-schemas/kafka.strimzi.io/kafkatopic_v1.json: sha256")


def test_stale_generated_kafka_resources_are_reported(validator, tmp_path, monkeypatch):
    import k8s_generate

    for path, text in k8s_generate.outputs().items():
        (tmp_path / path.name).write_text(text.replace("partitions: 3", "partitions: 2", 1))
    monkeypatch.setattr(k8s_generate, "KAFKA", tmp_path)
    assert [p.name for p in k8s_generate.stale()] == ["topics.yaml"]
    assert k8s_generate.main(["--check"]) == 1


# -- workloads -----------------------------------------------------------------------------------


def test_missing_probes_resources_and_hardening_are_reported(validator, rendered, overlay):
    registry = find(rendered, "Deployment", "registry")
    del app(registry)["readinessProbe"]
    app(registry)["securityContext"]["readOnlyRootFilesystem"] = False
    init = registry["spec"]["template"]["spec"]["initContainers"][0]
    del init["resources"]["limits"]
    migrate = job(rendered, "reporting")
    migrate["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] = False
    migrate["spec"]["template"]["spec"]["containers"][0]["securityContext"]["capabilities"] = {}
    assert_reported(
        problems_of(validator, validator.check_workloads, rendered, overlay),
        "Deployment registry container registry: readinessProbe must GET /health/ready",
        "Deployment registry container registry: root filesystem is writable",
        "container wait-for-migrations: resources.limits needs cpu and memory",
        "runAsNonRoot is not true",
        "capabilities are not all dropped",
    )


def test_a_service_without_its_migration_job_is_reported(validator, rendered, overlay):
    rendered.remove(job(rendered, "engagements"))
    assert_reported(
        problems_of(validator, validator.check_services, rendered, overlay),
        "engagements: Deployment, Service or Job missing",
    )


# -- topics and Kafka ----------------------------------------------------------------------------


def test_a_topic_of_the_code_without_its_kafka_topic_is_reported(
    validator, catalog, rendered, overlay, monkeypatch
):
    rendered.remove(find(rendered, "KafkaTopic", "reporting-finding-v1-dlq"))
    code = dict(catalog.topics())
    code["registry.contact.v1"] = catalog.Topic("registry.contact.v1", 3, -1, {}, None)
    monkeypatch.setattr(catalog, "topics", lambda: code)
    assert_reported(
        problems_of(validator, validator.check_topics, rendered, overlay),
        "missing ['registry.contact.v1', 'reporting.finding.v1.dlq']",
    )


def test_kafka_without_tls_scram_or_acls_is_reported(validator, rendered, overlay):
    kafka = find(rendered, "Kafka", "tansiq-kafka")
    kafka["spec"]["kafka"]["listeners"].append(
        {"name": "plain", "port": 9092, "type": "internal", "tls": False}
    )
    del kafka["spec"]["kafka"]["authorization"]
    assert_reported(
        problems_of(validator, validator.check_kafka_security, rendered, overlay),
        "Kafka listener plain: not TLS",
        "Kafka listener plain: not SCRAM-SHA-512",
        "Kafka listener plain: reachable by pods other than Kafka clients",
        "Kafka ACLs off",
    )


def test_a_user_writing_another_services_topic_is_reported(validator, rendered, overlay):
    agreements = find(rendered, "KafkaUser", "tansiq-agreements")
    agreements["spec"]["authorization"]["acls"].append(
        {
            "resource": {
                "type": "topic",
                "name": "registry.organization.v1",
                "patternType": "literal",
            },
            "operations": ["Write"],
        }
    )
    integration = find(rendered, "KafkaUser", "tansiq-integration")
    integration["spec"]["authorization"]["acls"].append(
        {"resource": {"type": "topic", "name": "*"}, "operations": ["All"]}
    )
    assert_reported(
        problems_of(validator, validator.check_kafka_security, rendered, overlay),
        "KafkaUser tansiq-agreements: ACLs",
        "registry.organization.v1 is written by ['registry', 'agreements'], not only its producer",
        "KafkaUser tansiq-integration: a wildcard ACL",
    )


def test_the_acls_follow_the_brief(catalog):
    """Who writes and reads what (docs/architecture.md), spelled out once more by hand. A
    topic's producer may also read its dead letters: `tansiq events redrive` runs as it."""

    def rules(principal: str) -> set[tuple[str, str, frozenset[str]]]:
        return {(a.name, a.pattern, frozenset(a.operations)) for a in catalog.access(principal)}

    w, r = frozenset({"Write", "Describe"}), frozenset({"Read", "Describe"})
    group = frozenset({"Read"})
    assert rules("registry") == {
        ("registry.organization.v1", "literal", w),
        ("registry.organization.v1.dlq", "literal", r),
    }
    assert rules("agreements") == {
        ("agreements.agreement.v1", "literal", w),
        ("agreements.agreement.v1.dlq", "literal", r),
        ("registry.organization.v1", "literal", r),
        ("registry.organization.v1.dlq", "literal", w),
        ("agreements.", "prefix", group),
    }
    assert rules("engagements") == {
        ("engagements.engagement.v1", "literal", w),
        ("engagements.engagement.v1.dlq", "literal", r),
        *(
            rule
            for topic in (
                "registry.organization.v1",
                "agreements.agreement.v1",
                "engagements.ingest.v1",
            )
            for rule in ((topic, "literal", r), (f"{topic}.dlq", "literal", w))
        ),
        ("engagements.", "prefix", group),
    }
    assert rules("reporting") == {
        ("reporting.finding.v1", "literal", w),
        ("reporting.finding.v1.dlq", "literal", r),
        ("reporting.indicator.v1", "literal", w),
        ("reporting.indicator.v1.dlq", "literal", r),
        *(
            rule
            for topic in (
                "registry.organization.v1",
                "agreements.agreement.v1",
                "engagements.engagement.v1",
            )
            for rule in ((topic, "literal", r), (f"{topic}.dlq", "literal", w))
        ),
        ("reporting.", "prefix", group),
    }
    assert rules("integration") == {
        ("engagements.ingest.v1", "literal", w),
        ("engagements.ingest.v1.dlq", "literal", r),
    }


def test_a_service_with_someone_elses_kafka_credentials_is_reported(validator, rendered, overlay):
    env = app(find(rendered, "Deployment", "reporting"))["env"]
    for item in env:
        if item["name"] == "KAFKA_SASL_PASSWORD":
            item["valueFrom"]["secretKeyRef"]["name"] = "tansiq-registry"
    assert_reported(
        problems_of(validator, validator.check_kafka_security, rendered, overlay),
        "reporting: KAFKA_SASL_PASSWORD is not from the Secret tansiq-reporting",
    )


# -- network and database ------------------------------------------------------------------------


def test_open_network_policies_are_reported(validator, rendered, overlay):
    rendered.remove(find(rendered, "NetworkPolicy", "default-deny-ingress"))
    postgres = find(rendered, "NetworkPolicy", "postgres-from-tansiq")
    postgres["spec"]["ingress"][0]["from"].append({"podSelector": {}})
    assert_reported(
        problems_of(validator, validator.check_network_policies, rendered, overlay),
        "no default-deny ingress NetworkPolicy",
        "PostgreSQL is open to {'podSelector': {}}",
    )


def test_owner_credentials_in_a_running_service_are_reported(validator, rendered, overlay):
    deployment = find(rendered, "Deployment", "agreements")
    migrate_env = job(rendered, "agreements")["spec"]["template"]["spec"]["containers"][0]["env"]
    app(deployment)["env"] = migrate_env
    cluster = find(rendered, "Cluster", "tansiq-db")
    for role in cluster["spec"]["managed"]["roles"]:
        if role["name"] == "registry_runtime":
            role["superuser"] = True
    assert_reported(
        problems_of(validator, validator.check_databases, rendered, overlay),
        "agreements Deployment container agreements: only the migration Job may have the owner's",
        "role registry_runtime has more than login",
    )


def test_production_without_backups_is_reported(validator):
    import copy

    docs = copy.deepcopy(list(validator.render("prod")))
    del find(docs, "Cluster", "tansiq-db")["spec"]["backup"]
    assert_reported(
        problems_of(validator, validator.check_databases, docs, "prod"),
        "prod: PostgreSQL has no backup to an object store",
    )


# -- settings ------------------------------------------------------------------------------------


def test_the_settings_rule(validator, catalog, monkeypatch):
    """Required: no default, or a default on the developer's machine, or named on Kubernetes."""
    base = list(catalog.settings_read_by("agreements"))
    extra = [
        catalog.Setting(
            "agreements",
            "X",
            "registry_base_url",
            ("REGISTRY_BASE_URL",),
            "http://127.0.0.1:8001",
            "",
            False,
        ),
        catalog.Setting(
            "agreements",
            "X",
            "signing_key",
            ("AGREEMENTS_SIGNING_KEY",),
            catalog.REQUIRED,
            "",
            False,
        ),
        catalog.Setting("agreements", "X", "page_size", ("AGREEMENTS_PAGE_SIZE",), 50, "", False),
    ]
    monkeypatch.setattr(catalog, "settings_read_by", lambda service: [*base, *extra])
    on_kubernetes = validator.required_settings("agreements", kubernetes=True)
    assert {
        "REGISTRY_BASE_URL",
        "AGREEMENTS_SIGNING_KEY",
        "AGREEMENTS_DATABASE_URL",
    } <= on_kubernetes
    assert "AGREEMENTS_PAGE_SIZE" not in on_kubernetes
    assert {"TANSIQ_ENV", "KAFKA_SASL_PASSWORD", "AUTH_JWKS_URL"} <= on_kubernetes
    in_compose = validator.required_settings("agreements", kubernetes=False)
    assert "AUTH_JWKS_URL" not in in_compose
    assert "REGISTRY_BASE_URL" in in_compose


def test_a_setting_the_code_reads_but_the_pods_lack_is_reported(
    validator, catalog, rendered, overlay, monkeypatch
):
    read_by = catalog.settings_read_by
    new = catalog.Setting(
        "reporting", "X", "cache_url", ("REPORTING_CACHE_URL",), "redis://localhost", "", False
    )
    monkeypatch.setattr(
        catalog,
        "settings_read_by",
        lambda service: [*read_by(service), *([new] if service == "reporting" else [])],
    )
    env = app(find(rendered, "Deployment", "registry"))["env"]
    env[:] = [item for item in env if item["name"] != "KAFKA_SASL_PASSWORD"]
    assert_reported(
        problems_of(validator, validator.check_settings, rendered, overlay),
        "Deployment reporting container reporting does not set ['REPORTING_CACHE_URL']",
        "Deployment registry container registry does not set ['KAFKA_SASL_PASSWORD']",
    )


def test_a_service_url_to_nowhere_is_reported(validator, rendered, overlay):
    (settings,) = [
        c
        for c in rendered
        if c["kind"] == "ConfigMap" and c["metadata"]["name"].startswith("engagements-settings-")
    ]
    settings["data"]["AGREEMENTS_BASE_URL"] = "http://agreement:8000"
    assert_reported(
        problems_of(validator, validator.check_settings, rendered, overlay),
        "engagements AGREEMENTS_BASE_URL=http://agreement:8000: no such Service here",
        "engagements has no AGREEMENTS_BASE_URL=http://agreements:8000",
    )


def test_production_names_its_environment_and_an_https_identity_provider(validator):
    config = validator.shared_config(validator.render("prod"))
    assert config["TANSIQ_ENV"] == "production"
    assert config["AUTH_JWKS_URL"].startswith("https://")
    assert config["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert config["KAFKA_BOOTSTRAP_SERVERS"] == "tansiq-kafka-kafka-bootstrap:9093"


# -- monitoring ----------------------------------------------------------------------------------


def test_the_alerts_and_the_dashboard_pass(validator, promtool):
    report = validator.Report()
    validator.check_monitoring(report)
    assert report.problems == []
    assert report.facts["alerts"] >= len(validator.REQUIRED_ALERTS)
    assert report.facts["dashboard panels"] >= 10


def test_an_expression_over_a_metric_the_code_does_not_export_is_reported(validator, catalog):
    exported = catalog.exported_metrics()
    assert {"tansiq_outbox_depth", "tansiq_http_requests_total", "tansiq_consumer_lag"} <= exported
    report = validator.Report()
    validator.check_expression("rate(tansiq_outbox_sent_total[5m])", "alert X", exported, report)
    validator.check_expression(
        'sum(rate(http_requests_total{job="x"}[5m]))', "panel Y", exported, report
    )
    assert_reported(
        report.problems,
        "alert X: ['tansiq_outbox_sent_total'] are not exported by the code",
        "panel Y: uses no metric the services export",
    )
    assert validator.metric_names(
        'sum by (service) (rate(tansiq_http_requests_total{status=~"5.."}[5m])) > 0'
    ) == {"tansiq_http_requests_total"}


def test_a_broken_rule_file_fails_promtool(validator, promtool, tmp_path, monkeypatch):
    for name in ("alerts.yaml", "alerts.test.yaml", "dashboard.json"):
        shutil.copy(validator.MONITORING / name, tmp_path / name)
    rules = tmp_path / "alerts.yaml"
    rules.write_text(
        rules.read_text().replace("> 1000\n        for: 10m", "> 1000 +\n        for: 10m", 1)
    )
    monkeypatch.setattr(validator, "MONITORING", Path(tmp_path))
    report = validator.Report()
    validator.check_monitoring(report)
    assert_reported(report.problems, "promtool check rules failed")
