"""deploy/compose.yaml: valid against the Compose specification, every file it mounts exists,
every service waits for what it needs, and each Tirek service is built, configured and
health-checked the same way."""

from __future__ import annotations

import json
import re
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tirek.localstack.stack import SERVICES
from tirek.messaging.permissions import OPS_USER, password_variable
from tirek.messaging.permissions import SERVICES as PERMISSION_SERVICES

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "compose.yaml"
# ${NAME}, ${NAME:-default}, ${NAME:?error}: what Compose interpolates from deploy/.env.
VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    services: dict[str, Any] = compose["services"]
    return services


def compose_spec() -> dict[str, Any]:
    # The Compose specification's JSON schema, vendored by check-jsonschema (works offline).
    schema = files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    loaded: dict[str, Any] = json.loads(schema.read_text(encoding="utf-8"))
    return loaded


def test_the_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = compose_spec()
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [
        f"{'/'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in validator.iter_errors(compose)
    ]
    assert not errors, "\n".join(errors)


def test_every_file_the_compose_file_mounts_or_builds_exists(services: dict[str, Any]) -> None:
    missing = []
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                if not (DEPLOY / source).exists():
                    missing.append(f"{name}: {source}")
        if "build" in service:
            context = DEPLOY / service["build"]["context"]
            if not (context / service["build"].get("dockerfile", "Dockerfile")).is_file():
                missing.append(f"{name}: Dockerfile in {context}")
    assert not missing, missing


def test_whatever_a_service_waits_for_to_be_healthy_has_a_health_check(
    services: dict[str, Any],
) -> None:
    wrong = []
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            if dependency not in services:
                wrong.append(f"{name} depends on unknown {dependency}")
            elif (
                condition["condition"] == "service_healthy"
                and "healthcheck" not in services[dependency]
            ):
                wrong.append(f"{name} waits for {dependency}, which has no health check")
    assert not wrong, wrong


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_every_tirek_service_is_built_configured_and_health_checked(
    services: dict[str, Any], service: Any
) -> None:
    spec = services[service.name]
    assert spec["build"] == {"context": "..", "dockerfile": "Dockerfile"}
    assert spec["command"] == ["python", "-m", service.name, "serve"]
    env = spec["environment"]
    port = str(service.default_port)
    assert env["TIREK_HTTP_PORT"] == port
    assert env["TIREK_HTTP_HOST"] == "0.0.0.0"
    assert env["TIREK_OIDC_AUDIENCE"] == f"tirek-{service.name}"
    assert env["TIREK_OIDC_ISSUER"].endswith("/realms/tirek")
    assert env["TIREK_NATS_URL"] == "nats://nats:4222"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
    assert "TIREK_MASTER_KEY" in env
    assert re.match(
        rf"postgresql\+asyncpg://tirek_{service.name}_app:[^@]+@postgres:5432/tirek_{service.name}$",
        env["TIREK_DB_URL"],
    )
    assert "TIREK_DB_OWNER_URL" not in env, "only the bootstrap job migrates, as the owner"
    assert f"http://127.0.0.1:{port}/health/ready" in " ".join(spec["healthcheck"]["test"])
    assert spec["depends_on"]["bootstrap"] == {"condition": "service_completed_successfully"}
    for dependency in ("nats", "postgres", "keycloak"):
        assert spec["depends_on"][dependency] == {"condition": "service_healthy"}


def test_the_bootstrap_job_gets_every_service_database_and_waits_for_its_servers(
    services: dict[str, Any],
) -> None:
    bootstrap = services["bootstrap"]
    assert bootstrap["command"][:2] == ["python", "deploy/bootstrap.py"]
    assert bootstrap["restart"] == "no"
    env = bootstrap["environment"]
    for service in SERVICES:
        # The very URL the service gets, so roles and passwords cannot drift apart.
        assert (
            env[f"TIREK_{service.name.upper()}_DB_URL"]
            == services[service.name]["environment"]["TIREK_DB_URL"]
        )
        assert re.match(
            rf"postgresql\+asyncpg://tirek_{service.name}_owner:",
            env[f"TIREK_{service.name.upper()}_DB_OWNER_URL"],
        )
    assert env["TIREK_BOOTSTRAP_ADMIN_DSN"].startswith("postgresql://postgres:")
    assert bootstrap["depends_on"] == {
        "nats": {"condition": "service_healthy"},
        "postgres": {"condition": "service_healthy"},
    }


def test_nats_uses_the_shipped_single_node_config(services: dict[str, Any]) -> None:
    nats = services["nats"]
    assert "./nats/single.conf:/etc/nats/tirek.conf:ro" in nats["volumes"]
    # single.conf includes ./users.conf: it must sit next to it.
    assert "./nats/users.conf:/etc/nats/users.conf:ro" in nats["volumes"]
    assert nats["command"] == ["nats-server", "--config", "/etc/nats/tirek.conf"]
    assert "healthz" in " ".join(nats["healthcheck"]["test"])


def test_keycloak_imports_the_tirek_realm(services: dict[str, Any]) -> None:
    keycloak = services["keycloak"]
    assert "--import-realm" in keycloak["command"]
    assert (
        "./keycloak/tirek-realm.json:/opt/keycloak/data/import/tirek-realm.json:ro"
        in keycloak["volumes"]
    )
    realm = json.loads((DEPLOY / "keycloak" / "tirek-realm.json").read_text(encoding="utf-8"))
    placeholders = {
        name for client in realm["clients"] for name in VARIABLE.findall(client.get("secret", ""))
    }
    # Every client secret the realm file reads from the environment reaches Keycloak.
    assert placeholders and placeholders <= set(keycloak["environment"])


def test_traces_flow_from_the_collector_to_jaeger(services: dict[str, Any]) -> None:
    collector = services["otel-collector"]
    assert "./otel/collector.yaml:/etc/otelcol/collector.yaml:ro" in collector["volumes"]
    config = yaml.safe_load((DEPLOY / "otel" / "collector.yaml").read_text(encoding="utf-8"))
    pipeline = config["service"]["pipelines"]["traces"]
    assert pipeline["receivers"] == ["otlp"]
    (exporter,) = pipeline["exporters"]
    assert config["exporters"][exporter]["endpoint"] == "jaeger:4317"
    assert "jaeger" in services


def test_every_variable_the_compose_file_requires_is_listed_in_the_example_env() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    required = {m.group(1) for m in re.finditer(r"\$\{([A-Z0-9_]+):\?", text)}
    example = (DEPLOY / ".env.example").read_text(encoding="utf-8")
    listed = set(re.findall(r"^([A-Z0-9_]+)=", example, re.MULTILINE))
    assert required, "compose.yaml requires no secret at all?"
    assert required <= listed, sorted(required - listed)


def test_each_service_connects_to_nats_as_its_own_user_with_the_password_nats_knows(
    services: dict[str, Any],
) -> None:
    server_env = services["nats"]["environment"]
    clients = {name: services[name]["environment"] for name in PERMISSION_SERVICES}
    clients[OPS_USER] = services["bootstrap"]["environment"]
    for user, env in clients.items():
        assert env["TIREK_NATS_USER"] == user
        # The same variable of deploy/.env feeds the server's and the client's side.
        assert env["TIREK_NATS_PASSWORD"] == server_env[password_variable(user)], user
    assert len({env["TIREK_NATS_PASSWORD"] for env in clients.values()}) == len(clients)
