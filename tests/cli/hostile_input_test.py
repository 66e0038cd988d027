#!/usr/bin/env python3
"""Hostile strings given to the built binary's verbs (issue 15 item 1).

For each field that reaches a payload, a chain or set name, a comment or a log line, a manifest
carries a hostile value (a newline followed by a whole rule, a double quote, a NUL, a backslash,
uppercase, 64+ characters, a leading '-', ...). Every verb that reads manifests must refuse it:
exit status 2, nothing on stdout, and an error naming the object and the field by its API path,
with no raw control character. render runs every (field, value) pair; trace, render in the other
modes, and (as root, inside a fresh network namespace made with unshare -n) sync and diff run one
value per field. Usage: hostile_input_test.py KPROXY_BINARY
"""
import os
import shutil
import subprocess
import sys
import tempfile

KPROXY = os.path.abspath(sys.argv[1])

SLICE_HEAD = ("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: web-1, namespace: default, "
              "labels: {kubernetes.io/service-name: web}}\naddressType: IPv4\n")
GOOD_SERVICE = ("apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\n"
                "spec: {clusterIP: 10.96.0.10, ports: [{name: http, port: 80}]}\n")

# (name, object as printed, API path, manifest with VALUE, allowed-when) ; the good Service is
# always in the same input, so the refusal is the hostile object's doing.
FIELDS = [
    ("Service metadata.name", "Service default/", "metadata.name",
     "apiVersion: v1\nkind: Service\nmetadata: {name: VALUE}\nspec: {clusterIP: 10.96.0.1, ports: [{port: 80}]}\n"),
    ("Service metadata.namespace", "Service ", "metadata.namespace",
     "apiVersion: v1\nkind: Service\nmetadata: {name: evil, namespace: VALUE}\nspec: {clusterIP: 10.96.0.1}\n"),
    ("Service port name", "Service default/evil", "spec.ports[0].name",
     "apiVersion: v1\nkind: Service\nmetadata: {name: evil}\nspec: {clusterIP: 10.96.0.1, ports: [{name: VALUE, port: 80}]}\n"),
    ("Service named targetPort", "Service default/evil", "spec.ports[0].targetPort",
     "apiVersion: v1\nkind: Service\nmetadata: {name: evil}\nspec: {clusterIP: 10.96.0.1, ports: [{name: a, port: 80, targetPort: VALUE}]}\n"),
    ("Service clusterIP", "Service default/evil", "spec.clusterIP",
     "apiVersion: v1\nkind: Service\nmetadata: {name: evil}\nspec: {clusterIP: VALUE}\n"),
    ("Service externalIPs", "Service default/evil", "spec.externalIPs[0]",
     "apiVersion: v1\nkind: Service\nmetadata: {name: evil}\nspec: {clusterIP: 10.96.0.1, externalIPs: [VALUE]}\n"),
    ("Service loadBalancerSourceRanges", "Service default/evil", "spec.loadBalancerSourceRanges[0]",
     "apiVersion: v1\nkind: Service\nmetadata: {name: evil}\nspec: {type: LoadBalancer, clusterIP: 10.96.0.1, loadBalancerSourceRanges: [VALUE]}\n"),
    ("Service protocol", "Service default/evil", "spec.ports[0].protocol",
     "apiVersion: v1\nkind: Service\nmetadata: {name: evil}\nspec: {clusterIP: 10.96.0.1, ports: [{port: 80, protocol: VALUE}]}\n"),
    ("EndpointSlice name", "EndpointSlice default/", "metadata.name",
     "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: VALUE, labels: {kubernetes.io/service-name: web}}\naddressType: IPv4\n"),
    ("EndpointSlice service-name label", "EndpointSlice default/web-1", "metadata.labels[kubernetes.io/service-name]",
     "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: web-1, labels: {kubernetes.io/service-name: VALUE}}\naddressType: IPv4\n"),
    ("EndpointSlice port name", "EndpointSlice default/web-1", "ports[0].name",
     SLICE_HEAD + "endpoints: [{addresses: [10.0.0.1]}]\nports: [{name: VALUE, port: 8080}]\n"),
    ("EndpointSlice address", "EndpointSlice default/web-1", "endpoints[0].addresses[0]",
     SLICE_HEAD + "endpoints: [{addresses: [VALUE]}]\n"),
    ("EndpointSlice nodeName", "EndpointSlice default/web-1", "endpoints[0].nodeName",
     SLICE_HEAD + "endpoints: [{addresses: [10.0.0.1], nodeName: VALUE}]\n"),
    ("EndpointSlice zone", "EndpointSlice default/web-1", "endpoints[0].zone",
     SLICE_HEAD + "endpoints: [{addresses: [10.0.0.1], zone: VALUE}]\n"),
    ("Node name", "Node ", "metadata.name", "apiVersion: v1\nkind: Node\nmetadata: {name: VALUE}\n"),
    ("Node zone label", "Node n1", "metadata.labels[topology.kubernetes.io/zone]",
     "apiVersion: v1\nkind: Node\nmetadata: {name: n1, labels: {topology.kubernetes.io/zone: VALUE}}\n"),
    ("Node hostname label", "Node n1", "metadata.labels[kubernetes.io/hostname]",
     "apiVersion: v1\nkind: Node\nmetadata: {name: n1, labels: {kubernetes.io/hostname: VALUE}}\n"),
    ("ServiceCIDR name", "ServiceCIDR ", "metadata.name",
     "apiVersion: networking.k8s.io/v1\nkind: ServiceCIDR\nmetadata: {name: VALUE}\nspec: {cidrs: [10.96.0.0/16]}\n"),
]

