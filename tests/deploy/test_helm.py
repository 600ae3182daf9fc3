"""The Helm chart (deploy/helm/remediator): `helm lint --strict`, `helm template` with
several sets of values, its default rendering held to `kubectl kustomize deploy/` (the same
objects, RBAC rules and security settings), and `helm install` / `helm uninstall` on the
real control plane.

Helm is built from its Go module (tools/helm/build.sh; `make test` builds it first, once).
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config

from real.backend import ControlPlane
from remediator.cli.serve import run

from .chart import CHART, NAMESPACE, Document, Helm, build_helm, find, key, kustomize
from .shipped import validate_builtin

ROOT = Path(__file__).resolve().parents[2]
# The first test builds Helm when `make helm` has not (about four minutes cold on 2 cores).
pytestmark = pytest.mark.timeout(600)
# Labels that say who packaged an object, not what it is: kustomize's and Helm's differ.
PACKAGING_LABELS = {
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "helm.sh/chart",
}
VALUE_SETS: dict[str, list[str]] = {
    "default": [],
    "namespaced": ["watchNamespaces={shop,other}", "rbac.namespaced=true"],
    "named-namespaces": ["watchNamespaces={shop}"],
    "cert-manager": ["webhook.certificate.source=certManager"],
    "existing-secrets": [
        "secrets.existingSecret=team-keys",
        "webhook.certificate.source=existingSecret",
        "webhook.certificate.existingSecret=team-tls",
    ],
    "no-bridge": ["bridge.enabled=false"],
    "monitoring": [
        "monitoring.serviceMonitor.enabled=true",
        "monitoring.prometheusRule.enabled=true",
        "monitoring.dashboard.enabled=true",
    ],
    "one-replica": ["replicas=1", "peering.enabled=false"],
    "scheduling": [
        "nodeSelector.disktype=ssd",
        "tolerations[0].key=dedicated",
        "tolerations[0].operator=Equal",
        "tolerations[0].value=ops",
        "tolerations[0].effect=NoSchedule",
        "resources.limits.memory=512Mi",
        "securityContext.runAsUser=20000",
        "podSecurityContext.runAsUser=20000",
        "priorityClassName=ops-critical",
        "imagePullSecrets[0].name=registry-login",
        "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
        ".nodeSelectorTerms[0].matchExpressions[0].key=pool",
        "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
        ".nodeSelectorTerms[0].matchExpressions[0].operator=Exists",
        "podAnnotations.team=ops",
    ],
    "image-and-settings": [
        "image.repository=registry.example/remediator",
        "image.tag=1.2.3",
        "operator.prometheusUrl=http://prometheus.monitoring.svc:9090",
        "operator.dryRun=true",
    ],
}


@pytest.fixture(scope="module")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    return Helm(build_helm(), tmp_path_factory.mktemp("helm-home"))


def args_of(docs: list[Document]) -> list[str]:
    deployment = find(docs, "Deployment", "remediator", NAMESPACE)
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return list(container["args"])


def pod_spec(docs: list[Document]) -> dict[str, Any]:
    spec: dict[str, Any] = find(docs, "Deployment", "remediator", NAMESPACE)["spec"]["template"][
        "spec"
    ]
    return spec


# ------------------------------------------------------------------------ lint, render
@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_helm_lint_strict_passes(helm: Helm, values: list[str]) -> None:
    args = ["lint", "--strict", str(CHART), "--namespace", NAMESPACE]
    for value in values:
        args += ["--set", value]
    proc = helm.run(*args)
    assert "1 chart(s) linted, 0 chart(s) failed" in proc.stdout, proc.stdout


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_every_rendering_validates_against_the_kubernetes_schemas(
    helm: Helm, values: list[str]
) -> None:
    """Built-in kinds in kubernetes-validate's strict mode (unknown fields refused), the
    Kopf peering objects against their CRD; the Prometheus Operator's and cert-manager's
    kinds are checked by the value tests below."""
    docs = helm.template(*values, crds=True)
    crds = {d["spec"]["names"]["kind"]: d for d in docs if d["kind"] == "CustomResourceDefinition"}
    checked = 0
    for doc in docs:
        group = doc["apiVersion"].rpartition("/")[0]
        if group in ("monitoring.coreos.com", "cert-manager.io"):
            continue
        if group == "kopf.dev":
            scope = crds[doc["kind"]]["spec"]["scope"]
            assert scope == ("Namespaced" if "namespace" in doc["metadata"] else "Cluster")
        else:
            validate_builtin(doc, str(key(doc)))
        checked += 1
    assert checked > 15


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["replicas=2", "peering.enabled=false"], "replicas > 1 needs peering.enabled"),
        (["rbac.namespaced=true"], "rbac.namespaced needs watchNamespaces"),
        (["webhook.certificate.source=vault"], "webhook.certificate.source: one of"),
        (["webhook.certificate.source=existingSecret"], "webhook.certificate.existingSecret"),
    ],
)
def test_settings_that_cannot_work_are_refused(helm: Helm, values: list[str], message: str) -> None:
    args = ["template", "remediator", str(CHART)]
    for value in values:
        args += ["--set", value]
    proc = helm.run(*args, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr


# ------------------------------------------------------------------ agreement with deploy/
def comparable(doc: Document) -> Document:
    """The object without what only says how it was packaged: the packaging labels, and the
    chart's checksum annotation on the pod template (it restarts pods on a new key)."""
    doc = copy.deepcopy(doc)
    metas = [doc["metadata"]]
    if doc["kind"] == "Deployment":
        metas.append(doc["spec"]["template"]["metadata"])
    for meta in metas:
        labels = meta.pop("labels", None) or {}
        labels = {k: v for k, v in labels.items() if k not in PACKAGING_LABELS}
        if labels:
            meta["labels"] = labels
        annotations = dict(meta.pop("annotations", None) or {})
        annotations.pop("checksum/secrets", None)
        if annotations:
            meta["annotations"] = annotations
    return doc


