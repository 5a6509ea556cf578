"""The deployment files agree with the code: Kubernetes manifests, the Dockerfile, Compose and the env examples.

The manifests are parsed with PyYAML and validated against the Kubernetes API's JSON schemas (strict: unknown
fields fail) with ``kubernetes-validate``, which ships those schemas; no cluster is involved. Every variable the
settings read must be documented in ``.env.example``, and every variable the deployment files set must be one
the settings or the start scripts read.
"""

from __future__ import annotations

import ast
import http.server
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from django.urls import resolve

from finops import health
from tests.harness import free_port

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
APP_PACKAGES = ("finops", "ingest", "forecasting", "planning")
# Read by gunicorn itself (trusted proxies for X-Forwarded-Proto), not by the settings or the start scripts.
THIRD_PARTY_VARIABLES = {"FORWARDED_ALLOW_IPS"}
# The oldest Kubernetes release the manifests are meant for, and the newest the validator knows.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())


def settings_variables() -> set[str]:
    """Names read by ``finops/settings/base.py``: ``env("X")``, ``env.str("X")``, ``env.db_url("X")``, ..."""
    tree = ast.parse((REPO / "finops" / "settings" / "base.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)):
            continue
        function = node.func
        reads_env = (isinstance(function, ast.Name) and function.id == "env") or (
            isinstance(function, ast.Attribute) and isinstance(function.value, ast.Name) and function.value.id == "env"
        )
        if reads_env and isinstance(node.args[0].value, str):
            names.add(node.args[0].value)
    return names


def _string_constants(tree: ast.Module) -> dict[str, str]:
    return {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def _environ_key(node: ast.AST) -> ast.expr | None:
    """The key expression of ``os.environ.get(K)``, ``os.environ[K]`` or ``os.getenv(K)``, else None."""
    if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
        return node.slice
    if isinstance(node, ast.Call) and node.args and ast.unparse(node.func) in {"os.environ.get", "os.getenv"}:
        return node.args[0]
    return None


def app_environ_variables() -> set[str]:
    """Names the application code reads from ``os.environ`` outside the settings (e.g. ``TOKENCAST_PASSWORD``)."""
    names = set()
    for package in APP_PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            tree = ast.parse(path.read_text())
            constants = _string_constants(tree)
            for node in ast.walk(tree):
                key = _environ_key(node)
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    names.add(key.value)
                elif isinstance(key, ast.Name) and key.id in constants:
                    names.add(constants[key.id])
    return names


def script_variables() -> set[str]:
    """Names the start scripts read (``${NAME:-default}``)."""
    return {name for path in DEPLOY.glob("start-*.sh") for name in re.findall(r"\$\{(\w+)", path.read_text())}


def env_file_variables(path: Path) -> set[str]:
    """Names an env file sets or documents (``NAME=value`` or commented ``# NAME=value``)."""
    return set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", path.read_text(), flags=re.MULTILINE))


def manifest_files() -> list[Path]:
    return sorted(path for path in K8S.glob("*.yaml") if path.name != "kustomization.yaml")


def manifests() -> list[dict[str, Any]]:
    return [document for path in manifest_files() for document in yaml.safe_load_all(path.read_text()) if document]


def objects(kind: str) -> dict[str, dict[str, Any]]:
    return {document["metadata"]["name"]: document for document in manifests() if document["kind"] == kind}


def pod_specs() -> dict[str, dict[str, Any]]:
    """Pod spec of every Deployment and Job, by object name."""
    workloads = {**objects("Deployment"), **objects("Job")}
    return {name: workload["spec"]["template"]["spec"] for name, workload in workloads.items()}


def containers(pod_spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod_spec.get("initContainers", []), *pod_spec["containers"]]


def main_container(name: str) -> dict[str, Any]:
    return pod_specs()[name]["containers"][0]


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


# --- Kubernetes manifests ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", manifest_files(), ids=lambda path: path.name)
def test_every_manifest_parses_with_api_version_kind_and_name(path: Path) -> None:
    documents = [document for document in yaml.safe_load_all(path.read_text()) if document]

    assert len(documents) == 1
    assert documents[0]["apiVersion"]
    assert documents[0]["kind"]
    assert documents[0]["metadata"]["name"].startswith("tokencast-")


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("path", manifest_files(), ids=lambda path: path.name)
def test_every_manifest_validates_against_the_kubernetes_schema(path: Path, version: str) -> None:
    for document in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(document, version, strict=True)


def test_the_kustomization_lists_every_manifest_but_the_secret_example() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())

    assert kustomization["kind"] == "Kustomization"
    assert sorted(kustomization["resources"]) == sorted(
        path.name for path in manifest_files() if path.name != "secret.example.yaml"
    )
    assert [image["name"] for image in kustomization["images"]] == ["tokencast"]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomize_builds_every_object() -> None:
    result = subprocess.run(["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=120, check=True)

    built = [document for document in yaml.safe_load_all(result.stdout) if document]
    assert len(built) == len(manifests()) - 1  # all but the Secret example
    workloads = [document for document in built if document["kind"] in {"Deployment", "Job"}]
    images = {
        container["image"] for document in workloads for container in containers(document["spec"]["template"]["spec"])
    }
    assert images == {"registry.example.com/tokencast:0.1.0"}


def test_the_objects_of_a_deployment_are_all_there() -> None:
    kinds = {(document["kind"], document["metadata"]["name"]) for document in manifests()}

    assert kinds == {
        ("ConfigMap", "tokencast-config"),
        ("Secret", "tokencast-secrets"),
        ("PersistentVolumeClaim", "tokencast-media"),
        ("Job", "tokencast-migrate"),
        ("Deployment", "tokencast-web"),
        ("Service", "tokencast-web"),
        ("Deployment", "tokencast-worker-ingest"),
        ("Deployment", "tokencast-worker-forecasting"),
        ("HorizontalPodAutoscaler", "tokencast-worker-forecasting"),
        ("Deployment", "tokencast-beat"),
    }


def test_every_container_command_runs_files_that_exist() -> None:
    for name, spec in pod_specs().items():
        for container in containers(spec):
            words = [word for part in container["command"] for word in shlex.split(part)]
            paths = [word for word in words if word.endswith((".sh", ".py"))]
            assert paths, f"{name}/{container['name']}: {container['command']}"
            for path in paths:
                assert (REPO / path).is_file(), f"{name}/{container['name']} runs {path}, which does not exist"
                assert path.endswith(".py") or os.access(REPO / path, os.X_OK), f"{path} is not executable"


def test_the_processes_run_the_same_commands_as_in_compose() -> None:
    services = compose()["services"]

    for service in ("web", "worker-ingest", "worker-forecasting", "beat"):
        assert main_container(f"tokencast-{service}")["command"] == services[service]["command"], service
    assert main_container("tokencast-migrate")["command"] == services["migrate"]["command"]


def test_the_web_probes_hit_the_health_views() -> None:
    web = main_container("tokencast-web")
    port_names = {port["name"] for port in web["ports"]}

    probes = {kind: web[kind]["httpGet"] for kind in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert {kind: resolve(probe["path"]).func for kind, probe in probes.items()} == {
        "startupProbe": health.healthz,
        "livenessProbe": health.healthz,
        "readinessProbe": health.readyz,
    }
    assert {probe["port"] for probe in probes.values()} <= port_names
    assert web["readinessProbe"]["timeoutSeconds"] > health.BROKER_TIMEOUT_SECONDS


def test_the_workers_liveness_pings_their_own_celery_node() -> None:
    for name in ("tokencast-worker-ingest", "tokencast-worker-forecasting"):
        probe = main_container(name)["livenessProbe"]

        assert probe["exec"]["command"][:2] == ["sh", "-c"]
        assert 'celery -A finops inspect ping --destination "celery@$HOSTNAME"' in probe["exec"]["command"][2]
        assert probe["periodSeconds"] >= 30
        assert probe["timeoutSeconds"] >= 20


def test_beat_runs_once_and_is_replaced_not_rolled() -> None:
    beat = objects("Deployment")["tokencast-beat"]

    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}


def test_every_container_has_requests_and_limits_and_runs_as_the_image_user() -> None:
    user = re.search(r"--uid (\d+)", (DEPLOY / "Dockerfile").read_text())
    assert user is not None
    image_uid = int(user.group(1))

    for name, spec in pod_specs().items():
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] == image_uid, name
        for container in containers(spec):
            label = f"{name}/{container['name']}"
            assert set(container["resources"]["requests"]) == {"cpu", "memory"}, label
            assert set(container["resources"]["limits"]) == {"cpu", "memory"}, label
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, label
            assert container["securityContext"]["capabilities"]["drop"] == ["ALL"], label


def test_the_forecasting_workers_scale_on_cpu() -> None:
    autoscaler = objects("HorizontalPodAutoscaler")["tokencast-worker-forecasting"]

    assert autoscaler["apiVersion"] == "autoscaling/v2"
    assert autoscaler["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "tokencast-worker-forecasting",
    }
    assert [metric["resource"]["name"] for metric in autoscaler["spec"]["metrics"]] == ["cpu"]
    assert 1 <= autoscaler["spec"]["minReplicas"] < autoscaler["spec"]["maxReplicas"]
    assert "cpu" in main_container("tokencast-worker-forecasting")["resources"]["requests"]


def test_the_service_routes_to_the_web_pods() -> None:
    service = objects("Service")["tokencast-web"]
    web = objects("Deployment")["tokencast-web"]

    assert service["spec"]["selector"] == web["spec"]["selector"]["matchLabels"]
    assert {port["targetPort"] for port in service["spec"]["ports"]} <= {
        port["name"] for port in main_container("tokencast-web")["ports"]
    }


def test_the_uploads_volume_is_shared_by_web_and_the_ingest_workers() -> None:
    media_root = objects("ConfigMap")["tokencast-config"]["data"]["MEDIA_ROOT"]

    for name in ("tokencast-web", "tokencast-worker-ingest"):
        spec = pod_specs()[name]
        claims = {volume["name"]: volume["persistentVolumeClaim"]["claimName"] for volume in spec["volumes"]}
        mounts = {mount["mountPath"]: claims[mount["name"]] for mount in spec["containers"][0]["volumeMounts"]}
        assert mounts[media_root] == "tokencast-media", name
    assert objects("PersistentVolumeClaim")["tokencast-media"]["spec"]["accessModes"] == ["ReadWriteMany"]


def test_config_and_secret_set_only_variables_the_app_reads() -> None:
    known = settings_variables() | script_variables() | THIRD_PARTY_VARIABLES
    config = objects("ConfigMap")["tokencast-config"]["data"]
    secret = objects("Secret")["tokencast-secrets"]["stringData"]

    assert set(config) - known == set()
    assert set(secret) - known == set()
    assert {"SECRET_KEY", "DATABASE_URL"} <= set(secret)
    assert "ALLOWED_HOSTS" in config
    for name, spec in pod_specs().items():
        for container in containers(spec):
            assert {variable["name"] for variable in container.get("env", [])} <= known, name
            sources = {next(iter(source.values()))["name"] for source in container["envFrom"]}
            assert sources == {"tokencast-config", "tokencast-secrets"}, name


# --- .env.example, production.env.example ------------------------------------------------------------------------


def test_the_env_example_documents_every_variable_the_settings_and_the_app_read() -> None:
    read = settings_variables() | app_environ_variables()

    assert {"SECRET_KEY", "DATABASE_URL", "LOG_FORMAT", "TOKENCAST_PASSWORD"} <= read  # the parsers find them
    assert read - env_file_variables(REPO / ".env.example") == set()


def test_the_env_example_documents_nothing_that_is_not_read() -> None:
    read = settings_variables() | app_environ_variables() | script_variables()

    assert env_file_variables(REPO / ".env.example") - read == set()


def test_the_production_env_example_sets_only_known_variables_and_every_required_one() -> None:
    compose_variables = set(re.findall(r"\$\{(\w+)", (DEPLOY / "docker-compose.yml").read_text()))
    known = settings_variables() | script_variables() | compose_variables | THIRD_PARTY_VARIABLES
    production = env_file_variables(DEPLOY / "production.env.example")

    assert production - known == set()
    assert {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "CELERY_BROKER_URL", "EMAIL_URL"} <= production


# --- Dockerfile and Compose --------------------------------------------------------------------------------------


def dockerfile_run_line(command: str) -> str:
    """The shell command of the Dockerfile's RUN instruction that contains ``command``, continuations joined."""
    instructions = re.split(r"\n(?=[A-Z]+ )", (DEPLOY / "Dockerfile").read_text().replace("\\\n", " "))
    return next(line.removeprefix("RUN ") for line in instructions if line.startswith("RUN ") and command in line)


def test_the_dockerfile_collectstatic_passes_the_production_boot_check(tmp_path) -> None:
    # Exactly the build's RUN line, in an environment without any of the variables it must bring itself.
    command = dockerfile_run_line("collectstatic")
    steering = {"SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "DEBUG", "DJANGO_SETTINGS_MODULE"}
    environment = {key: value for key, value in os.environ.items() if key not in steering}
    environment.update(TOKENCAST_VAR_DIR=str(tmp_path), PATH=f"{Path(sys.executable).parent}:{environment['PATH']}")

    result = subprocess.run(
        ["sh", "-c", command], cwd=REPO, env=environment, capture_output=True, text=True, timeout=300
    )

    assert result.returncode == 0, result.stderr
    assert "static files copied" in result.stdout
    assert (tmp_path / "static" / "admin").is_dir()


@pytest.fixture
def health_server() -> Iterator[int]:
    """A loopback HTTP server answering 200 on /healthz and /readyz, 503 elsewhere; yields its port."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path in health.PROBE_PATHS else 503)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_the_image_healthcheck_gets_healthz_on_the_web_port(health_server: int) -> None:
    healthcheck = re.search(
        r"^HEALTHCHECK .*? CMD (\[.*\])$", (DEPLOY / "Dockerfile").read_text().replace("\\\n", " "), re.M
    )
    assert healthcheck is not None
    command = json.loads(healthcheck.group(1))  # the exec form: a JSON array
    assert "/healthz" in command[-1]

    def run(port: int) -> int:
        environment = {**os.environ, "WEB_BIND": f"0.0.0.0:{port}"}
        return subprocess.run([sys.executable, *command[1:]], env=environment, timeout=30).returncode

    assert run(health_server) == 0
    assert run(free_port()) != 0


def test_compose_checks_web_readiness_and_pings_the_workers() -> None:
    services = compose()["services"]

    web_check = services["web"]["healthcheck"]["test"]
    assert web_check[:3] == ["CMD", "python", "-c"]
    assert "http://127.0.0.1:8000/readyz" in web_check[3]
    for worker in ("worker-ingest", "worker-forecasting"):
        assert 'inspect ping --destination "celery@$${HOSTNAME}"' in services[worker]["healthcheck"]["test"][1]
    assert services["beat"]["healthcheck"] == {"disable": True}
    assert services["migrate"]["healthcheck"] == {"disable": True}
