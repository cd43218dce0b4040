"""Reading rendered Kubernetes objects in the deploy/k8s tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
TARGETS = ("base", "overlays/staging", "overlays/production")
OVERLAYS = TARGETS[1:]
SERVICES = {"identity", "eligibility", "claims", "gateway"}
PORT = 8000  # every service listens on it in its pod

Resource = dict[str, Any]


def of_kind(resources: list[Resource], kind: str) -> list[Resource]:
    return [r for r in resources if r["kind"] == kind]


def by_name(resources: list[Resource], kind: str) -> dict[str, Resource]:
    return {r["metadata"]["name"]: r for r in of_kind(resources, kind)}


def pod_templates(resources: list[Resource]) -> dict[str, Resource]:
    """Workload name -> its pod template (Deployments and Jobs)."""
    return {
        r["metadata"]["name"]: r["spec"]["template"]
        for r in resources
        if r["kind"] in ("Deployment", "Job")
    }


def containers(template: Resource) -> list[Resource]:
    spec = template["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def selects(selector: Resource, labels: dict[str, str]) -> bool:
    """A Kubernetes label selector (matchLabels; matchExpressions In, NotIn, Exists)."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
    return True


def policy_peers(rule: Resource, key: str, pods: dict[str, dict[str, str]]) -> set[str]:
    """Who a NetworkPolicy rule's from/to names: pods of this namespace by workload name,
    `ns:<name>` for another namespace's pods, `external` for an address block."""
    names: set[str] = set()
    for peer in rule.get(key, []):
        if "ipBlock" in peer:
            names.add("external")
        elif "namespaceSelector" in peer:
            names.add(
                "ns:" + peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            )
        else:
            names |= {n for n, labels in pods.items() if selects(peer["podSelector"], labels)}
    return names


def allowed_paths(resources: list[Resource]) -> set[tuple[str, str, int]]:
    """(source, destination, port) of every connection the NetworkPolicies allow: within
    the namespace when the source's egress and the destination's ingress both allow it."""
    pods = {n: t["metadata"]["labels"] for n, t in pod_templates(resources).items()}
    egress: set[tuple[str, str, int]] = set()
    ingress: set[tuple[str, str, int]] = set()
    for policy in of_kind(resources, "NetworkPolicy"):
        spec = policy["spec"]
        targets = [n for n, labels in pods.items() if selects(spec["podSelector"], labels)]
        for rule in spec.get("egress", []):
            for peer in policy_peers(rule, "to", pods):
                egress |= {(t, peer, p["port"]) for t in targets for p in rule["ports"]}
        for rule in spec.get("ingress", []):
            for peer in policy_peers(rule, "from", pods):
                ingress |= {(peer, t, p["port"]) for t in targets for p in rule["ports"]}
    inside = {path for path in egress if path[1] in pods and path in ingress}
    leaving = {path for path in egress if path[1] not in pods}
    entering = {path for path in ingress if path[0] not in pods}
    return inside | leaving | entering