# Objects only one of the two makes, and why. Everything else must be equal.
ONLY_KUSTOMIZE = {
    # Helm keeps its release record in the namespace, so the namespace exists before the
    # chart is installed (`--create-namespace`); label it for Pod Security (deploy/README.md)
    ("Namespace", NAMESPACE, ""),
}
ONLY_HELM = {
    # deploy/ asks you to create these by hand (no key belongs in git); the chart makes them
    ("Secret", "remediator-secrets", NAMESPACE),
    ("Secret", "remediator-webhook-tls", NAMESPACE),
    # created empty for Kopf to fill, so that `helm uninstall` removes them
    ("ValidatingWebhookConfiguration", "remediator.dev", ""),
    ("MutatingWebhookConfiguration", "remediator.dev", ""),
}


@pytest.mark.parametrize(
    ("overlay", "values"),
    [
        ("deploy", []),
        ("deploy/overlays/namespaced", ["watchNamespaces={shop}", "rbac.namespaced=true"]),
    ],
    ids=["cluster-wide", "namespaced"],
)
def test_the_chart_renders_what_kustomize_ships(
    helm: Helm, overlay: str, values: list[str]
) -> None:
    """Every object of `kubectl kustomize` (CRDs, RBAC with every rule, Deployment with its
    security contexts, probes, args and volumes, Services, NetworkPolicy, PDB, peering) is in
    the chart's rendering, equal but for the packaging labels; the few that only one of them
    makes are named above with the reason."""
    chart = {key(d): comparable(d) for d in helm.template(*values, crds=True)}
    shipped = {key(d): comparable(d) for d in kustomize(overlay)}
    assert set(shipped) - set(chart) == ONLY_KUSTOMIZE
    assert set(chart) - set(shipped) == ONLY_HELM
    for what in sorted(set(chart) & set(shipped)):
        assert chart[what] == shipped[what], f"{what} differs between the chart and {overlay}"


