"""deploy/webhook.yaml, the admission gate: kubectl reads every document offline (tests/kubectl.py:
``kubectl apply --dry-run=client --validate=false`` needs a cluster's API groups), the workloads
decode into kubectl's Go types without losing a field, the ``provcheck serve`` arguments of the
Deployment parse with provcheck's own parser, and the contract the issue asks for holds: both
webhooks, fail closed, a timeout above the gate's budget, the gate's namespace skipped by a label
no user can write, every Pod-carrying kind covered, the files the arguments name mounted."""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml

from provcheck.audit.inputs import read_inputs
from provcheck.cli.main import _parser
from provcheck.policy.loader import parse_policy
from tests.kubectl import OTHER, decode, local_names, missing
from tests.paths import REPO_ROOT

MANIFEST = REPO_ROOT / "deploy" / "webhook.yaml"
NAMESPACE = "provcheck-gate"
PLACEHOLDER = "${CA_BUNDLE}"
POD_RULES = {
    "": {"pods", "pods/ephemeralcontainers"},
    "apps": {"deployments", "statefulsets", "daemonsets", "replicasets"},
    "batch": {"jobs", "cronjobs"},
}


def _with_ca(text: str) -> str:
    """The manifest with the CA bundle set, as the README's ``sed`` does."""
    pem = trustme.CA().cert_pem.bytes()
    return text.replace(PLACEHOLDER, base64.b64encode(pem).decode())


def _documents() -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(_with_ca(MANIFEST.read_text())) if doc]


