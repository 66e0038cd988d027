#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/corpus/<target>/ from testdata (run from anywhere;
rewrites the folders). The seeds are kept small: a few representative inputs per parser, so that
libFuzzer starts from real shapes (objects, Lists, restore text, flags) and CI's smoke stays short."""
import json
import pathlib
import shutil
import struct

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
TESTDATA = ROOT / "testdata"
OUT = ROOT / "tests" / "fuzz" / "corpus"

GOLDEN_CASES = [
    "iptables/kproxy-clusterip-multiport",
    "iptables/kproxy-dual-stack-ipv6",
    "iptables/kproxy-external-ips",
    "iptables/upstream-masquerade-rule-random-fully-true",
    "iptables/kproxy-etp-local-with-local-endpoint",
    "ipvs/kproxy-dual-stack-ipv4",
]
BAD_INPUTS = ["bad-cidr", "bad-enums", "json-wrong-type", "several-errors-in-one-file", "missing-fields"]
BAD_CONFIGS = ["masquerade-bit-32", "several-errors", "unknown-feature-gate", "bad-detect-local-mode"]


def write(target, name, data):
    folder = OUT / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def golden(case, name):
    return (TESTDATA / "golden" / case / name).read_text()


def main():
    shutil.rmtree(OUT, ignore_errors=True)

    # Manifests: YAML streams as written, and the same objects as JSON (object, List, typed list).
    yaml_sources = [("example", (TESTDATA / "examples" / "cluster.yaml").read_text())]
    yaml_sources += [(c.split("/")[1], golden(c, "cluster.yaml")) for c in GOLDEN_CASES]
    yaml_sources += [(b, (TESTDATA / "badinput" / (b + ".yaml")).read_text()) for b in BAD_INPUTS]
    for name, text in yaml_sources:
        write("manifest_yaml", name + ".yaml", text)
    for name, text in yaml_sources[:5]:
        docs = [d for d in yaml.safe_load_all(text) if d]
        write("manifest_json", name + "-list.json", json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}, indent=1))
        write("manifest_json", name + "-first.json", json.dumps(docs[0]))
        services = [d for d in docs if d.get("kind") == "Service"]
        if services:
            write("manifest_json", name + "-servicelist.json",
                  json.dumps({"apiVersion": "v1", "kind": "ServiceList", "metadata": {"resourceVersion": "1"},
                              "items": [{k: v for k, v in s.items() if k not in ("apiVersion", "kind")} for s in services]}))
        write("manifest_json", name + "-array.json", json.dumps(docs))
    write("manifest_yaml", "endpoints-and-cidr.yaml",
          "apiVersion: v1\nkind: Endpoints\nmetadata: {name: web, namespace: ns}\nsubsets:\n- addresses:\n"
          "  - {ip: 10.1.0.1, nodeName: n1}\n  notReadyAddresses:\n  - ip: fd00::5\n  ports:\n  - {name: http, port: 80}\n"
          "---\napiVersion: networking.k8s.io/v1\nkind: ServiceCIDR\nmetadata: {name: kubernetes}\n"
          "spec:\n  cidrs: [10.96.0.0/16, fd00:10:96::/112]\n---\n&a {apiVersion: v1, kind: List, items: [*a]}\n")

    # KubeProxyConfiguration files.
    write("kube_proxy_config", "example.yaml", (TESTDATA / "examples" / "config.yaml").read_text())
    for c in GOLDEN_CASES:
        path = TESTDATA / "golden" / c / "config.yaml"
        if path.exists():
            write("kube_proxy_config", c.replace("/", "-") + ".yaml", path.read_text())
    for b in BAD_CONFIGS:
        write("kube_proxy_config", b + ".yaml", (TESTDATA / "badinput" / (b + ".config.yaml")).read_text())
    write("kube_proxy_config", "json.json", json.dumps(yaml.safe_load((TESTDATA / "examples" / "config.yaml").read_text())))

    # Node facts.
    for c in ["trace/upstream-trace-packet", "iptables/kproxy-clusterip-multiport", "iptables/kproxy-dual-stack-ipv6"]:
        path = TESTDATA / "golden" / c / "node-facts.yaml"
        if path.exists():
            write("node_facts", c.split("/")[1] + ".yaml", path.read_text())

    # kube-proxy flags: argument vectors, NUL-separated.
    flag_sets = [
        ["--proxy-mode=ipvs", "--cluster-cidr", "10.0.0.0/8,fd00::/48", "-v", "4", "--hostname-override=node-a"],
        ["--config=/etc/kube-proxy/config.yaml", "--hostname-override", "n1", "--v=2"],
        ["--masquerade-all", "--iptables-sync-period=1m0s", "--iptables-min-sync-period", "10s",
         "--nodeport-addresses=10.0.0.0/8,primary", "--feature-gates=PreferSameTrafficDistribution=true"],
        ["--ipvs-scheduler", "rr", "--ipvs-exclude-cidrs=10.1.0.0/16", "--ipvs-strict-arp", "--conntrack-max-per-core=0",
         "--conntrack-tcp-timeout-established", "24h0m0s", "--objects", "cluster.yaml"],
        ["--detect-local-mode=InterfaceNamePrefix", "--pod-interface-name-prefix=veth", "--bind-address=0.0.0.0",
         "--healthz-bind-address", "0.0.0.0:10256", "--metrics-port=0", "--", "extra"],
        ["--version=raw"], ["--help"], ["--proxymode=ipvs"],
    ]
    for i, args in enumerate(flag_sets):
        write("kube_proxy_flags", "args-%d" % i, "\0".join(args))

    # kubeconfig.
    pem = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="
    write("kubeconfig", "token.yaml",
          "apiVersion: v1\nkind: Config\ncurrent-context: ctx\ncontexts:\n- name: ctx\n  context:\n    cluster: c\n"
          "    user: u\nclusters:\n- name: c\n  cluster:\n    server: https://10.96.0.1:443/\n"
          "    certificate-authority-data: " + pem + "\nusers:\n- name: u\n  user:\n    token: secret\n")
    write("kubeconfig", "certs.yaml",
          "apiVersion: v1\nkind: Config\ncurrent-context: ctx\ncontexts:\n- name: ctx\n  context: {cluster: c, user: u}\n"
          "clusters:\n- name: c\n  cluster: {server: 'https://[fd00::1]:6443', insecure-skip-tls-verify: true}\n"
          "users:\n- name: u\n  user:\n    client-certificate-data: " + pem + "\n    client-key: key.pem\n")
    write("kubeconfig", "basic-exec.yaml",
          "current-context: a\ncontexts:\n- {name: a, context: {cluster: c, user: u}}\n- {name: b, context: {cluster: c, user: x}}\n"
          "clusters:\n- {name: c, cluster: {server: 'http://h:8080'}}\nusers:\n- {name: u, user: {username: admin, password: pw}}\n"
          "- {name: x, user: {exec: {command: aws}}}\n")

    # Watch streams: a control byte (kind in bits 4-5, chunk size in bits 0-3), then events.
    service = {"metadata": {"name": "web", "namespace": "default", "resourceVersion": "6"},
               "spec": {"clusterIP": "10.96.0.10", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}}
    events = [
        {"type": "ADDED", "object": service},
        {"type": "MODIFIED", "object": dict(service, spec={"clusterIP": "10.96.0.10", "type": "NodePort",
                                                           "ports": [{"port": 80, "nodePort": 30080}]})},
        {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "9"}}},
        {"type": "DELETED", "object": service},
    ]
    stream = "".join(json.dumps(e) + "\n" for e in events)
    write("watch_stream", "service-events", bytes([0x08]) + stream.encode())
    write("watch_stream", "service-events-chunked", bytes([0x02]) + stream.replace("\n", "\r\n", 1).encode())
    write("watch_stream", "gone", bytes([0x0b]) + (json.dumps({"type": "ERROR", "object": {
        "kind": "Status", "code": 410, "reason": "Expired", "message": "too old"}}) + "\n").encode())
    slice_event = {"type": "ADDED", "object": {
        "metadata": {"name": "web-1", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv6", "endpoints": [{"addresses": ["fd00::2"], "conditions": {"ready": True}, "nodeName": "n1"}],
        "ports": [{"name": "http", "port": 8080}]}}
    write("watch_stream", "slice-events", bytes([0x18]) + (json.dumps(slice_event) + "\n").encode())
    node_list = {"apiVersion": "v1", "kind": "NodeList", "metadata": {"resourceVersion": "3", "continue": "c1"}, "items": []}
    node_event = {"type": "MODIFIED", "object": {"metadata": {"name": "node-a", "resourceVersion": "4"},
                                                 "spec": {"podCIDRs": ["10.1.0.0/24"]}}}
    write("watch_stream", "node-list-and-events",
          bytes([0x23]) + json.dumps(node_list).encode() + b"\0" + (json.dumps(node_event) + "\n").encode())

    # iptables restore/save text; the tracer's seeds end with a packet (4 bytes address, 4 bytes
    # port, 1 byte selector, taken from the end by FuzzedDataProvider).
    rules = [("trace-packet", golden("trace/upstream-trace-packet", "rules.txt"))]
    rules += [(c.split("/")[1], golden(c, "expected.txt")) for c in GOLDEN_CASES[:4]]
    rules.append(("save-counters", "# Generated by iptables-save v1.8.9\n*nat\n:PREROUTING ACCEPT [3:180]\n"
                  ":KUBE-SERVICES - [0:0]\n:KUBE-SVC-X - [0:0]\n:KUBE-SEP-A - [0:0]\n"
                  "[4:240] -A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
                  "-A KUBE-SERVICES -d 172.30.0.41/32 -p tcp -m comment --comment \"ns1/svc1:p80 cluster IP\" "
                  "-m tcp --dport 80 -j KUBE-SVC-X\n"
                  "-A KUBE-SVC-X -m comment --comment ns1/svc1:p80 -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-A\n"
                  "-A KUBE-SVC-X -g KUBE-SEP-A\n"
                  "-A KUBE-SEP-A -s 10.180.0.1/32 -j MARK --set-xmark 0x4000/0x4000\n"
                  "-A KUBE-SEP-A -p tcp -m tcp -j DNAT --to-destination 10.180.0.1:80\nCOMMIT\n"
                  "*filter\n:INPUT ACCEPT [0:0]\n:KUBE-FIREWALL - [0:0]\n-A INPUT -j KUBE-FIREWALL\n"
                  "-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment \"block incoming localnet connections\" "
                  "-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP\n-X KUBE-OLD\nCOMMIT\n"))
    for name, text in rules:
        write("restore_text", name + ".txt", text)
        write("iptables_trace", name, text.encode() + struct.pack("<BHI", 0, 80, 0xac1e0029))


if __name__ == "__main__":
    main()
