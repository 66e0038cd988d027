#!/usr/bin/python3
"""Checks that deploy/*.yaml are valid Kubernetes objects and say what kproxy needs.

Schema: every document is decoded into the Kubernetes Python client's model of its kind
(Debian's python3-kubernetes), which rejects missing required fields, and walked against the
models' field lists, so an unknown or misspelt field is an error too (the client alone would
drop it silently). Content: the DaemonSet is kubeadm's (hostNetwork, the command line,
NODE_NAME, the xtables lock and /lib/modules) made least-privileged as upstream's --init-only
allows (a privileged init container runs the same command with --init-only; the kube-proxy
container drops every capability but NET_ADMIN and NET_RAW), its volumes and ServiceAccount exist, the
ClusterRole grants exactly kube-proxy's permissions, and with KPROXY_BINARY set the ConfigMap's
config.conf is decoded and validated by kproxy itself (`kube-proxy --config=... --write-config-to`).

Usage: /usr/bin/python3 deploy/check_manifests.py [deploy-dir]   (exit 1 on the first problems)
"""
import datetime
import glob
import os
import subprocess
import sys
import tempfile

import yaml
from kubernetes import client

MODELS = {
    ("v1", "ServiceAccount"): "V1ServiceAccount",
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("apps/v1", "DaemonSet"): "V1DaemonSet",
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): "V1ClusterRole",
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): "V1ClusterRoleBinding",
}

# What kube-proxy uses, and nothing else (spec ipvs-and-runtime.md §3.13).
EXPECTED_RULES = {
    ("", "services"): {"list", "watch"},
    ("discovery.k8s.io", "endpointslices"): {"list", "watch"},
    ("", "nodes"): {"get", "list", "watch"},
    ("", "events"): {"create", "patch", "update"},
    ("events.k8s.io", "events"): {"create", "patch", "update"},
}

PRIMITIVES = {"str", "int", "float", "bool", "object", "date", "datetime"}


def walk(value, type_name, path, errors):
    """Checks `value` against the client model `type_name` (e.g. "V1PodSpec", "list[V1Volume]")."""
    if value is None:
        return
    if type_name.startswith("list["):
        if not isinstance(value, list):
            errors.append(f"{path}: expected a list")
            return
        for i, item in enumerate(value):
            walk(item, type_name[5:-1], f"{path}[{i}]", errors)
        return
    if type_name.startswith("dict("):
        if not isinstance(value, dict):
            errors.append(f"{path}: expected a map")
            return
        inner = type_name[type_name.index(",") + 1:-1].strip()
        for k, v in value.items():
            walk(v, inner, f"{path}.{k}", errors)
        return
    if type_name in PRIMITIVES:
        expected = {"str": str, "int": int, "bool": bool, "float": (int, float)}.get(type_name)
        if expected is not None and not isinstance(value, expected):
            errors.append(f"{path}: expected {type_name}, got {type(value).__name__}")
        return
    model = getattr(client.models, type_name)
    if not isinstance(value, dict):
        errors.append(f"{path}: expected an object ({type_name})")
        return
    by_json = {json_name: attr for attr, json_name in model.attribute_map.items()}
    for key, v in value.items():
        if key not in by_json:
            errors.append(f"{path}: unknown field {key!r} for {type_name}")
            continue
        walk(v, model.openapi_types[by_json[key]], f"{path}.{key}", errors)


def decode(doc, klass):
    """The client's own deserialisation, which raises on missing required fields."""
    api = client.ApiClient()

    class Response:
        data = yaml.safe_dump(doc)

    import json
    Response.data = json.dumps(doc, default=str)
    return api.deserialize(Response, klass)