def test_the_agreement_check_catches_a_changed_rule(helm: Helm) -> None:
    """A rule the chart would grant beyond deploy/'s is not equal (the check can fail)."""
    chart = {key(d): comparable(d) for d in helm.template()}
    shipped = {key(d): comparable(d) for d in kustomize()}
    role = ("ClusterRole", "remediator-application", "")
    widened = copy.deepcopy(chart[role])
    widened["rules"][0]["verbs"].append("delete")
    assert widened != shipped[role] and chart[role] == shipped[role]


def test_monitoring_toggles_render_deploy_monitoring(helm: Helm) -> None:
    assert not {d["kind"] for d in helm.template()} & {"ServiceMonitor", "PrometheusRule"}
    docs = helm.template(*VALUE_SETS["monitoring"])
    shipped = {key(d): comparable(d) for d in kustomize("deploy/monitoring")}
    for doc in docs:
        if key(doc) in shipped:
            assert comparable(doc) == shipped[key(doc)], key(doc)
    assert {key(d) for d in docs} >= set(shipped)
    # the scrape job's name, which the rule and the dashboard select on, follows the name
    renamed = helm.template(*VALUE_SETS["monitoring"], "fullnameOverride=ops-remediator")
    rule = yaml.safe_dump(find(renamed, "PrometheusRule", "ops-remediator", NAMESPACE))
    assert 'job="ops-remediator-metrics"' in rule and 'job="remediator-metrics"' not in rule
    assert find(renamed, "Service", "ops-remediator-metrics", NAMESPACE)


# ------------------------------------------------------------------------ the value sets
def test_namespaced_rbac_binds_the_roles_in_the_watched_namespaces_only(helm: Helm) -> None:
    docs = helm.template(*VALUE_SETS["namespaced"])
    cluster_bindings = {d["roleRef"]["name"] for d in docs if d["kind"] == "ClusterRoleBinding"}
    assert cluster_bindings == {"remediator-framework-cluster"}
    for namespace in ("shop", "other"):
        for role in ("framework", "application"):
            binding = find(docs, "RoleBinding", f"remediator-{role}", namespace)
            assert binding["roleRef"] == {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": f"remediator-{role}",
            }
        assert find(docs, "KopfPeering", "default", namespace)
    args = args_of(docs)
    assert {"--namespace=shop", "--namespace=other"} <= set(args)
    assert [a for a in args if a.startswith("--bridge-allow-namespace")] == [
        "--bridge-allow-namespace=shop",
        "--bridge-allow-namespace=other",
    ]
    assert not [d for d in docs if d["kind"] == "ClusterKopfPeering"]


def test_named_namespaces_with_cluster_rbac_peer_per_namespace(helm: Helm) -> None:
    docs = helm.template(*VALUE_SETS["named-namespaces"])
    bindings = {d["metadata"]["name"] for d in docs if d["kind"] == "ClusterRoleBinding"}
    assert bindings == {
        f"remediator-{r}" for r in ("framework-cluster", "framework", "application")
    }
    framework = find(docs, "ClusterRole", "remediator-framework-cluster")
    assert {"namespaces"} in [set(r["resources"]) for r in framework["rules"]]
    assert find(docs, "KopfPeering", "default", "shop")
    assert find(docs, "Role", "remediator-peering", "shop")


def test_the_bridge_can_be_turned_off(helm: Helm) -> None:
    on, off = helm.template(), helm.template("bridge.enabled=false")
    assert find(on, "Service", "remediator-bridge", NAMESPACE)
    assert not [d for d in off if d["metadata"]["name"] == "remediator-bridge"]
    assert not [a for a in args_of(off) if a.startswith("--bridge")]
    assert "bridge-token" in find(on, "Secret", "remediator-secrets", NAMESPACE)["data"]
    assert "bridge-token" not in find(off, "Secret", "remediator-secrets", NAMESPACE)["data"]
    [container] = pod_spec(off)["containers"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "healthz"}
    assert "bridge" not in {p["name"] for p in container["ports"]}


