"""The KubeRay deployment (deploy/): valid against Kubernetes' and KubeRay's schemas, and
holding what Podium needs of it.

No Kubernetes here: every manifest is validated offline, core kinds with
kubernetes-validate (Kubernetes' own OpenAPI schemas, bundled), the RayCluster against the
openAPIV3Schema of KubeRay's CRD (tests/unit/data, its source commit in its `$comment`).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
KUBERNETES_VERSION = "1.33"
RAYCLUSTER_SCHEMA = Path(__file__).parent / "data" / "kuberay-raycluster-v1.schema.json"
Manifest = dict[str, Any]


def manifests() -> list[tuple[str, Manifest]]:
    found = []
    for path in sorted((DEPLOY / "kuberay").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                found.append((f"{path.name}:{document['kind']}/{document['metadata']['name']}", document))
    return found


MANIFESTS = manifests()


def of_kind(kind: str) -> list[Manifest]:
    return [m for _, m in MANIFESTS if m["kind"] == kind]


def one(kind: str, name: str) -> Manifest:
    [found] = [m for m in of_kind(kind) if m["metadata"]["name"] == name]
    return found


def pod_specs() -> Iterator[tuple[str, Manifest, Manifest]]:
    """(where, pod spec, pod labels) of every pod template in the deployment."""
    for where, manifest in MANIFESTS:
        spec = manifest.get("spec", {})
        if manifest["kind"] == "RayCluster":
            head = spec["headGroupSpec"]["template"]
            yield f"{where} head", head["spec"], head["metadata"]
            for group in spec["workerGroupSpecs"]:
                yield f"{where} {group['groupName']}", group["template"]["spec"], group["template"]["metadata"]
        elif manifest["kind"] in ("StatefulSet", "Deployment", "Job"):
            yield where, spec["template"]["spec"], spec["template"]["metadata"]
        elif manifest["kind"] == "CronJob":
            template = spec["jobTemplate"]["spec"]["template"]
            yield where, template["spec"], template["metadata"]


def test_every_manifest_is_found() -> None:
    kinds = sorted({m["kind"] for _, m in MANIFESTS})
    assert kinds == [
        "CronJob", "Job", "PersistentVolumeClaim", "PodDisruptionBudget", "RayCluster", "Secret", "Service",
        "StatefulSet",
    ]


@pytest.mark.parametrize(("where", "manifest"), [(w, m) for w, m in MANIFESTS if m["kind"] != "RayCluster"])
def test_core_manifests_are_valid_kubernetes(where: str, manifest: Manifest) -> None:
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_kubernetes_validation_catches_a_misspelt_field() -> None:
    service = json.loads(json.dumps(one("Service", "podium-gateway")))
    service["spec"]["selectr"] = service["spec"].pop("selector")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(service, KUBERNETES_VERSION, strict=True)


def test_the_raycluster_is_valid_against_kuberays_crd() -> None:
    schema = json.loads(RAYCLUSTER_SCHEMA.read_text())
    for manifest in of_kind("RayCluster"):
        jsonschema.validate(manifest, schema)


def test_the_crd_schema_catches_a_wrong_type() -> None:
    """The CRD schema is strict enough to be worth running: a wrong type fails validation."""
    schema = json.loads(RAYCLUSTER_SCHEMA.read_text())
    [cluster] = of_kind("RayCluster")
    broken = json.loads(json.dumps(cluster))
    broken["spec"]["workerGroupSpecs"][0]["maxReplicas"] = "eight"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_ray_versions_agree() -> None:
    """The RayCluster's rayVersion, the Ray the image installs (pyproject.toml) and the Python
    the image is built on must match what Podium is built for."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    [ray_pin] = [d for d in project["dependencies"] if d.startswith("ray[")]
    ray_version = ray_pin.split("==")[1]
    for cluster in of_kind("RayCluster"):
        assert cluster["spec"]["rayVersion"] == ray_version
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    [base] = re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base), base
    assert project["requires-python"] == ">=3.11"


