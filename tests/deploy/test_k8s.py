"""The Kubernetes base renders, validates against the Kubernetes schemas, and runs every service
the way the platform needs: two replicas, probes, resources, R3 JetStream, a bootstrap Job."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from tests.deploy.kustomize import Resource, key, render_here, render_with_kubectl
from tirek.localstack.stack import SERVICES
from tirek.messaging.permissions import OPS_USER, password_variable
from tirek.messaging.permissions import SERVICES as PERMISSION_SERVICES

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "deploy" / "k8s" / "base"
#: The oldest Kubernetes minor we promise to run on, and the newest schemas bundled.
KUBERNETES_VERSIONS = ("1.29", kubernetes_validate.latest_version())


@pytest.fixture(scope="module")
def rendered() -> list[Resource]:
    return render_here(BASE)


def find(resources: list[Resource], kind: str, name: str) -> Resource:
    for resource in resources:
        if resource["kind"] == kind and resource["metadata"]["name"] == name:
            return resource
    raise AssertionError(f"the base has no {kind} {name}")


def only_container(workload: Resource) -> dict[str, Any]:
    containers: list[dict[str, Any]] = workload["spec"]["template"]["spec"]["containers"]
    (container,) = containers
    return container


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in container.get("env", [])}


def test_our_rendering_matches_kustomize_when_kubectl_is_installed(
    rendered: list[Resource],
) -> None:
    by_kustomize = render_with_kubectl(BASE)
    if by_kustomize is None:
        pytest.skip("kubectl is not installed; the base is rendered by tests/deploy/kustomize.py")
    assert {key(r): r for r in by_kustomize} == {key(r): r for r in rendered}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_resource_validates_against_the_kubernetes_schemas(
    rendered: list[Resource], version: str
) -> None:
    errors = []
    for resource in rendered:
        try:
            kubernetes_validate.validate(resource, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            errors.append(
                f"{resource['kind']}/{resource['metadata']['name']}: {path}: {exc.message}"
            )
    assert not errors, "\n".join(errors)


def test_every_resource_lands_in_the_tirek_namespace(rendered: list[Resource]) -> None:
    outside = [
        key(r)
        for r in rendered
        if r["kind"] != "Namespace" and r["metadata"].get("namespace") != "tirek"
    ]
    assert not outside


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_every_service_runs_two_probed_replicas_with_resources(
    rendered: list[Resource], service: Any
) -> None:
    deployment = find(rendered, "Deployment", service.name)
    assert deployment["spec"]["replicas"] == 2
    container = only_container(deployment)
    assert container["command"] == ["python", "-m", service.name, "serve"]
    assert container["ports"] == [
        {"name": "http", "containerPort": service.default_port, "protocol": "TCP"}
    ]
    assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    resources = container["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"]) and "memory" in resources["limits"]
    env = env_of(container)
    assert env["TIREK_HTTP_PORT"]["value"] == str(service.default_port)
    assert env["TIREK_OIDC_AUDIENCE"]["value"] == f"tirek-{service.name}"
    # The service connects as its application role; the owner URL is for the bootstrap Job only.
    assert env["TIREK_DB_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": f"tirek-{service.name}-db",
        "key": "TIREK_DB_URL",
    }
    assert "TIREK_DB_OWNER_URL" not in env
    assert env["TIREK_MASTER_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "tirek-master-key"
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True

    svc = find(rendered, "Service", service.name)
    assert svc["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert [p["port"] for p in svc["spec"]["ports"]] == [service.default_port]


def test_services_get_issuer_broker_and_collector_from_the_platform_config(
    rendered: list[Resource],
) -> None:
    platform = find(rendered, "ConfigMap", "tirek-platform")["data"]
    assert platform["TIREK_NATS_URL"] == "nats://tirek-nats:4222"
    assert platform["TIREK_OIDC_ISSUER"].endswith("/realms/tirek")
    assert platform["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://tirek-otel-collector:4318"
    assert platform["TIREK_ENV"] == "production"
    for service in SERVICES:
        container = only_container(find(rendered, "Deployment", service.name))
        assert {"configMapRef": {"name": "tirek-platform"}} in container["envFrom"]


def test_every_secret_and_config_reference_resolves(rendered: list[Resource]) -> None:
    data = {
        (r["kind"], r["metadata"]["name"]): set(r.get("data", {})) | set(r.get("stringData", {}))
        for r in rendered
        if r["kind"] in ("Secret", "ConfigMap")
    }
    missing = []
    for workload in rendered:
        if workload["kind"] not in ("Deployment", "StatefulSet", "Job"):
            continue
        pod = workload["spec"]["template"]["spec"]
        for container in pod["containers"]:
            for ref in container.get("envFrom", []):
                for kind, field in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                    if field in ref and (kind, ref[field]["name"]) not in data:
                        missing.append(
                            f"{workload['metadata']['name']}: {kind} {ref[field]['name']}"
                        )
            for item in container.get("env", []):
                source = item.get("valueFrom", {})
                for kind, field in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                    if field in source:
                        ref = source[field]
                        if ref["key"] not in data.get((kind, ref["name"]), set()):
                            missing.append(
                                f"{workload['metadata']['name']}: {kind} {ref['name']}/{ref['key']}"
                            )
        for volume in pod.get("volumes", []):
            if "configMap" in volume and ("ConfigMap", volume["configMap"]["name"]) not in data:
                missing.append(
                    f"{workload['metadata']['name']}: volume {volume['configMap']['name']}"
                )
    assert not missing, missing


def test_the_bootstrap_job_provisions_every_service_and_r3_streams(
    rendered: list[Resource],
) -> None:
    job = find(rendered, "Job", "tirek-bootstrap")
    container = only_container(job)
    command = container["command"]
    assert command[:2] == ["python", "deploy/bootstrap.py"]
    assert command[command.index("--replicas") + 1] == "3"
    env = env_of(container)
    assert (
        env["TIREK_BOOTSTRAP_ADMIN_DSN"]["valueFrom"]["secretKeyRef"]["name"]
        == "tirek-postgres-admin"
    )
    for service in SERVICES:
        for variable, secret_key in (
            ("DB_URL", "TIREK_DB_URL"),
            ("DB_OWNER_URL", "TIREK_DB_OWNER_URL"),
        ):
            ref = env[f"TIREK_{service.name.upper()}_{variable}"]["valueFrom"]["secretKeyRef"]
            assert ref == {"name": f"tirek-{service.name}-db", "key": secret_key}
    assert (ROOT / "deploy" / "bootstrap.py").is_file()


def test_the_database_urls_name_the_roles_provisioning_creates(rendered: list[Resource]) -> None:
    for service in SERVICES:
        secret = find(rendered, "Secret", f"tirek-{service.name}-db")["stringData"]
        database = f"tirek_{service.name}"
        assert re.match(
            rf"postgresql\+asyncpg://{database}_app:[^@]+@[^/]+/{database}$", secret["TIREK_DB_URL"]
        )
        assert re.match(
            rf"postgresql\+asyncpg://{database}_owner:[^@]+@[^/]+/{database}$",
            secret["TIREK_DB_OWNER_URL"],
        )


def test_nats_runs_as_a_three_node_jetstream_cluster(rendered: list[Resource]) -> None:
    statefulset = find(rendered, "StatefulSet", "tirek-nats")
    assert statefulset["spec"]["replicas"] == 3
    assert statefulset["spec"]["serviceName"] == "tirek-nats-headless"
    container = only_container(statefulset)
    assert "/healthz" in container["readinessProbe"]["httpGet"]["path"]
    assert "/healthz" in container["livenessProbe"]["httpGet"]["path"]
    assert container["resources"]["requests"]
    assert statefulset["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    config = find(rendered, "ConfigMap", "tirek-nats-config")["data"]["nats.conf"]
    assert re.search(r"^\s*sync_interval:\s*always\s*$", config, re.MULTILINE)
    assert 'store_dir: "/data/jetstream"' in config
    routes = re.findall(r"nats-route://([\w.-]+):6222", config)
    assert routes == [f"tirek-nats-{i}.tirek-nats-headless" for i in range(3)]
    find(rendered, "Service", "tirek-nats-headless")
    assert find(rendered, "Service", "tirek-nats")["spec"]["ports"][0]["port"] == 4222


def test_the_collector_is_configured_and_probed(rendered: list[Resource]) -> None:
    collector = find(rendered, "Deployment", "tirek-otel-collector")
    container = only_container(collector)
    assert container["readinessProbe"] and container["resources"]["limits"]
    config = find(rendered, "ConfigMap", "tirek-otel-collector-config")["data"]["collector.yaml"]
    assert "otlp" in config and "4318" in config
    ports = {p["port"] for p in find(rendered, "Service", "tirek-otel-collector")["spec"]["ports"]}
    assert ports == {4317, 4318}


def test_nats_and_every_service_share_the_nats_users_secret(rendered: list[Resource]) -> None:
    (nats,) = [r for r in rendered if r["kind"] == "StatefulSet"]
    (server,) = nats["spec"]["template"]["spec"]["containers"]
    assert {"secretRef": {"name": "tirek-nats-users"}} in server["envFrom"]
    (secret,) = [
        r for r in rendered if r["kind"] == "Secret" and r["metadata"]["name"] == "tirek-nats-users"
    ]
    assert set(secret["stringData"]) == {
        password_variable(user) for user in (*PERMISSION_SERVICES, OPS_USER)
    }
    pods = {
        r["metadata"]["name"]: r["spec"]["template"]["spec"]["containers"][0]
        for r in rendered
        if r["kind"] in ("Deployment", "Job") and r["metadata"]["name"] != "tirek-otel-collector"
    }
    users = {name: name for name in PERMISSION_SERVICES} | {"tirek-bootstrap": OPS_USER}
    for pod, user in users.items():
        env = {item["name"]: item for item in pods[pod]["env"]}
        assert env["TIREK_NATS_USER"]["value"] == user
        assert env["TIREK_NATS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "tirek-nats-users",
            "key": password_variable(user),
        }
