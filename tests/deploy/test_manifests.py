"""deploy/ renders with kustomize, validates offline against the Kubernetes schemas, and
holds together: security context, probes, ports, Services, NetworkPolicy, TLS, CRDs.

Schema validation: built-in kinds are checked by `kubernetes-validate` (PyPI; it bundles
the Kubernetes OpenAPI schemas converted to JSON Schema, so nothing is fetched) in its
strict mode, which also refuses unknown fields, against the Kubernetes version of the
kubectl here (1.32). Custom resources are checked against their own CRD's
openAPIV3Schema (the ClusterKopfPeering/KopfPeering) or, for cert-manager's kinds whose
CRDs are not shipped here, for the fields this project relies on.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from remediator.cli import run
from remediator.core import ledger

from .shipped import KUBERNETES_VERSION, render, validate_builtin

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
NAMESPACE = "remediator-system"
VARIANTS = ["deploy", "deploy/overlays/namespaced", "deploy/overlays/cert-manager"]


def one(docs: tuple[dict[str, Any], ...], kind: str, name: str) -> dict[str, Any]:
    [found] = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def container(docs: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    deployment = one(docs, "Deployment", "remediator")
    [main] = deployment["spec"]["template"]["spec"]["containers"]
    return dict(main)


def args_of(docs: tuple[dict[str, Any], ...]) -> dict[str, str]:
    """The container's `--flag=value` args as a dict (`--flag` alone: "")."""
    parsed: dict[str, str] = {}
    for arg in container(docs)["args"]:
        flag, _, value = arg.partition("=")
        parsed.setdefault(flag, value)
    return parsed


# ------------------------------------------------------------------- rendering, schemas
@pytest.mark.parametrize("path", VARIANTS)
def test_kustomize_renders(path: str) -> None:
    docs = render(path)
    assert {d["kind"] for d in docs} >= {
        "Namespace",
        "CustomResourceDefinition",
        "ServiceAccount",
        "ClusterRole",
        "Deployment",
        "Service",
        "NetworkPolicy",
        "PodDisruptionBudget",
    }


@pytest.mark.parametrize("path", VARIANTS)
def test_every_manifest_validates_offline_against_the_kubernetes_schemas(path: str) -> None:
    docs = render(path)
    crds = {
        (d["spec"]["group"], d["spec"]["names"]["kind"]): d
        for d in docs
        if d["kind"] == "CustomResourceDefinition"
    }
    checked = 0
    for doc in docs:
        group, _, version = doc["apiVersion"].rpartition("/")
        what = f"{doc['kind']}/{doc['metadata']['name']} in {path}"
        if (group, doc["kind"]) in crds:
            definition = crds[group, doc["kind"]]
            [served] = [v for v in definition["spec"]["versions"] if v["name"] == version]
            body = {k: v for k, v in doc.items() if k not in ("apiVersion", "kind", "metadata")}
            jsonschema.validate(body, served["schema"]["openAPIV3Schema"])
            assert definition["spec"]["scope"] == (
                "Namespaced" if "namespace" in doc["metadata"] else "Cluster"
            ), what
        elif group == "cert-manager.io":
            check_cert_manager(doc)
        else:
            validate_builtin(doc, what)
        checked += 1
    assert checked == len(docs) > 10


def check_cert_manager(doc: dict[str, Any]) -> None:
    assert doc["apiVersion"] == "cert-manager.io/v1"
    assert doc["kind"] in ("Issuer", "Certificate")
    if doc["kind"] == "Certificate":
        spec = doc["spec"]
        assert set(spec) <= {
            "secretName",
            "commonName",
            "dnsNames",
            "duration",
            "renewBefore",
            "privateKey",
            "usages",
            "issuerRef",
        }
        assert spec["issuerRef"]["kind"] in ("Issuer", "ClusterIssuer")