def test_the_image_runs_as_a_user_not_root() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    users = re.findall(r"^USER (\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("0", "root")


@pytest.mark.parametrize(("where", "pod", "metadata"), list(pod_specs()), ids=[w for w, _, _ in pod_specs()])
def test_every_container_has_requests_limits_and_no_root(where: str, pod: Manifest, metadata: Manifest) -> None:
    assert pod.get("securityContext", {}).get("runAsNonRoot") is True, where
    assert pod["securityContext"].get("runAsUser", 0) != 0, where
    for container in pod["containers"]:
        resources = container.get("resources", {})
        assert {"cpu", "memory"} <= set(resources.get("requests", {})), (where, container["name"])
        assert {"cpu", "memory"} <= set(resources.get("limits", {})), (where, container["name"])
        assert container.get("securityContext", {}).get("allowPrivilegeEscalation") is False, where


def _env_entries() -> Iterator[tuple[str, Manifest]]:
    for where, pod, _ in pod_specs():
        for container in pod["containers"]:
            for entry in container.get("env", []):
                yield f"{where} {container['name']}", entry


SECRET_NAMES = re.compile(r"PASSWORD|SECRET|TOKEN|KEY_ID")


def test_every_secret_comes_from_a_secret() -> None:
    """No secret value is written in a manifest: each comes from a secretKeyRef (a URL may
    refer to one through $(VAR))."""
    checked = 0
    for where, entry in _env_entries():
        if SECRET_NAMES.search(entry["name"]):
            checked += 1
            assert "value" not in entry, f"{where}: {entry['name']} is written out"
            assert "secretKeyRef" in entry["valueFrom"], f"{where}: {entry['name']}"
    assert checked >= 6
    secrets = {m["metadata"]["name"]: m for m in of_kind("Secret")}
    for secret in secrets.values():
        assert set(secret["stringData"].values()) == {"REPLACE-ME"}, "the Secret manifest is a template"
    for where, entry in _env_entries():
        ref = entry.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            assert ref["key"] in secrets[ref["name"]]["stringData"], f"{where}: {ref}"


def test_the_ray_token_and_gcs_password_come_from_secrets_kuberay_reads() -> None:
    [cluster] = of_kind("RayCluster")
    secrets = {m["metadata"]["name"]: m for m in of_kind("Secret")}
    auth = cluster["spec"]["authOptions"]
    assert auth["mode"] == "token"
    assert "auth_token" in secrets[auth["secretName"]]["stringData"], "KubeRay reads the key auth_token"
    ft = cluster["spec"]["gcsFaultToleranceOptions"]
    ref = ft["redisPassword"]["valueFrom"]["secretKeyRef"]
    assert ref["key"] in secrets[ref["name"]]["stringData"]
    host = ft["redisAddress"].split(":")[0]
    assert host in {s["metadata"]["name"] for s in of_kind("Service")}


def test_the_head_is_ready_only_when_podiums_gateway_answers() -> None:
    [cluster] = of_kind("RayCluster")
    head = cluster["spec"]["headGroupSpec"]
    [container] = [c for c in head["template"]["spec"]["containers"] if c["name"] == "ray-head"]
    probe = container["readinessProbe"]["httpGet"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert probe["path"] == "/health"
    assert ports[probe["port"]] == 8088
    [job] = of_kind("Job")
    env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["PODIUM_PORT"] == "8088", "the gateway listens where the probe and the Service look"
    # The gateway is pinned to the head, the only pod offering the resource.
    assert env["PODIUM_GATEWAY_RESOURCE"] in head["rayStartParams"]["resources"]
    assert "livenessProbe" in container, "the liveness probe stays on Ray's own health, not Podium's"
    assert "/health" not in json.dumps(container["livenessProbe"])


def test_the_gateway_service_selects_the_head_pod_on_the_api_port() -> None:
    service = one("Service", "podium-gateway")
    [cluster] = of_kind("RayCluster")
    name = cluster["metadata"]["name"]
    # KubeRay labels the head pod ray.io/cluster=<name> and ray.io/node-type=head.
    assert service["spec"]["selector"] == {"ray.io/cluster": name, "ray.io/node-type": "head"}
    [port] = service["spec"]["ports"]
    head_ports = {p["name"] for p in cluster["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["ports"]}
    assert port["targetPort"] in head_ports


def test_disruption_budgets_cover_the_head_and_the_workers() -> None:
    [cluster] = of_kind("RayCluster")
    name = cluster["metadata"]["name"]
    labels = [b["spec"]["selector"]["matchLabels"] for b in of_kind("PodDisruptionBudget")]
    selected = {(label["ray.io/cluster"], label["ray.io/node-type"]) for label in labels}
    assert selected == {(name, "head"), (name, "worker")}
    head_budget = one("PodDisruptionBudget", "podium-ray-head")
    assert head_budget["spec"]["maxUnavailable"] == 0


def test_worker_groups_autoscale_within_bounds() -> None:
    [cluster] = of_kind("RayCluster")
    assert cluster["spec"]["enableInTreeAutoscaling"] is True
    for group in cluster["spec"]["workerGroupSpecs"]:
        assert 0 <= group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
        assert group["maxReplicas"] > group["minReplicas"]


def _memory_bytes(quantity: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "kb": 1000, "mb": 2**20, "gb": 2**30}
    number, unit = re.fullmatch(r"(\d+)([A-Za-z]*)", quantity).groups()  # type: ignore[union-attr]
    return int(number) * units.get(unit, 1)


@pytest.mark.parametrize("name", ["podium-redis", "podium-gcs-redis"])
def test_redis_refuses_writes_below_its_memory_limit_and_wants_a_password(name: str) -> None:
    [container] = one("StatefulSet", name)["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    option = {args[i]: args[i + 1] for i in range(1, len(args) - 1) if args[i].startswith("--")}
    assert option["--maxmemory-policy"] == "noeviction"
    assert _memory_bytes(option["--maxmemory"]) <= 0.85 * _memory_bytes(container["resources"]["limits"]["memory"])
    assert option["--requirepass"] == "$(REDIS_PASSWORD)"
    assert option["--appendonly"] == "yes"


def test_podium_reaches_its_redis_with_the_password_from_the_secret() -> None:
    [job] = of_kind("Job")
    [container] = job["spec"]["template"]["spec"]["containers"]
    names = [e["name"] for e in container["env"]]
    env = {e["name"]: e for e in container["env"]}
    assert env["REDIS_URL"]["value"] == "redis://:$(REDIS_PASSWORD)@podium-redis:6379/0"
    # Kubernetes expands $(VAR) only from variables defined earlier in the list.
    assert names.index("REDIS_PASSWORD") < names.index("REDIS_URL")
    assert container["command"][:3] == ["podium", "up", "--detach"]
    assert env["PODIUM_AUTH"]["value"] == "on"


def test_the_backup_job_keeps_the_newest_snapshots_on_its_own_volume() -> None:
    cron = one("CronJob", "podium-redis-backup")
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    script = container["command"][-1]
    assert "redis-cli -h podium-redis --rdb" in script
    assert "tail -n +8" in script, "the newest 7 snapshots are kept"
    [volume] = pod["volumes"]
    claim = volume["persistentVolumeClaim"]["claimName"]
    assert claim in {m["metadata"]["name"] for m in of_kind("PersistentVolumeClaim")}
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
