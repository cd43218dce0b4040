"""deploy/k8s wired together: secrets referenced exist as templates holding no secret,
every ConfigMap and claim referenced exists, Services and the Ingress reach the pods, the
URLs in the settings lead where they should, each container's settings are accepted by
its service's own Settings class, and the test renderer refuses what it cannot render."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from pydantic_settings import BaseSettings

from gateway.settings import Settings as GatewaySettings
from identity.settings import Settings as IdentitySettings
from provider_data.platform.settings import Settings as ProviderDataSettings
from tests.deploy.kustomize import KustomizeError, load_documents, render
from tests.deploy.manifests import (
    K8S,
    PORT,
    TARGETS,
    Resource,
    by_name,
    containers,
    of_kind,
    pod_templates,
    selects,
)

TEMPLATES = by_name(load_documents(K8S / "secrets" / "templates.yaml"), "Secret")
# Which service's Settings reads a container's environment, by the command it runs.
SETTINGS: dict[str, tuple[type[BaseSettings], str]] = {
    "identity": (IdentitySettings, "IDENTITY_"),
    "provider_data": (ProviderDataSettings, "PROVIDER_DATA_"),
    "provider-data": (ProviderDataSettings, "PROVIDER_DATA_"),
    "gateway": (GatewaySettings, "GATEWAY_"),
}


@pytest.fixture(scope="module", params=TARGETS)
def resources(request: pytest.FixtureRequest) -> list[Resource]:
    return render(K8S / request.param)


def secret_references(resources: list[Resource]) -> dict[str, set[str]]:
    """Secret name -> the keys read from it one by one (none when read whole)."""
    used: dict[str, set[str]] = {}
    for template in pod_templates(resources).values():
        for container in containers(template):
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    used.setdefault(source["secretRef"]["name"], set())
        for volume in template["spec"].get("volumes", []):
            if "secret" in volume:
                keys = {item["key"] for item in volume["secret"].get("items", [])}
                used.setdefault(volume["secret"]["secretName"], set()).update(keys)
    for ingress in of_kind(resources, "Ingress"):
        for tls in ingress["spec"]["tls"]:
            used.setdefault(tls["secretName"], set()).update({"tls.crt", "tls.key"})
    return used


def test_every_secret_used_exists_as_a_template_and_none_is_applied(
    resources: list[Resource],
) -> None:
    used = secret_references(resources)
    assert set(used) == set(TEMPLATES)
    for name, keys in used.items():
        assert keys <= set(TEMPLATES[name]["stringData"]), name
    assert not of_kind(resources, "Secret")  # created by the operator, never by kustomize


def test_secret_templates_hold_no_secret_value() -> None:
    for name, secret in TEMPLATES.items():
        assert "data" not in secret, name
        for key, value in secret["stringData"].items():
            assert value == "" or ":PASSWORD@" in value, (name, key)


def test_configmaps_and_claims_referenced_exist(resources: list[Resource]) -> None:
    configmaps = by_name(resources, "ConfigMap")
    claims = by_name(resources, "PersistentVolumeClaim")
    for template in pod_templates(resources).values():
        for container in containers(template):
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in configmaps
        for volume in template["spec"].get("volumes", []):
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims


def environment(resources: list[Resource], container: Resource) -> dict[str, str]:
    """What a container's process sees: its ConfigMaps, and its Secrets as the operator
    would fill the templates (random values for the empty ones)."""
    configmaps, env = by_name(resources, "ConfigMap"), {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(configmaps[source["configMapRef"]["name"]]["data"])
        else:
            for key, value in TEMPLATES[source["secretRef"]["name"]]["stringData"].items():
                env[key] = value or secrets.token_urlsafe(32)
    env.update({item["name"]: item["value"] for item in container.get("env", [])})
    return env


def settings_of(container: Resource) -> tuple[type[BaseSettings], str]:
    command = container["command"]
    program = command[2].split(".")[0] if command[0] == "uvicorn" else command[0]
    return SETTINGS[program]


def variable_names(settings: type[BaseSettings], prefix: str) -> set[str]:
    names = set()
    for name, field in settings.model_fields.items():
        alias = field.validation_alias
        names.add(alias if isinstance(alias, str) else prefix + name.upper())
    return names


ALL_NAMES = set().union(*(variable_names(s, p) for s, p in SETTINGS.values()))


def test_each_service_accepts_its_settings(
    resources: list[Resource], monkeypatch: pytest.MonkeyPatch
) -> None:
    for workload, template in pod_templates(resources).items():
        for container in containers(template):
            settings, prefix = settings_of(container)
            env = environment(resources, container)
            for name in env:  # a misspelt variable would be ignored by the service
                assert name.startswith("PYTHON") or name in ALL_NAMES, (workload, name)
                assert not name.startswith(prefix) or name in variable_names(settings, prefix)
            for name in ALL_NAMES & set(os.environ):  # only this container's environment
                monkeypatch.delenv(name)
            for name, value in env.items():
                monkeypatch.setenv(name, value)
            loaded: Any = settings()
            assert loaded.environment == "production", workload
            if workload in ("identity", "eligibility", "claims"):
                audit_files_are_mounted(template, container, loaded)


def audit_files_are_mounted(template: Resource, container: Resource, settings: Any) -> None:
    """The audit key is a file of a Secret volume; checkpoints go to a shared claim."""
    volumes = {v["name"]: v for v in template["spec"]["volumes"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    key = Path(settings.audit_signing_key_file)
    key_mount = mounts[str(key.parent)]
    secret = volumes[key_mount["name"]]["secret"]
    assert key_mount["readOnly"] is True
    assert {"key": key.name, "path": key.name} in secret["items"]
    checkpoints = mounts[settings.audit_checkpoint_dir]
    assert not checkpoints.get("readOnly")
    claim = volumes[checkpoints["name"]]["persistentVolumeClaim"]["claimName"]
    assert claim.endswith("-audit-checkpoints")


def test_services_and_the_ingress_reach_the_pods(resources: list[Resource]) -> None:
    deployments = by_name(resources, "Deployment")
    services = {n: s for n, s in by_name(resources, "Service").items() if "selector" in s["spec"]}
    assert set(services) == set(deployments)
    for name, service in services.items():
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert selects({"matchLabels": service["spec"]["selector"]}, labels)
        assert service["spec"]["ports"] == [{"name": "http", "port": PORT, "targetPort": "http"}]
    (ingress,) = of_kind(resources, "Ingress")
    hosts: dict[str, str] = {}
    for rule in ingress["spec"]["rules"]:
        (path,) = rule["http"]["paths"]
        assert path["backend"]["service"]["port"] == {"name": "http"}
        hosts[rule["host"]] = path["backend"]["service"]["name"]
    assert set(hosts.values()) == {"identity", "gateway"}
    assert {h for tls in ingress["spec"]["tls"] for h in tls["hosts"]} == set(hosts)
    config = {k: v for c in by_name(resources, "ConfigMap").values() for k, v in c["data"].items()}
    for variable, backend in (
        ("TINPASS_ISSUER", "identity"),
        ("GATEWAY_PORTAL_BASE_URL", "gateway"),
    ):
        url = urlsplit(config[variable])
        assert url.scheme == "https"
        assert hosts[str(url.hostname)] == backend, variable
    for variable, backend in (
        ("TINPASS_JWKS_URI", "identity"),
        ("GATEWAY_ELIGIBILITY_URL", "eligibility"),
        ("GATEWAY_CLAIMS_URL", "claims"),
    ):
        url = urlsplit(config[variable])
        assert (url.hostname, url.port) == (backend, PORT), variable


def test_the_renderer_refuses_what_it_would_not_render_as_kustomize(tmp_path: Path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    (base / "config.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {A: a}\n"
    )
    cases = {
        "namePrefix: x-\n": "unsupported kustomization fields",
        "patches: [{path: p.yaml}]\n": "only inline JSON patches",
        "patches: [{target: {kind: ConfigMap}, patch: 'data: {A: b}'}]\n": "strategic merge",
        "patches: [{target: {kind: Secret}, patch: '[]'}]\n": "matches nothing",
        "images: [{name: tinpass, newTag: x}]\n": "no container uses",
        "replicas: [{name: c, count: 2}]\n": "no workload",
    }
    for body, message in cases.items():
        (tmp_path / "kustomization.yaml").write_text("resources: [base]\n" + body)
        (base / "kustomization.yaml").write_text("resources: [config.yaml]\n")
        with pytest.raises(KustomizeError, match=message):
            render(tmp_path)
    (tmp_path / "kustomization.yaml").write_text(
        "resources: [base]\nnamespace: n\npatches:\n"
        "  - target: {kind: ConfigMap, name: c}\n"
        "    patch: '[{op: test, path: /data/A, value: a},"
        " {op: replace, path: /data/A, value: b}]'\n"
    )
    (config,) = render(tmp_path)
    assert config["metadata"]["namespace"] == "n"
    assert config["data"] == {"A": "b"}