def test_the_schema_check_catches_unknown_fields() -> None:
    """Strict mode is on: a misspelt field would not slip through."""
    deployment = one(render(), "Deployment", "remediator")
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["securityContex"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_deploy_crds_are_the_generated_ones() -> None:
    for generated in sorted((ROOT / "crds").glob("*.yaml")):
        copy = DEPLOY / "crds" / generated.name
        assert copy.exists() and copy.read_text() == generated.read_text(), (
            f"deploy/crds/{generated.name} differs from crds/: run "
            "`remediator crds --output-dir deploy/crds`"
        )
    listed = yaml.safe_load((DEPLOY / "crds" / "kustomization.yaml").read_text())["resources"]
    assert {p.name for p in (ROOT / "crds").glob("*.yaml")} <= set(listed)


def test_namespaced_objects_live_in_the_operator_namespace() -> None:
    for doc in render():
        if doc["kind"] in ("Namespace", "CustomResourceDefinition", "ClusterKopfPeering") or (
            doc["kind"].startswith("Cluster")
        ):
            assert "namespace" not in doc["metadata"], doc["kind"]
        else:
            assert doc["metadata"]["namespace"] == NAMESPACE, doc["kind"]


# ---------------------------------------------------------------------------- workload
def test_the_deployment_runs_two_peering_replicas_with_a_pdb() -> None:
    docs = render()
    deployment = one(docs, "Deployment", "remediator")
    assert deployment["spec"]["replicas"] == 2
    args = args_of(docs)
    assert "--peering" in args and "--standalone" not in args
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    pdb = one(docs, "PodDisruptionBudget", "remediator")
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    env = {e["name"]: e for e in container(docs)["env"]}
    assert env["POD_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    # the peering object the replicas share is part of the install
    assert one(docs, "ClusterKopfPeering", "default")
    assert one(docs, "CustomResourceDefinition", "clusterkopfpeerings.kopf.dev")


def test_the_security_context_is_restricted() -> None:
    docs = render()
    pod = one(docs, "Deployment", "remediator")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC")
    for c in pod["containers"] + pod.get("initContainers", []):
        sc = c["securityContext"]
        assert sc["runAsNonRoot"] is True
        assert sc["runAsUser"] != 0
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["allowPrivilegeEscalation"] is False
        assert sc.get("privileged", False) is False
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    # only secret and emptyDir volumes (no hostPath): restricted Pod Security allows those
    assert all(set(v) - {"name"} <= {"secret", "emptyDir"} for v in pod["volumes"])
    namespace = one(docs, "Namespace", NAMESPACE)
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_probes_and_resources() -> None:
    main = container(render())
    ports = {p["name"]: p["containerPort"] for p in main["ports"]}
    liveness = args_of(render())["--liveness"]
    assert liveness == f"http://0.0.0.0:{ports['healthz']}/healthz"
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "healthz"}
    assert main["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "healthz"}
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "bridge"}
    for kind in ("requests", "limits"):
        assert set(main["resources"][kind]) == {"cpu", "memory"}


def test_every_arg_is_a_flag_of_remediator_run() -> None:
    """The image's entrypoint is `remediator run`: each arg must be one of its options."""
    options = {opt for param in run.params for opt in (*param.opts, *param.secondary_opts)}
    for flag in args_of(render()):
        assert flag in options, f"{flag} is not an option of `remediator run`"
    mounts = {m["mountPath"] for m in container(render())["volumeMounts"]}
    args = args_of(render())
    for flag in ("--approval-key-file", "--bridge-token-file", "--webhook-cert", "--webhook-key"):
        assert str(Path(args[flag]).parent) in mounts, flag


# ---------------------------------------------------------------- Services and network
def test_services_reach_named_container_ports() -> None:
    docs = render()
    main = container(docs)
    ports = {p["name"]: p["containerPort"] for p in main["ports"]}
    labels = one(docs, "Deployment", "remediator")["spec"]["template"]["metadata"]["labels"]
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    assert set(services) == {"remediator-bridge", "remediator-webhook", "remediator-metrics"}
    for service in services.values():
        assert service["spec"]["selector"].items() <= labels.items()
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports
    args = args_of(docs)
    assert int(args["--bridge-port"]) == ports["bridge"]
    # Kopf registers https://<url-host>:<listening port>/...: the Service must answer there
    assert args["--webhook-url-host"] == f"remediator-webhook.{NAMESPACE}.svc"
    [webhook_port] = services["remediator-webhook"]["spec"]["ports"]
    assert webhook_port["port"] == int(args["--webhook-port"]) == ports["webhook"]
    assert args["--webhook-host"] == "0.0.0.0" and "--manage-webhooks" in args


def test_network_policy_admits_only_the_served_ports() -> None:
    docs = render()
    policy = one(docs, "NetworkPolicy", "remediator")
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    [ingress] = policy["spec"]["ingress"]
    assert {p["port"] for p in ingress["ports"]} == {"webhook", "bridge", "metrics"}
    egress_ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]}
    assert {53, 443, 6443} <= egress_ports
    labels = one(docs, "Deployment", "remediator")["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()


def test_the_webhook_certificate_matches_the_service() -> None:
    docs = render("deploy/overlays/cert-manager")
    certificate = one(docs, "Certificate", "remediator-webhook")
    args = args_of(docs)
    assert args["--webhook-url-host"] in certificate["spec"]["dnsNames"]
    volumes = one(docs, "Deployment", "remediator")["spec"]["template"]["spec"]["volumes"]
    tls = next(v for v in volumes if v["name"] == "webhook-tls")
    assert tls["secret"]["secretName"] == certificate["spec"]["secretName"]


# ------------------------------------------------------------------------------- RBAC
def test_the_namespaced_variant_binds_the_roles_per_namespace() -> None:
    docs = render("deploy/overlays/namespaced")
    cluster_bindings = {d["roleRef"]["name"] for d in docs if d["kind"] == "ClusterRoleBinding"}
    assert cluster_bindings == {"remediator-framework-cluster"}
    bindings = {
        (d["metadata"]["namespace"], d["roleRef"]["name"])
        for d in docs
        if d["kind"] == "RoleBinding"
    }
    served = [v for k, v in _pairs(container(docs)["args"]) if k == "--namespace"]
    assert served
    for namespace in served:
        assert {
            (namespace, "remediator-framework"),
            (namespace, "remediator-application"),
            (namespace, "remediator-peering"),
        } <= bindings
        assert any(
            d["kind"] == "KopfPeering" and d["metadata"]["namespace"] == namespace for d in docs
        )
    assert (NAMESPACE, "remediator-config-reader") in bindings
    assert not any(d["kind"] == "ClusterKopfPeering" for d in docs)
    allowed = {v for k, v in _pairs(container(docs)["args"]) if k == "--bridge-allow-namespace"}
    assert allowed == set(served)


def test_the_namespaced_variant_reaches_the_pause_switch_and_the_guard_ledger() -> None:
    """Scoped to named namespaces, the operator still reads the pause switch and reads and
    writes the guard ledger in its own namespace (both shipped in deploy/base/config.yaml):
    without the ledger every action fails before it starts."""
    docs = render("deploy/overlays/namespaced")
    bound = {
        d["roleRef"]["name"]
        for d in docs
        if d["kind"] == "RoleBinding" and d["metadata"]["namespace"] == NAMESPACE
    }
    granted = {
        (verb, name)
        for d in docs
        if d["kind"] == "Role"
        and d["metadata"]["namespace"] == NAMESPACE
        and d["metadata"]["name"] in bound
        for rule in d["rules"]
        if "configmaps" in rule.get("resources", [])
        for verb in rule["verbs"]
        for name in rule.get("resourceNames", ["*"])
    }
    needed = {("get", "remediator-config")}
    needed |= {(verb, name) for name in ledger.CONFIG_MAPS for verb in ("get", "patch")}
    assert needed <= granted
    assert ("patch", "remediator-config") not in granted  # the switch is a human's


def _pairs(args: list[str]) -> list[tuple[str, str]]:
    return [(a.partition("=")[0], a.partition("=")[2]) for a in args]


def test_no_role_in_any_variant_uses_a_wildcard() -> None:
    for path in VARIANTS:
        for doc in render(path):
            if doc["kind"] in ("ClusterRole", "Role"):
                for rule in doc["rules"]:
                    for field in ("apiGroups", "resources", "verbs"):
                        assert "*" not in rule.get(field, []), (path, doc["metadata"], rule)


# ------------------------------------------------------------- Alertmanager, Dockerfile
def test_the_alertmanager_receiver_points_at_the_bridge() -> None:
    config = yaml.safe_load((DEPLOY / "alertmanager-receiver.yaml").read_text())
    [receiver] = [r for r in config["receivers"] if r["name"] == "remediator"]
    [webhook] = receiver["webhook_configs"]
    assert webhook["send_resolved"] is True
    assert webhook["max_alerts"] == 0
    auth = webhook["http_config"]["authorization"]
    assert auth["type"] == "Bearer" and auth["credentials_file"].startswith("/")
    assert "credentials" not in auth
    [service] = [
        d
        for d in render()
        if d["kind"] == "Service" and d["metadata"]["name"] == "remediator-bridge"
    ]
    [port] = service["spec"]["ports"]
    assert webhook["url"] == (f"http://remediator-bridge.{NAMESPACE}.svc:{port['port']}/alerts")
    if shutil.which("amtool") is None:
        pytest.skip("amtool is not installed: the structure was checked, not the config")
    proc = subprocess.run(
        ["amtool", "check-config", str(DEPLOY / "alertmanager-receiver.yaml")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_dockerfile_is_multi_stage_and_non_root() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, re.MULTILINE | re.IGNORECASE)
    assert [name for _, name in stages] == ["builder", "runtime"]
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim", text, re.MULTILINE)
    assert "COPY --from=builder" in text
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users and users[-1].split(":")[0] == "10001"
    assert re.search(r'^ENTRYPOINT \["remediator", "run"\]$', text, re.MULTILINE)
    # the manifest runs as the image's user
    pod = one(render(), "Deployment", "remediator")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 10001