def _one(kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in _documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def _gate() -> dict[str, Any]:
    (container,) = _one("Deployment", NAMESPACE)["spec"]["template"]["spec"]["containers"]
    assert isinstance(container, dict)
    return container


def _serve_args() -> argparse.Namespace:
    """The gate container's arguments, parsed by ``provcheck``'s own parser."""
    args = _gate()["args"]
    assert args[0] == "serve"
    return _parser().parse_args(args)


def _webhooks() -> dict[str, dict[str, Any]]:
    kinds = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")
    found: dict[str, dict[str, Any]] = {}
    for doc in _documents():
        if doc["kind"] in kinds:
            (hook,) = doc["webhooks"]
            found[doc["kind"]] = hook
    return found


def test_kubectl_reads_every_document_offline() -> None:
    for text in (MANIFEST.read_text(), _with_ca(MANIFEST.read_text())):
        result = local_names(text)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == [
            "namespace/provcheck-gate",
            "configmap/provcheck-gate",
            "deployment.apps/provcheck-gate",
            "service/provcheck-gate",
            "poddisruptionbudget.policy/provcheck-gate",
            "deployment.apps/provcheck-gate-redis",
            "service/provcheck-gate-redis",
            "networkpolicy.networking.k8s.io/provcheck-gate-redis",
            "mutatingwebhookconfiguration.admissionregistration.k8s.io/provcheck-gate",
            "validatingwebhookconfiguration.admissionregistration.k8s.io/provcheck-gate",
        ]


@pytest.mark.parametrize(
    "manifest", sorted(REPO_ROOT.glob("deploy/**/*.yaml")), ids=lambda path: path.name
)
def test_every_manifest_of_deploy_is_read_by_kubectl(manifest: Path) -> None:
    result = local_names(_with_ca(manifest.read_text()))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


@pytest.mark.parametrize("name", [NAMESPACE, f"{NAMESPACE}-redis"])
def test_each_deployment_decodes_into_its_types_without_losing_a_field(name: str) -> None:
    deployment = _one("Deployment", name)
    result = decode(deployment)
    assert result.returncode == 0, result.stderr
    (image,) = {c["image"] for c in deployment["spec"]["template"]["spec"]["containers"]}
    decoded = json.loads(result.stdout.replace(OTHER, image))
    assert list(missing(deployment, decoded)) == []


def test_the_serve_arguments_are_provchecks_own() -> None:
    args = _serve_args()
    assert args.command == "serve"
    assert (args.port, args.budget) == (8443, 8.0)
    assert str(args.cache).startswith("redis://")


def test_both_webhooks_fail_closed_within_the_api_servers_timeout() -> None:
    hooks = _webhooks()
    assert set(hooks) == {"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"}
    budget = _serve_args().budget
    service = _one("Service", NAMESPACE)
    (port,) = service["spec"]["ports"]
    for kind, hook in hooks.items():
        assert hook["failurePolicy"] == "Fail"
        assert hook["timeoutSeconds"] > budget  # the gate answers (denies) before the cut-off
        assert hook["timeoutSeconds"] <= 30  # the API server's cap
        assert hook["sideEffects"] == "None"
        assert hook["admissionReviewVersions"] == ["v1"]
        path = "/mutate" if kind.startswith("Mutating") else "/validate"
        assert hook["clientConfig"]["service"] == {
            "namespace": NAMESPACE,
            "name": service["metadata"]["name"],
            "path": path,
            "port": port["port"],
        }
        assert base64.b64decode(hook["clientConfig"]["caBundle"]).startswith(b"-----BEGIN")
        assert "objectSelector" not in hook  # labels are written by whoever makes the object
    assert hooks["MutatingWebhookConfiguration"]["reinvocationPolicy"] == "IfNeeded"


def test_the_gates_own_namespace_is_skipped_and_nothing_else() -> None:
    for hook in _webhooks().values():
        assert hook["namespaceSelector"] == {
            "matchExpressions": [
                {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": [NAMESPACE]}
            ]
        }
    namespaced = [d for d in _documents() if "namespace" in d["metadata"]]
    assert {d["metadata"]["namespace"] for d in namespaced} == {NAMESPACE}


def test_every_kind_with_a_pod_template_is_reviewed_on_create_and_update() -> None:
    for hook in _webhooks().values():
        covered: dict[str, set[str]] = {}
        for rule in hook["rules"]:
            assert set(rule["operations"]) == {"CREATE", "UPDATE"}
            assert rule["apiVersions"] == ["v1"] and rule["scope"] == "Namespaced"
            (group,) = rule["apiGroups"]
            covered.setdefault(group, set()).update(rule["resources"])
        assert covered == POD_RULES


def test_two_replicas_share_redis_and_the_files_they_read_are_mounted() -> None:
    deployment = _one("Deployment", NAMESPACE)
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    pod = spec["template"]["spec"]
    gate, args = _gate(), _serve_args()
    # the cache is the Redis Service of the manifest
    redis = _one("Service", f"{NAMESPACE}-redis")
    (redis_port,) = redis["spec"]["ports"]
    assert args.cache == f"redis://{NAMESPACE}-redis.{NAMESPACE}.svc:{redis_port['port']}/0"
    env = {item["name"]: item for item in gate["env"]}
    assert env["PROVCHECK_CACHE_HMAC_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "provcheck-cache",
        "key": "hmac-key",
    }
    # every file an argument names is in a volume: the policy ConfigMap, the TLS and
    # docker config Secrets
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: volumes[m["name"]] for m in gate["volumeMounts"]}

    def source(path: Path) -> tuple[dict[str, Any], str]:
        return mounts[str(path.parent)], path.name

    config = _one("ConfigMap", NAMESPACE)["data"]
    for path in (args.policy, args.warm):
        volume, key = source(Path(path))
        assert volume["configMap"]["name"] == NAMESPACE and key in config
    for path in (args.tls_cert, args.tls_key):
        volume, key = source(Path(path))
        assert volume["secret"]["secretName"] == "provcheck-gate-tls"
        assert key in ("tls.crt", "tls.key")  # the keys of a kubernetes.io/tls Secret
    volume, key = source(Path(args.docker_config))
    assert volume["secret"]["secretName"] == "provcheck-registry"
    assert volume["secret"]["items"] == [{"key": ".dockerconfigjson", "path": key}]
    # the port serve listens on is the one the Service and the probes use
    (port,) = gate["ports"]
    assert port["containerPort"] == args.port
    assert _one("Service", NAMESPACE)["spec"]["ports"][0]["targetPort"] == port["name"]
    probes = {
        name: gate[f"{name}Probe"]["httpGet"] for name in ("startup", "liveness", "readiness")
    }
    assert probes["readiness"] == {"path": "/readyz", "port": port["name"], "scheme": "HTTPS"}
    assert probes["liveness"] == probes["startup"] == {**probes["readiness"], "path": "/healthz"}
    assert gate["resources"]["limits"]["memory"] and gate["resources"]["requests"]["cpu"]
    assert gate["securityContext"]["readOnlyRootFilesystem"] is True


def test_a_disruption_never_takes_both_replicas() -> None:
    pdb = _one("PodDisruptionBudget", NAMESPACE)["spec"]
    deployment = _one("Deployment", NAMESPACE)["spec"]
    assert pdb["selector"] == deployment["selector"]
    assert 1 <= pdb["minAvailable"] < deployment["replicas"]
    assert deployment["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_the_policy_and_the_warm_list_are_read_as_provcheck_reads_them(tmp_path: Path) -> None:
    config = _one("ConfigMap", NAMESPACE)["data"]
    policy = parse_policy(config["policy.yaml"].encode(), "policy.yaml")
    assert policy.name == "admission"
    warm = tmp_path / "warm.txt"
    warm.write_text(config["warm.txt"])
    refs = read_inputs(str(warm))
    assert refs and all(re.fullmatch(r"[\w.-]+/[\w./-]+:[\w.-]+", ref) for ref in refs)


def test_the_ca_bundle_placeholder_is_explained_and_refused_as_it_is() -> None:
    text = MANIFEST.read_text()
    assert text.count(f"caBundle: {PLACEHOLDER}") == 2
    assert 'sed "s|\\${CA_BUNDLE}|$(base64 -w0 ca.crt)|"' in text
    with pytest.raises(ValueError):  # what the API server does with it: not base64
        base64.b64decode(PLACEHOLDER, validate=True)


def test_the_readmes_openssl_commands_make_a_certificate_for_the_service(tmp_path: Path) -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    assert "[deploy/webhook.yaml](deploy/webhook.yaml)" in readme
    (commands,) = [b for b in re.findall(r"```sh\n(.*?)```", readme, re.DOTALL) if "-CAkey" in b]
    openssl = shutil.which("openssl")
    if openssl is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("openssl not found")
        pytest.skip("openssl not found")
    subprocess.run(["bash", "-e", "-c", commands], cwd=tmp_path, check=True, capture_output=True)
    service = f"{NAMESPACE}.{NAMESPACE}.svc"  # what the API server dials: Service.namespace.svc
    checks = (
        ["verify", "-CAfile", "ca.crt", "tls.crt"],
        ["x509", "-in", "tls.crt", "-noout", "-checkhost", service],
    )
    for check in checks:
        result = subprocess.run([openssl, *check], cwd=tmp_path, capture_output=True, text=True)
        assert result.returncode == 0 and "does NOT match" not in result.stdout, result
    # the key and certificate are a pair a TLS server can load
    ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
        tmp_path / "tls.crt", tmp_path / "tls.key"
    )
    ssl.create_default_context(cafile=tmp_path / "ca.crt")  # and the CA one a client can
