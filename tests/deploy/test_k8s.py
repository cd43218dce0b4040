"""deploy/k8s: every manifest and every rendered overlay is valid against the Kubernetes
API schemas (kubernetes-validate, offline, strict: unknown fields are errors), and the
rendered objects hold what an operator relies on: replicas, probes, limits, non-root
read-only containers, a PDB and an HPA per Deployment, one image, and network policies
that select real pods and allow exactly the paths of the architecture."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest

from deploy.stack import FACTORIES
from tests.deploy.kustomize import load_documents, render, split_image
from tests.deploy.manifests import (
    K8S,
    OVERLAYS,
    PORT,
    SERVICES,
    TARGETS,
    Resource,
    allowed_paths,
    by_name,
    containers,
    of_kind,
    pod_templates,
    selects,
)

# The Kubernetes version the manifests are written for (the oldest they support), and
# the newest whose schemas kubernetes-validate ships: overlays are checked against both.
KUBERNETES_VERSION = "1.31"
NEWEST_VERSION = "1.37"


@pytest.fixture(scope="module", params=TARGETS)
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[Resource]]:
    return request.param, render(K8S / request.param)


def manifest_files() -> list[Path]:
    files = sorted(K8S.rglob("*.yaml"))
    return [f for f in files if f.name != "kustomization.yaml"]


@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: str(p.relative_to(K8S)))
def test_every_manifest_file_is_valid(path: Path) -> None:
    documents = load_documents(path)
    assert documents
    for document in documents:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("version", [KUBERNETES_VERSION, NEWEST_VERSION])
@pytest.mark.parametrize("target", OVERLAYS)
def test_every_rendered_object_is_valid(target: str, version: str) -> None:
    resources = render(K8S / target)
    assert {r["metadata"].get("namespace") for r in resources if r["kind"] != "Namespace"} == {
        by_name(resources, "Namespace").popitem()[0]
    }
    for resource in resources:
        kubernetes_validate.validate(resource, version, strict=True)


def test_the_validator_refuses_what_kubernetes_refuses() -> None:
    deployment = by_name(render(K8S / "base"), "Deployment")["identity"]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match="readinessprobe"):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_deployments_run_each_service_twice_probed_limited_and_locked_down(
    rendered: tuple[str, list[Resource]],
) -> None:
    _, resources = rendered
    deployments = by_name(resources, "Deployment")
    assert set(deployments) == SERVICES
    for name, deployment in deployments.items():
        assert deployment["spec"]["replicas"] >= 2, name
        template = deployment["spec"]["template"]
        assert selects(deployment["spec"]["selector"], template["metadata"]["labels"])
        (container,) = template["spec"]["containers"]
        assert {"name": "http", "containerPort": PORT} in container["ports"]
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in template["spec"]["volumes"]}
        assert "emptyDir" in volumes[mounts["/tmp"]], name


def test_every_container_is_limited_non_root_and_read_only(
    rendered: tuple[str, list[Resource]],
) -> None:
    _, resources = rendered
    for name, template in pod_templates(resources).items():
        pod = template["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] != 0, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod["automountServiceAccountToken"] is False, name
        for container in containers(template):
            assert set(container["resources"]) == {"requests", "limits"}, name
            for part in ("requests", "limits"):
                assert set(container["resources"][part]) == {"cpu", "memory"}, name
            security = container["securityContext"]
            assert security["runAsNonRoot"] is True, name
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"]["drop"] == ["ALL"], name


def test_every_deployment_has_a_disruption_budget_and_an_autoscaler(
    rendered: tuple[str, list[Resource]],
) -> None:
    _, resources = rendered
    deployments = by_name(resources, "Deployment")
    for name, deployment in deployments.items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        budgets = of_kind(resources, "PodDisruptionBudget")
        assert len([p for p in budgets if selects(p["spec"]["selector"], labels)]) == 1, name
        scalers = [
            h
            for h in of_kind(resources, "HorizontalPodAutoscaler")
            if h["spec"]["scaleTargetRef"]
            == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        ]
        assert len(scalers) == 1, name
        spec = scalers[0]["spec"]
        assert scalers[0]["apiVersion"] == "autoscaling/v2"
        # the Deployment's replicas are the autoscaler's floor: an apply does not fight it
        assert spec["minReplicas"] == deployment["spec"]["replicas"] <= spec["maxReplicas"]


def test_every_service_is_one_image_started_as_the_stack_starts_it(
    rendered: tuple[str, list[Resource]],
) -> None:
    target, resources = rendered
    images = {c["image"] for t in pod_templates(resources).values() for c in containers(t)}
    assert len(images) == 1
    if target != "base":
        (overlay,) = load_documents(K8S / target / "kustomization.yaml")[0]["images"]
        assert images == {f"{overlay['newName']}:{overlay['newTag']}"}
    assert split_image(images.pop())[0].endswith("tinpass")
    for name, deployment in by_name(resources, "Deployment").items():
        command = deployment["spec"]["template"]["spec"]["containers"][0]["command"]
        assert command[:3] == ["uvicorn", "--factory", FACTORIES[name]]
        assert command[command.index("--port") + 1] == str(PORT)
        assert "--no-proxy-headers" in command
    job = by_name(resources, "Job")["tinpass-migrate"]
    commands = [c["command"] for c in containers(job["spec"]["template"])]
    assert commands == [["identity", "migrate"], ["provider-data", "migrate"]]


def test_network_policies_select_real_pods(rendered: tuple[str, list[Resource]]) -> None:
    _, resources = rendered
    pods = [t["metadata"]["labels"] for t in pod_templates(resources).values()]
    policies = by_name(resources, "NetworkPolicy")
    assert policies["default-deny"]["spec"] == {
        "podSelector": {},
        "policyTypes": ["Ingress", "Egress"],
    }
    for name, policy in policies.items():
        selector = policy["spec"]["podSelector"]
        assert selector == {} or any(selects(selector, labels) for labels in pods), name
        for direction, key in (("ingress", "from"), ("egress", "to")):
            for rule in policy["spec"].get(direction, []):
                for peer in rule[key]:
                    if set(peer) == {"podSelector"}:  # this namespace's pods
                        assert any(selects(peer["podSelector"], labels) for labels in pods), name


DATABASE_USERS = ("identity", "eligibility", "claims", "tinpass-migrate")
ARCHITECTURE = {
    ("ns:ingress-nginx", "identity", PORT),
    ("ns:ingress-nginx", "gateway", PORT),
    ("gateway", "eligibility", PORT),
    ("gateway", "claims", PORT),
    ("gateway", "identity", PORT),  # JWKS
    ("eligibility", "identity", PORT),  # JWKS
    ("claims", "identity", PORT),  # JWKS
    # the public URLs: identity's back-channel logout, the portal's OIDC calls
    ("identity", "ns:ingress-nginx", 443),
    ("gateway", "ns:ingress-nginx", 443),
    *((user, "external", 5432) for user in DATABASE_USERS),
    ("identity", "external", 6379),
    ("gateway", "external", 6379),
    ("identity", "external", 587),  # SMTP
    *((pod, "ns:kube-system", 53) for pod in (*SERVICES, "tinpass-migrate")),
    *(("ns:monitoring", pod, PORT) for pod in SERVICES),  # Prometheus scrapes /metrics
}


def test_network_policies_allow_exactly_the_paths_of_the_architecture(
    rendered: tuple[str, list[Resource]],
) -> None:
    _, resources = rendered
    assert allowed_paths(resources) == ARCHITECTURE


@pytest.mark.parametrize("target", OVERLAYS)
def test_overlays_narrow_egress_to_the_data_stores_networks(target: str) -> None:
    resources = render(K8S / target)
    blocks = [
        peer["ipBlock"]["cidr"]
        for policy in of_kind(resources, "NetworkPolicy")
        for rule in policy["spec"].get("egress", [])
        for peer in rule["to"]
        if "ipBlock" in peer
    ]
    assert blocks
    assert "0.0.0.0/0" not in blocks
    namespace = by_name(resources, "Namespace").popitem()[1]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