def main():
    deploy = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    errors = []
    objects = {}
    files = sorted(glob.glob(os.path.join(deploy, "*.yaml")))
    if not files:
        errors.append(f"{deploy}: no manifests")
    for path in files:
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
        for i, doc in enumerate(docs):
            where = f"{os.path.basename(path)}[{i}]"
            key = (doc.get("apiVersion"), doc.get("kind"))
            if key not in MODELS:
                errors.append(f"{where}: unexpected apiVersion/kind {key}")
                continue
            name = (doc.get("metadata") or {}).get("name")
            if not name:
                errors.append(f"{where}: metadata.name is required")
            klass = MODELS[key]
            walk(doc, klass, f"{where} {key[1]}", errors)
            try:
                decode(doc, klass)
            except (ValueError, TypeError) as e:
                errors.append(f"{where}: {klass}: {e}")
            objects[(key[1], name)] = doc

    ds = objects.get(("DaemonSet", "kube-proxy"))
    sa = objects.get(("ServiceAccount", "kube-proxy"))
    cm = objects.get(("ConfigMap", "kube-proxy"))
    role = objects.get(("ClusterRole", "kproxy:node-proxier"))
    binding = objects.get(("ClusterRoleBinding", "kproxy:node-proxier"))
    for what, obj in [("DaemonSet kube-proxy", ds), ("ServiceAccount kube-proxy", sa), ("ConfigMap kube-proxy", cm),
                      ("ClusterRole", role), ("ClusterRoleBinding", binding)]:
        if obj is None:
            errors.append(f"missing {what}")
    if errors:
        return report(errors)

    for obj in (ds, sa, cm):
        if obj["metadata"].get("namespace") != "kube-system":
            errors.append(f"{obj['kind']} {obj['metadata']['name']}: not in kube-system")
    spec = ds["spec"]
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"].get("labels", {})
    for k, v in spec["selector"].get("matchLabels", {}).items():
        if labels.get(k) != v:
            errors.append(f"DaemonSet: selector {k}={v} does not match the pod template's labels")
    if not pod.get("hostNetwork"):
        errors.append("DaemonSet: hostNetwork must be true")
    if pod.get("serviceAccountName") != sa["metadata"]["name"]:
        errors.append("DaemonSet: serviceAccountName does not name the ServiceAccount")
    if pod.get("priorityClassName") != "system-node-critical":
        errors.append("DaemonSet: priorityClassName should be system-node-critical")
    (container,) = pod["containers"]
    kubeadm_command = ["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf",
                       "--hostname-override=$(NODE_NAME)"]
    if container.get("command") != kubeadm_command:
        errors.append(f"DaemonSet: command is not kubeadm's: {container.get('command')}")
    for c in [container] + pod.get("initContainers", []):
        env = {e["name"]: e for e in c.get("env", [])}
        if env.get("NODE_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") != "spec.nodeName":
            errors.append(f"DaemonSet: {c['name']}: NODE_NAME must come from spec.nodeName")
    # Least privilege (upstream --init-only): the sysctl writes in a privileged init container,
    # the daemon with NET_ADMIN (and NET_RAW for the legacy iptables back end) only.
    security = container.get("securityContext", {})
    caps = security.get("capabilities", {})
    if security.get("privileged"):
        errors.append("DaemonSet: the kube-proxy container must not be privileged (the init container does the privileged setup)")
    if caps.get("drop") != ["ALL"] or sorted(caps.get("add", [])) != ["NET_ADMIN", "NET_RAW"]:
        errors.append(f"DaemonSet: the kube-proxy container must drop ALL capabilities and add only NET_ADMIN and NET_RAW: {caps}")
    if security.get("allowPrivilegeEscalation") is not False:
        errors.append("DaemonSet: the kube-proxy container must set allowPrivilegeEscalation: false")
    inits = pod.get("initContainers", [])
    if len(inits) != 1:
        errors.append("DaemonSet: expected one init container (kube-proxy --init-only)")
    else:
        init = inits[0]
        if init.get("command") != kubeadm_command + ["--init-only"]:
            errors.append(f"DaemonSet: the init container must run kubeadm's command with --init-only: {init.get('command')}")
        if init.get("image") != container.get("image"):
            errors.append("DaemonSet: the init container must use the kube-proxy container's image")
        if not init.get("securityContext", {}).get("privileged"):
            errors.append("DaemonSet: the init container must be privileged (it writes sysctls)")
        init_mounts = {m["mountPath"]: m["name"] for m in init.get("volumeMounts", [])}
        if "/var/lib/kube-proxy" not in init_mounts:
            errors.append("DaemonSet: the init container must mount the configuration")
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = {m["mountPath"]: m for m in container.get("volumeMounts", [])}
    for m in mounts.values():
        if m["name"] not in volumes:
            errors.append(f"DaemonSet: volumeMount {m['name']} has no volume")
    want = {
        "/var/lib/kube-proxy": lambda v: v.get("configMap", {}).get("name") == cm["metadata"]["name"],
        "/run/xtables.lock": lambda v: v.get("hostPath") == {"path": "/run/xtables.lock", "type": "FileOrCreate"},
        "/lib/modules": lambda v: v.get("hostPath", {}).get("path") == "/lib/modules",
    }
    for path, ok in want.items():
        m = mounts.get(path)
        if m is None or not ok(volumes.get(m["name"], {})):
            errors.append(f"DaemonSet: {path} is not mounted as kubeadm mounts it")
    if not mounts.get("/lib/modules", {}).get("readOnly"):
        errors.append("DaemonSet: /lib/modules must be read-only")

    granted = {}
    for rule in role["rules"]:
        if rule.get("resourceNames") or rule.get("nonResourceURLs"):
            errors.append("ClusterRole: no resourceNames / nonResourceURLs expected")
        for group in rule.get("apiGroups", []):
            for res in rule.get("resources", []):
                granted.setdefault((group, res), set()).update(rule.get("verbs", []))
    if granted != EXPECTED_RULES:
        errors.append(f"ClusterRole: grants {granted}, expected exactly {EXPECTED_RULES}")
    if binding["roleRef"] != {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                              "name": role["metadata"]["name"]}:
        errors.append("ClusterRoleBinding: roleRef does not name the ClusterRole")
    if binding["subjects"] != [{"kind": "ServiceAccount", "name": "kube-proxy", "namespace": "kube-system"}]:
        errors.append("ClusterRoleBinding: subjects must be the kube-proxy ServiceAccount only")

    config = cm.get("data", {}).get("config.conf")
    if not config:
        errors.append("ConfigMap: no config.conf")
    elif os.environ.get("KPROXY_BINARY"):
        with tempfile.TemporaryDirectory() as tmp:
            conf = os.path.join(tmp, "config.conf")
            with open(conf, "w") as f:
                f.write(config)
            r = subprocess.run([os.environ["KPROXY_BINARY"], "run", "--config=" + conf,
                                "--write-config-to=" + os.path.join(tmp, "out.yaml")],
                               capture_output=True, text=True)
            if r.returncode != 0 or "lenient" in r.stderr + r.stdout:
                errors.append(f"ConfigMap: kproxy rejects config.conf: {r.stderr.strip() or r.stdout.strip()}")
    return report(errors)


def report(errors):
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    if not errors:
        print("deploy manifests OK")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