def test_given_keys_are_used_and_existing_secrets_are_mounted(helm: Helm) -> None:
    docs = helm.template("secrets.approvalKey=k3y", "secrets.bridgeToken=t0ken")
    data = find(docs, "Secret", "remediator-secrets", NAMESPACE)["data"]
    assert base64.b64decode(data["approval-key"]) == b"k3y"
    assert base64.b64decode(data["bridge-token"]) == b"t0ken"
    random = find(helm.template(), "Secret", "remediator-secrets", NAMESPACE)["data"]
    assert len(base64.b64decode(random["approval-key"])) == 64
    existing = helm.template(*VALUE_SETS["existing-secrets"])
    assert not [d for d in existing if d["kind"] == "Secret"]
    volumes = {v["name"]: v["secret"]["secretName"] for v in pod_spec(existing)["volumes"][:2]}
    assert volumes == {"secrets": "team-keys", "webhook-tls": "team-tls"}


def test_the_self_signed_webhook_certificate_is_valid_for_the_service(helm: Helm) -> None:
    """genCA/genSignedCert at install: the serving certificate names the host Kopf
    registers, is signed by the CA that follows it in tls.crt (the caBundle Kopf registers
    is that file), and matches the key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    docs = helm.template()
    data = find(docs, "Secret", "remediator-webhook-tls", NAMESPACE)["data"]
    leaf, ca = x509.load_pem_x509_certificates(base64.b64decode(data["tls.crt"]))
    assert ca.public_bytes(serialization.Encoding.PEM) == base64.b64decode(data["ca.crt"])
    host = next(a for a in args_of(docs) if a.startswith("--webhook-url-host=")).split("=")[1]
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert host in names.get_values_for_type(x509.DNSName)
    leaf.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    now = dt.datetime.now(dt.UTC)
    assert leaf.not_valid_before_utc <= now < leaf.not_valid_after_utc
    private = serialization.load_pem_private_key(base64.b64decode(data["tls.key"]), None)
    spki = serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    assert private.public_key().public_bytes(*spki) == leaf.public_key().public_bytes(*spki)


def test_cert_manager_issues_the_certificate_the_pods_mount(helm: Helm) -> None:
    docs = helm.template(*VALUE_SETS["cert-manager"])
    certificate = find(docs, "Certificate", "remediator-webhook", NAMESPACE)
    host = next(a for a in args_of(docs) if a.startswith("--webhook-url-host=")).split("=")[1]
    assert host in certificate["spec"]["dnsNames"]
    volumes = {v["name"]: v for v in pod_spec(docs)["volumes"]}
    assert volumes["webhook-tls"]["secret"]["secretName"] == certificate["spec"]["secretName"]
    assert certificate["spec"]["issuerRef"] == {"kind": "Issuer", "name": "remediator-selfsigned"}
    assert find(docs, "Issuer", "remediator-selfsigned", NAMESPACE)["spec"] == {"selfSigned": {}}
    assert not [d for d in docs if d["kind"] == "Secret" and "webhook" in d["metadata"]["name"]]
    own = helm.template(
        *VALUE_SETS["cert-manager"],
        "webhook.certificate.certManager.issuerRef.kind=ClusterIssuer",
        "webhook.certificate.certManager.issuerRef.name=corp-ca",
    )
    assert not [d for d in own if d["kind"] == "Issuer"]
    issuer = find(own, "Certificate", "remediator-webhook", NAMESPACE)["spec"]["issuerRef"]
    assert issuer == {"kind": "ClusterIssuer", "name": "corp-ca"}


def test_scheduling_resources_and_security_context_come_from_the_values(helm: Helm) -> None:
    pod = pod_spec(helm.template(*VALUE_SETS["scheduling"]))
    assert pod["nodeSelector"] == {"disktype": "ssd"}
    assert pod["tolerations"] == [
        {"key": "dedicated", "operator": "Equal", "value": "ops", "effect": "NoSchedule"}
    ]
    [container] = pod["containers"]
    assert container["resources"]["limits"] == {"cpu": "500m", "memory": "512Mi"}
    assert container["securityContext"]["runAsUser"] == pod["securityContext"]["runAsUser"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True  # the rest kept
    assert pod["priorityClassName"] == "ops-critical"
    assert pod["imagePullSecrets"] == [{"name": "registry-login"}]
    assert set(pod["affinity"]) == {"nodeAffinity"}  # instead of the default anti-affinity
    assert "podAntiAffinity" in pod_spec(helm.template())["affinity"]


@pytest.mark.parametrize("values", VALUE_SETS.values(), ids=VALUE_SETS.keys())
def test_every_arg_is_a_flag_of_remediator_run(helm: Helm, values: list[str]) -> None:
    """The image's entrypoint is `remediator run`: whatever the values, each arg the chart
    renders is one of its options."""
    options = {opt for param in run.params for opt in (*param.opts, *param.secondary_opts)}
    extra = [
        "bridge.defaultNamespace=ops",
        "peering.lifetime=30",
        "operator.extraArgs={--max-concurrent=10}",
    ]
    for arg in args_of(helm.template(*values, *extra)):
        assert arg.partition("=")[0] in options, f"{arg} is not an option of `remediator run`"


def test_one_replica_runs_standalone_without_a_pdb(helm: Helm) -> None:
    docs = helm.template(*VALUE_SETS["one-replica"])
    assert find(docs, "Deployment", "remediator", NAMESPACE)["spec"]["replicas"] == 1
    assert "--standalone" in args_of(docs) and "--peering" not in args_of(docs)
    assert not {d["kind"] for d in docs} & {"PodDisruptionBudget", "ClusterKopfPeering"}


def test_image_and_operator_settings(helm: Helm) -> None:
    docs = helm.template(*VALUE_SETS["image-and-settings"])
    [container] = pod_spec(docs)["containers"]
    assert container["image"] == "registry.example/remediator:1.2.3"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["REMEDIATOR_PROMETHEUS_URL"] == "http://prometheus.monitoring.svc:9090"
    assert "--dry-run" in container["args"]


# ---------------------------------------------------------------- the real control plane
@pytest.fixture
def plane(control_plane: ControlPlane) -> Iterator[ControlPlane]:
    yield control_plane
    control_plane.clean()  # what a failed test left (the namespace, the new CRDs)


@pytest.mark.parametrize("namespaced", [False, True], ids=["cluster-wide", "namespaced"])
def test_helm_install_is_accepted_and_uninstall_leaves_only_the_crds(
    helm: Helm, plane: ControlPlane, namespaced: bool
) -> None:
    """`helm install --wait` on the session's real control plane, in a namespace of this
    test's own: kube-apiserver accepts every object (CRDs, RBAC, webhook configurations,
    Services, Deployment, PDB, peering), the Deployment becomes available (kwok's pods),
    and the ServiceAccount has the rights the roles promise, and (namespaced) no more
    than in the served namespace. `helm uninstall` then leaves the CRDs and nothing else.
    """
    namespace = f"helm-{os.getpid()}"
    served = f"{namespace}-team" if namespaced else None
    kubeconfig = ["--kubeconfig", str(plane.kubeconfig)]
    before = plane.cluster_scoped()
    install = ["install", "remediator", str(CHART), "-n", namespace, "--create-namespace"]
    install += kubeconfig
    expected = {"ClusterRole", "ClusterRoleBinding", "ServiceAccount", "Secret", "ConfigMap"}
    expected |= {"Service", "Deployment", "PodDisruptionBudget", "NetworkPolicy"}
    expected |= {"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"}
    expected |= {"Role", "RoleBinding"}  # the pause switch's watch, in the release's namespace
    if served:
        plane.raw("POST", "/api/v1/namespaces", body={"metadata": {"name": served}})
        install += ["--set", f"watchNamespaces={{{served}}}", "--set", "rbac.namespaced=true"]
        expected |= {"KopfPeering"}
    else:
        expected |= {"ClusterKopfPeering"}
    started = time.monotonic()
    helm.run(*install, "--wait", "--timeout", "4m", timeout=300)
    installed = time.monotonic() - started
    manifest = [
        d
        for d in yaml.safe_load_all(
            helm.run("get", "manifest", "remediator", "-n", namespace, *kubeconfig).stdout
        )
        if d
    ]
    assert {d["kind"] for d in manifest} == expected
    for doc in manifest:
        stored = plane.raw("GET", _path(doc))
        assert stored["metadata"]["annotations"]["meta.helm.sh/release-name"] == "remediator"
    chart_crds = {
        d["metadata"]["name"]
        for path in sorted((CHART / "crds").glob("*.yaml"))
        for d in yaml.safe_load_all(path.read_text())
        if d
    }
    assert chart_crds <= plane._crds()
    apps = f"/apis/apps/v1/namespaces/{namespace}"
    assert plane.raw("GET", f"{apps}/deployments/remediator")["status"]["availableReplicas"] == 2
    pdb = f"/apis/policy/v1/namespaces/{namespace}/poddisruptionbudgets/remediator"
    assert plane.raw("GET", pdb)["spec"]["minAvailable"] == 1
    _service_account_has_the_promised_rights(plane, namespace, served)
    _an_upgrade_keeps_what_the_operator_and_kopf_wrote(helm, plane, install, namespace)

    helm.run("uninstall", "remediator", "-n", namespace, "--wait", *kubeconfig, timeout=300)
    for left in (namespace, served):
        if left:
            _wait_until_only_the_cluster_defaults_in(plane, left)
    deadline = time.monotonic() + 60
    while True:
        after = plane.cluster_scoped()
        added = {
            k: sorted(v - before.get(k, set()))
            for k, v in after.items()
            if v - before.get(k, set())
        }
        new_crds = set(added.pop("apiextensions.k8s.io/customresourcedefinitions", []))
        expected_namespaces = sorted([namespace, *([served] if served else [])])
        if added == {"/namespaces": expected_namespaces} or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert added == {"/namespaces": expected_namespaces}, "cluster-scoped objects left"
    assert new_crds <= chart_crds
    assert chart_crds <= plane._crds(), "helm uninstall keeps the CRDs"
    print(f"helm install --wait {installed:.1f}s")


def _an_upgrade_keeps_what_the_operator_and_kopf_wrote(
    helm: Helm, plane: ControlPlane, install: list[str], namespace: str
) -> None:
    """`helm upgrade` with the same values keeps the keys and the certificate made at
    install (lookup), the guard ledger's entries the operator patched in, and the webhook
    Kopf registered in the configuration the chart created empty."""
    core = f"/api/v1/namespaces/{namespace}"
    webhooks = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
    webhook = {
        "name": "policies.remediator.dev",
        "clientConfig": {"url": "https://remediator-webhook.example.svc:9443/validate"},
        "rules": [
            {
                "apiGroups": ["remediator.dev"],
                "apiVersions": ["v1alpha1"],
                "operations": ["CREATE"],
                "resources": ["remediationpolicies"],
            }
        ],
        "failurePolicy": "Ignore",
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        # a namespace no test uses: the call never happens
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "nowhere"}},
    }
    merge = "application/merge-patch+json"
    plane.raw(
        "PATCH", f"{webhooks}/remediator.dev", body={"webhooks": [webhook]}, content_type=merge
    )
    ledger = {"data": {"action-1": '{"target": "Deployment/checkout"}'}}
    plane.raw("PATCH", f"{core}/configmaps/remediator-ledger", body=ledger, content_type=merge)
    secrets = {
        name: plane.raw("GET", f"{core}/secrets/{name}")["data"]
        for name in ("remediator-secrets", "remediator-webhook-tls")
    }
    helm.run("upgrade", *install[1:], "--wait", "--timeout", "4m", timeout=300)
    for name, data in secrets.items():
        assert plane.raw("GET", f"{core}/secrets/{name}")["data"] == data, name
    kept = plane.raw("GET", f"{core}/configmaps/remediator-ledger")["data"]
    assert kept == ledger["data"]
    [registered] = plane.raw("GET", f"{webhooks}/remediator.dev")["webhooks"]
    assert registered["name"] == webhook["name"]


def _path(doc: Document) -> str:
    group_version = doc["apiVersion"]
    plural = {
        "NetworkPolicy": "networkpolicies",
        "PodDisruptionBudget": "poddisruptionbudgets",
        "ClusterKopfPeering": "clusterkopfpeerings",
    }.get(doc["kind"], doc["kind"].lower() + "s")
    base = f"/api/{group_version}" if "/" not in group_version else f"/apis/{group_version}"
    namespace = doc["metadata"].get("namespace")
    if namespace:
        base += f"/namespaces/{namespace}"
    return f"{base}/{plural}/{doc['metadata']['name']}"


def _service_account_has_the_promised_rights(
    plane: ControlPlane, namespace: str, served: str | None
) -> None:
    """As the chart's ServiceAccount (a TokenRequest token): what the roles grant, and what
    they must not (approve, delete Deployments, list Secrets; namespaced: act anywhere but
    in the served namespace)."""
    path = Path(plane.kubeconfig).with_name(f"{namespace}-sa.kubeconfig")
    token = plane.service_account_token(namespace, "remediator")
    plane.write_kubeconfig(path, "sa", {"token": token}, namespace)
    api = config.new_client_from_config(config_file=str(path))  # type: ignore[no-untyped-call]
    auth = client.AuthorizationV1Api(api)
    target = served or "shop"

    def allowed(
        verb: str, group: str, resource: str, namespace: str | None = target, name: str = ""
    ) -> bool:
        plural, _, subresource = resource.partition("/")
        attributes = client.V1ResourceAttributes(
            verb=verb,
            group=group,
            resource=plural,
            subresource=subresource,
            namespace=namespace,
            name=name,
        )
        review = auth.create_self_subject_access_review(
            client.V1SelfSubjectAccessReview(
                spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=attributes)
            )
        )
        return review.status is not None and bool(review.status.allowed)

    try:
        assert allowed("patch", "apps", "deployments")
        assert allowed("create", "", "pods/eviction")
        assert allowed("patch", "remediator.dev", "incidents/status")
        webhooks = "validatingwebhookconfigurations"
        assert allowed("create", "admissionregistration.k8s.io", webhooks, None)
        assert allowed("get", "", "configmaps", namespace, "remediator-config")
        # the pause switch's watch: that ConfigMap by name, no other
        assert allowed("watch", "", "configmaps", namespace, "remediator-config")
        assert not allowed("watch", "", "configmaps", namespace, "remediator-ledger")
        assert not allowed("create", "remediator.dev", "approvals")
        assert not allowed("delete", "apps", "deployments")
        assert not allowed("list", "", "secrets")
        if served:
            assert allowed("patch", "kopf.dev", "kopfpeerings", served)
            assert allowed("list", "", "namespaces", None)
            assert not allowed("patch", "apps", "deployments", "shop")
            assert not allowed("get", "", "secrets", "shop")
        else:
            assert allowed("patch", "kopf.dev", "clusterkopfpeerings", None)
    finally:
        api.close()
        path.unlink(missing_ok=True)


def _wait_until_only_the_cluster_defaults_in(plane: ControlPlane, namespace: str) -> None:
    """The namespace holds nothing of the chart's: only what the cluster puts in every
    namespace (kube-root-ca.crt, the default ServiceAccount) and Events."""
    kept = {("", "configmaps", "kube-root-ca.crt"), ("", "serviceaccounts", "default")}
    deadline = time.monotonic() + 60
    while True:
        left = []
        for r in plane.resources:
            if not r.namespaced or r.plural == "events" or "list" not in r.verbs:
                continue
            items = plane.raw("GET", r.path(namespace))["items"]
            left += [
                f"{r.plural}/{i['metadata']['name']}"
                for i in items
                if (r.group, r.plural, i["metadata"]["name"]) not in kept
            ]
        if not left:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"helm uninstall left in {namespace}: {left}")
        time.sleep(0.5)
