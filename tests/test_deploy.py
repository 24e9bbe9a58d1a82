"""The deployment files agree with the code: docker-compose.yml, the Dockerfile, deploy/.

No Docker engine runs where the tests run, so nothing here starts a container. What drifts
silently between a compose file and the code is checked instead: every variable the
compose file sets is one the code reads (the settings ignore unknown names, so a typo
would just be lost), the commands and options exist, the mounted files exist and load,
nginx and Prometheus point at the API services on the port the image serves, and the
image's health check and scrape path are routes of the app.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings
from typer.testing import CliRunner

from runtime.api.auth import KeyRing
from runtime.api.config import ApiSettings
from runtime.cli import _register
from runtime.cli import app as typer_app
from runtime.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
# read with os.environ directly (not a settings field): the program store's directory
OTHER_ENV = {"DDTFLOW_PROGRAM_STORE"}


def _ours(service: dict[str, Any]) -> bool:
    return service.get("image") == "ddtflow:latest" or "build" in service


OURS = {name: s for name, s in SERVICES.items() if _ours(s)}


def _env_names(cls: type[BaseSettings]) -> set[str]:
    prefix = str(cls.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for name, field in cls.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {c for c in alias.choices if isinstance(c, str)}
        else:
            names.add(f"{prefix}{name}".upper())
    return names


def _exposed_port() -> int:
    m = re.search(r"^EXPOSE (\d+)$", DOCKERFILE, flags=re.M)
    assert m, "the Dockerfile exposes no port"
    return int(m.group(1))


def test_the_compose_file_runs_our_image_for_the_api_and_the_worker() -> None:
    assert {"api1", "api2", "worker"} <= OURS.keys()
    for name in ("redis", "rabbitmq", "mongo", "nginx"):
        assert name in SERVICES, name


def test_every_variable_the_compose_file_sets_is_read_by_the_code() -> None:
    known = _env_names(Settings) | _env_names(ApiSettings) | OTHER_ENV
    for name, service in OURS.items():
        env = service.get("environment") or {}
        unknown = sorted(set(env) - known)
        assert not unknown, f"{name}: variables no setting reads: {unknown}"


def test_the_compose_environment_is_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {k: str(v) for k, v in (OURS["api1"].get("environment") or {}).items()}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    settings = Settings()
    assert settings.redis_url == env["REDIS_URL"]
    assert settings.amqp_url == env["AMQP_URL"]
    assert settings.mongo_url == env["MONGO_URL"]
    assert settings.queue_type == "quorum"  # the deploy guide's advice, in the file itself
    api = ApiSettings()
    assert api.api_keys_file is not None and api.log_level == env["DDTFLOW_LOG_LEVEL"]


def _mounts() -> list[tuple[str, Path, str]]:
    out = []
    for name, service in SERVICES.items():
        for volume in service.get("volumes") or []:
            host, _, rest = str(volume).partition(":")
            if host.startswith("./"):
                out.append((name, ROOT / host, rest.split(":")[0]))
    return out


def test_every_mounted_file_exists() -> None:
    mounts = _mounts()
    assert len(mounts) >= 3
    for name, host, _ in mounts:
        assert host.is_file(), f"{name} mounts {host}, which does not exist"


def test_the_mounted_api_keys_file_is_the_one_the_settings_name_and_it_loads() -> None:
    env = OURS["api1"].get("environment") or {}
    target = env["DDTFLOW_API_KEYS_FILE"]
    hosts = [host for name, host, inside in _mounts() if name == "api1" and inside == target]
    assert len(hosts) == 1, f"{target} is not mounted into api1"
    ring = KeyRing.load(hosts[0], None)
    assert not ring.open_mode and ring.tenants == {"demo"}


def test_the_commands_and_options_exist() -> None:
    commands = [["serve"]]
    for service in OURS.values():
        command = service.get("command")
        if command:
            assert command[0] == "ddtflow", command
            commands.append(list(command[1:]))
    cmd = re.search(r'^CMD \["sh", "-c", "exec (.*)"\]$', DOCKERFILE, flags=re.M)
    assert cmd, "the Dockerfile's CMD is not the expected exec form"
    words = shlex.split(cmd.group(1).replace("${WORKERS}", "1"))
    assert words[:2] == ["ddtflow", "serve"], words
    _register()
    runner = CliRunner()
    for args in commands:
        result = runner.invoke(typer_app, [*args[:1], "--help"])
        assert result.exit_code == 0, (args, result.output)
        for option in (w for w in args[1:] if w.startswith("--")):
            assert option in result.output, f"ddtflow {args[0]} has no {option}"
    help_text = runner.invoke(typer_app, ["serve", "--help"]).output
    for option in (w for w in words[2:] if w.startswith("--")):
        assert option in help_text, f"ddtflow serve has no {option}"
    port = words[words.index("--port") + 1]
    assert int(port) == _exposed_port()


def test_nginx_and_prometheus_point_at_the_api_services_on_the_image_port() -> None:
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    upstream = re.search(r"upstream ddtflow_api \{(.*?)\}", nginx, flags=re.S)
    assert upstream
    servers = re.findall(r"server ([\w.-]+):(\d+)", upstream.group(1))
    prometheus = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in prometheus["scrape_configs"]}
    assert set(jobs) == {"ddtflow-api", "ddtflow-worker"}
    job = jobs["ddtflow-api"]
    targets = [t.split(":") for c in job["static_configs"] for t in c["targets"]]
    api = {name for name, s in OURS.items() if not s.get("command")}
    for kind, pairs in (("nginx", servers), ("prometheus", targets)):
        assert {host for host, _ in pairs} == api, kind
        assert {int(port) for _, port in pairs} == {_exposed_port()}, kind
    assert job["metrics_path"] == "/metrics"
    # the worker's own metrics port, as its command line sets it
    worker = OURS["worker"]["command"]
    port = worker[worker.index("--metrics-port") + 1]
    wjob = jobs["ddtflow-worker"]
    assert [t for c in wjob["static_configs"] for t in c["targets"]] == [f"worker:{port}"]


def test_the_image_health_check_and_the_scrape_path_are_routes_of_the_app() -> None:
    from runtime.api.app import create_app

    paths = set(create_app().openapi()["paths"])
    assert "/healthz" in DOCKERFILE and "/healthz" in paths
    assert "/metrics" in paths and "/readyz" in paths


def test_the_image_copies_every_package_and_the_examples() -> None:
    copied = set(re.findall(r"^COPY (\w+) \1$", DOCKERFILE, flags=re.M))
    assert {"schemas", "compiler", "ddt_engine", "runtime"} <= copied
    assert "COPY examples examples" in DOCKERFILE