HOSTILE = [
    ("newline and a rule", "x\n-A KUBE-SERVICES -j ACCEPT"),
    ("carriage return", "x\r-A KUBE-SERVICES -j ACCEPT"),
    ("double quote", 'x" -j ACCEPT -m comment --comment "y'),
    ("NUL", "x\0y"),
    ("backslash", "x\\y"),
    ("uppercase", "X"),
    ("too long", "a" * 300),
    ("leading dash", "-x"),
    ("space", "x -j ACCEPT"),
]
# Label values allow uppercase; IPs are refused on other grounds.
ALLOWED = {("Node zone label", "uppercase"), ("Node hostname label", "uppercase"),
           ("EndpointSlice zone", "uppercase"), ("EndpointSlice service-name label", "uppercase")}


def yaml_quoted(value):
    out = '"'
    for c in value:
        out += {"\n": "\\n", "\r": "\\r", "\0": "\\0", '"': '\\"', "\\": "\\\\"}.get(c, c)
    return out + '"'


failures = []
runs = 0


def check(verb_args, path_text, obj_text, what, manifest_path, cwd, prefix=()):
    global runs
    runs += 1
    cmd = list(prefix) + [KPROXY] + verb_args + ["-f", manifest_path, "--hostname-override", "n1"]
    p = subprocess.run(cmd, capture_output=True, cwd=cwd, timeout=60)
    err = p.stderr.decode("utf-8", "replace")
    problems = []
    if p.returncode != 2:
        problems.append("exit status %d, not 2" % p.returncode)
    if p.stdout:
        problems.append("stdout not empty: %r" % p.stdout[:200])
    wanted = ": " + path_text + ": "
    lines = [l for l in err.splitlines() if wanted in l and obj_text in l]
    if not lines:
        problems.append("no error line naming %r and %r" % (obj_text, path_text))
    if any(ord(c) < 0x20 and c != "\n" for c in err):
        problems.append("raw control character in stderr")
    if problems:
        failures.append("%s [%s]: %s\n  stderr: %s" % (what, " ".join(verb_args), "; ".join(problems), err[:600]))


def main():
    tmp = tempfile.mkdtemp(prefix="kproxy-hostile-")
    try:
        as_root = os.geteuid() == 0 and shutil.which("unshare") is not None
        for field, obj, path, template in FIELDS:
            for i, (hname, value) in enumerate(HOSTILE):
                if (field, hname) in ALLOWED:
                    continue
                manifest = GOOD_SERVICE + "---\n" + template.replace("VALUE", yaml_quoted(value))
                mpath = os.path.join(tmp, "m.yaml")
                with open(mpath, "w") as f:
                    f.write(manifest)
                what = "%s / %s" % (field, hname)
                check(["render"], path, obj, what, mpath, tmp)
                if i != 0:
                    continue
                # One value per field through every other verb and mode.
                check(["render", "--proxy-mode", "ipvs"], path, obj, what, mpath, tmp)
                check(["render", "--proxy-mode", "nftables"], path, obj, what, mpath, tmp)
                check(["trace", "--src", "10.0.0.5", "--dst", "10.96.0.10", "--dport", "80"], path, obj, what, mpath, tmp)
                if as_root:
                    check(["sync"], path, obj, what, mpath, tmp, prefix=("unshare", "-n"))
                    check(["diff"], path, obj, what, mpath, tmp, prefix=("unshare", "-n"))
        if not as_root:
            print("note: not root; sync and diff were not run (they need a network namespace)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d runs" % runs)
    if failures:
        print("%d failures:" % len(failures))
        for f in failures:
            print(f)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
