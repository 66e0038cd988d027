#!/usr/bin/python3
"""The test API server against a real Kubernetes client: Debian's python3-kubernetes.

Checks that kproxy_test_apiserver speaks the protocol as that client reads it, not only as our
own reflector does: paged lists with continue tokens, label and field selectors, typed objects
that deserialize into the client's models, watches with bookmarks, 410 Gone surfaced as the
client surfaces it (ApiException with status 410, after its one automatic retry), 401, and an
expired continue token. Over HTTPS with a CA made here with the openssl CLI.

Usage: python_client_test.py PATH/TO/kproxy_test_apiserver
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

try:
    import kubernetes
    from kubernetes import client, watch
except ImportError:  # pragma: no cover
    print("SKIPPED: python3-kubernetes is not installed (apt-get install python3-kubernetes)")
    sys.exit(1 if os.environ.get("CI") == "true" else 77)

SERVER = None
TOKEN = "test-token"
SELECTOR = "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless"


def service(name, ip, ns="default", labels=None, port=80):
    meta = {"name": name, "namespace": ns}
    if labels:
        meta["labels"] = labels
    return {"kind": "Service", "apiVersion": "v1", "metadata": meta,
            "spec": {"type": "ClusterIP", "clusterIP": ip, "clusterIPs": [ip],
                     "ports": [{"name": "http", "protocol": "TCP", "port": port, "targetPort": port}]}}


def node(name, ip):
    return {"kind": "Node", "apiVersion": "v1", "metadata": {"name": name},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}]}}


def endpoint_slice(name, service_name, ip):
    return {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
            "metadata": {"name": name, "namespace": "default",
                         "labels": {"kubernetes.io/service-name": service_name}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}}],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}


class Server:
    def __init__(self, binary, workdir):
        self.workdir = workdir
        self.ca = os.path.join(workdir, "ca.crt")
        key = os.path.join(workdir, "server.key")
        crt = os.path.join(workdir, "server.crt")
        run = lambda *args: subprocess.run(args, check=True, capture_output=True, cwd=workdir)
        run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
            "-keyout", "ca.key", "-out", "ca.crt")
        run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", key,
            "-out", "server.csr")
        with open(os.path.join(workdir, "san.ext"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "1", "-extfile", "san.ext", "-out", crt)
        port_file = os.path.join(workdir, "port")
        self.proc = subprocess.Popen([binary, "--port-file", port_file, "--tls-cert", crt, "--tls-key", key,
                                      "--token", TOKEN, "--bookmark-interval-ms", "200"],
                                     stdout=subprocess.DEVNULL)
        for _ in range(100):
            if os.path.exists(port_file):
                break
            time.sleep(0.05)
        with open(port_file) as f:
            self.port = int(f.read())
        self.url = "https://127.0.0.1:%d" % self.port

    def control(self, method, path, body=None):
        import ssl
        ctx = ssl.create_default_context(cafile=self.ca)
        data = json.dumps(body).encode() if body is not None else b""
        req = urllib.request.Request(self.url + "/__control/" + path, data=data, method=method)
        with urllib.request.urlopen(req, context=ctx) as resp:
            text = resp.read().decode()
        return json.loads(text) if text.startswith("{") else text

    def apply(self, obj):
        return int(self.control("POST", "objects", obj)["resourceVersion"])

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def api_client(token=TOKEN):
    c = client.Configuration()
    c.host = SERVER.url
    c.ssl_ca_cert = SERVER.ca
    c.api_key = {"authorization": token}
    c.api_key_prefix = {"authorization": "Bearer"}
    return client.ApiClient(c)


class PythonClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        SERVER.apply({"kind": "List", "items": [
            service("a", "10.96.0.1"), service("b", "10.96.0.2"), service("c", "10.96.0.3", ns="kube-system"),
            service("d", "10.96.0.4"),
            service("headless", "None", labels={"service.kubernetes.io/headless": ""}),
            service("other-proxy", "10.96.0.6", labels={"service.kubernetes.io/service-proxy-name": "x"}),
            node("node-1", "172.18.0.2"), node("node-2", "172.18.0.3"),
            endpoint_slice("a-1", "a", "10.244.0.5")]})

    def test_paged_list_with_selector(self):
        v1 = client.CoreV1Api(api_client())
        names, versions, pages = [], set(), 0
        cont = None
        while True:
            page = v1.list_service_for_all_namespaces(label_selector=SELECTOR, limit=2, _continue=cont)
            pages += 1
            versions.add(page.metadata.resource_version)
            for item in page.items:
                self.assertIsInstance(item, client.V1Service)
                names.append("%s/%s" % (item.metadata.namespace, item.metadata.name))
            cont = page.metadata._continue
            if not cont:
                break
        self.assertGreaterEqual(pages, 2)
        self.assertEqual(len(versions), 1, "every page of one list has the list's resourceVersion")
        for expected in ["default/a", "default/b", "kube-system/c", "default/d"]:
            self.assertIn(expected, names)
        self.assertNotIn("default/headless", names)
        self.assertNotIn("default/other-proxy", names)

    def test_field_selectors(self):
        v1 = client.CoreV1Api(api_client())
        nodes = v1.list_node(field_selector="metadata.name=node-1")
        self.assertEqual([n.metadata.name for n in nodes.items], ["node-1"])
        self.assertEqual(nodes.items[0].status.addresses[0].address, "172.18.0.2")
        services = v1.list_service_for_all_namespaces(field_selector="spec.clusterIP!=None")
        self.assertNotIn("headless", [s.metadata.name for s in services.items])
        with self.assertRaises(client.exceptions.ApiException) as e:
            v1.list_node(field_selector="spec.nope=1")
        self.assertEqual(e.exception.status, 400)

    def test_endpoint_slices_deserialize(self):
        discovery = client.DiscoveryV1Api(api_client())
        slices = discovery.list_endpoint_slice_for_all_namespaces(label_selector=SELECTOR)
        self.assertEqual([s.metadata.name for s in slices.items], ["a-1"])
        self.assertEqual(slices.items[0].address_type, "IPv4")
        self.assertEqual(slices.items[0].endpoints[0].addresses, ["10.244.0.5"])
        self.assertTrue(slices.items[0].endpoints[0].conditions.ready)

    def test_watch_with_bookmarks(self):
        v1 = client.CoreV1Api(api_client())
        rv = v1.list_service_for_all_namespaces(label_selector=SELECTOR).metadata.resource_version

        def change():
            time.sleep(0.3)
            SERVER.apply(service("w", "10.96.1.1"))
            SERVER.apply(service("w", "10.96.1.2"))
            SERVER.control("DELETE", "objects?kind=Service&namespace=default&name=w")
            # leaves the selection: a DELETED for this watch
            SERVER.apply(service("a", "10.96.0.1", labels={"service.kubernetes.io/service-proxy-name": "x"}))
            SERVER.apply(service("a", "10.96.0.1"))

        t = threading.Thread(target=change)
        t.start()
        w = watch.Watch()
        seen, bookmarks = [], []
        for event in w.stream(v1.list_service_for_all_namespaces, label_selector=SELECTOR, resource_version=rv,
                              allow_watch_bookmarks=True, timeout_seconds=5):
            if event["type"] == "BOOKMARK":
                bookmarks.append(event["raw_object"]["metadata"]["resourceVersion"])
                if len(seen) >= 5:
                    w.stop()
                continue
            self.assertIsInstance(event["object"], client.V1Service)
            seen.append((event["type"], event["object"].metadata.name))
        t.join()
        self.assertEqual(seen, [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w"), ("DELETED", "a"), ("ADDED", "a")])
        self.assertTrue(bookmarks, "bookmarks arrive with allowWatchBookmarks")
        self.assertGreaterEqual(int(bookmarks[-1]), int(rv))

    def test_410_is_surfaced(self):
        v1 = client.CoreV1Api(api_client())
        old = v1.list_service_for_all_namespaces().metadata.resource_version
        SERVER.apply(service("x", "10.96.2.1"))
        SERVER.control("POST", "compact", {})
        # With timeout_seconds the client does not retry: the ERROR event becomes ApiException(410).
        with self.assertRaises(client.exceptions.ApiException) as e:
            for _ in watch.Watch().stream(v1.list_service_for_all_namespaces, resource_version=old, timeout_seconds=5):
                pass
        self.assertEqual(e.exception.status, 410)
        # Without it, the client retries once from the same version, then raises.
        before = SERVER.control("GET", "stats")["watches"]["services"]
        with self.assertRaises(client.exceptions.ApiException) as e:
            for _ in watch.Watch().stream(v1.list_service_for_all_namespaces, resource_version=old):
                pass
        self.assertEqual(e.exception.status, 410)
        self.assertEqual(SERVER.control("GET", "stats")["watches"]["services"] - before, 2)
        # The injected fault looks the same to the client.
        now = v1.list_service_for_all_namespaces().metadata.resource_version
        SERVER.control("POST", "fault", {"fault": "gone", "resource": "services"})
        with self.assertRaises(client.exceptions.ApiException) as e:
            for _ in watch.Watch().stream(v1.list_service_for_all_namespaces, resource_version=now, timeout_seconds=5):
                pass
        self.assertEqual(e.exception.status, 410)

    def test_401(self):
        v1 = client.CoreV1Api(api_client(token="wrong"))
        with self.assertRaises(client.exceptions.ApiException) as e:
            v1.list_node()
        self.assertEqual(e.exception.status, 401)
        self.assertEqual(json.loads(e.exception.body)["reason"], "Unauthorized")

    def test_expired_continue(self):
        v1 = client.CoreV1Api(api_client())
        page = v1.list_service_for_all_namespaces(limit=1)
        self.assertTrue(page.metadata._continue)
        SERVER.control("POST", "fault", {"fault": "expire-continue", "resource": "services"})
        with self.assertRaises(client.exceptions.ApiException) as e:
            v1.list_service_for_all_namespaces(limit=1, _continue=page.metadata._continue)
        self.assertEqual(e.exception.status, 410)
        self.assertEqual(json.loads(e.exception.body)["reason"], "Expired")


def main():
    global SERVER
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    binary = sys.argv.pop(1)
    workdir = tempfile.mkdtemp(prefix="kproxy-apiserver-py-")
    try:
        SERVER = Server(binary, workdir)
        try:
            print("python3-kubernetes", kubernetes.__version__, "against", SERVER.url)
            # warnings="ignore": the client leaves pooled sockets unclosed
            result = unittest.main(exit=False, verbosity=2, warnings="ignore").result
            return 0 if result.wasSuccessful() else 1
        finally:
            SERVER.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
