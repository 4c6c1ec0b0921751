#!/usr/bin/env python3
"""End-to-end tests of the http-request SSRF guard: the real `weir run`, the real build/graphsim
(weir signs in to Graph before it runs anything) and small recording HTTP listeners on loopback.

Every way of naming an internal address — loopback in each numeric spelling, a name that
resolves to it, IPv4 inside IPv6, the cloud metadata address, private and unique-local ranges —
must fail its step with the refusal and its reason, with no connection reaching any listener;
non-http schemes are refused at load (literal) and at run time (template). With weir.yaml
`http.allow: [127.0.0.1/32]` the same listener gets the request, while redirects are never
followed and proxies from the environment are ignored.

usage: test_ssrf.py WEIR_BINARY GRAPHSIM_BINARY SOURCE_DIR
"""
import http.server
import json
import os
import shutil
import socket
import socketserver
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

HINT = "add it to http.allow in weir.yaml to permit"


class Listener:
    """A loopback HTTP server that counts every accepted connection and records requests.

    /redirect-away answers 302 to `away`; /redirect-here answers 302 to its own /landing;
    everything else answers 200 with a small JSON body.
    """

    def __init__(self, host="127.0.0.1", away=None):
        rec = self
        self.connections = 0
        self.paths = []
        self.lock = threading.Lock()
        self.away = away

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                with rec.lock:
                    rec.paths.append(self.path)
                if self.path == "/redirect-away":
                    self.send_response(302)
                    self.send_header("Location", rec.away)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.path == "/redirect-here":
                    self.send_response(302)
                    self.send_header("Location", "/landing")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = json.dumps({"ok": True, "path": self.path}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

            def log_message(self, fmt, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
            daemon_threads = True

            def server_bind(self):
                # HTTPServer's own looks its name up (getfqdn): a DNS wait on some hosts.
                socketserver.TCPServer.server_bind(self)
                self.server_name, self.server_port = host, self.server_address[1]

            def verify_request(self, request, client_address):
                with rec.lock:
                    rec.connections += 1
                return True

        self.server = Server((host, 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def hits(self):
        with self.lock:
            return self.connections, list(self.paths)

    def reset(self):
        with self.lock:
            self.connections = 0
            self.paths = []

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def setup_root(sim, workflows, **config):
    """A root with both listeners and graphsim for Graph (see harness.write_config)."""
    return harness.setup_root(sim, workflows, prefix="weir-ssrf-", admin="127.0.0.1:0", **config)


def post(w, path, body):
    """POSTs body to weir's path with a webhook-id of its own: the status."""
    return w.post(path, body, {"webhook-id": harness.new_msg_id()})[0]


def wait_steps(root, nruns, timeout=60):
    """Waits until nruns runs are final; returns {(workflow, url): (status, error, output)}."""
    db = os.path.join(root, "var", "weir.db")
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(db):
            c = harness.journal(root)
            runs = c.execute("SELECT status FROM runs").fetchall()
            if len(runs) >= nruns and all(r[0] in harness.FINAL for r in runs):
                rows = c.execute("SELECT r.workflow, s.args, s.status, s.error, s.output "
                                 "FROM runs r JOIN steps s ON s.run_id = r.id").fetchall()
                c.close()
                out = {}
                for wf, args, status, error, output in rows:
                    url = json.loads(args)["url"] if args else None
                    out[(wf, url)] = (status, error, json.loads(output) if output else None)
                return out
            c.close()
        time.sleep(0.1)
    raise AssertionError("runs not finished in %ss" % timeout)


TEMPLATED = """
name: templated
trigger:
  webhook: { path: /hooks/templated }
steps:
  - action: http-request
    url: "{{ event.url }}"
"""


def literal_workflow(urls):
    steps = "".join("  - action: http-request\n    url: '%s'\n    continue_on_error: true\n" % u
                    for u in urls)
    return "name: literal\ntrigger:\n  webhook: { path: /hooks/literal }\nsteps:\n" + steps


class SsrfTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = harness.Sim()
        cls.other = Listener("127.0.0.2")  # refused even when 127.0.0.1/32 is allowed
        cls.lo = Listener("127.0.0.1", away="http://127.0.0.2:%d/landing" % cls.other.port)
        try:
            cls.lo6 = Listener("::1")
        except OSError:
            cls.lo6 = None  # no IPv6 here: [::1] URLs use the IPv4 listener's port
        cls.proxy = Listener("127.0.0.1")  # what http_proxy points at in the environment

    @classmethod
    def tearDownClass(cls):
        for listener in (cls.lo, cls.lo6, cls.other, cls.proxy):
            if listener:
                listener.stop()
        cls.sim.stop()

    def setUp(self):
        for listener in (self.lo, self.lo6, self.other, self.proxy):
            if listener:
                listener.reset()

    def assertNoHits(self, listener):
        if listener:
            self.assertEqual(listener.hits(), (0, []))

    def refused_table(self):
        p = self.lo.port
        p6 = self.lo6.port if self.lo6 else p
        return [
            ("http://127.0.0.1:%d/plain" % p, "127.0.0.1:%d (loopback" % p),
            ("http://localhost:%d/name" % p, "(loopback"),
            ("http://127.1:%d/short" % p, "127.0.0.1:%d (loopback" % p),
            ("http://2130706433:%d/decimal" % p, "127.0.0.1:%d (loopback" % p),
            ("http://0x7f000001:%d/hex" % p, "127.0.0.1:%d (loopback" % p),
            ("http://0x7f.0.0.1:%d/hex-dotted" % p, "127.0.0.1:%d (loopback" % p),
            ("http://0x7f.1:%d/hex-short" % p, "127.0.0.1:%d (loopback" % p),
            ("http://0177.0.0.1:%d/octal" % p, "127.0.0.1:%d (loopback" % p),
            ("http://127.000.000.001:%d/zeros" % p, "(loopback"),
            ("http://evil.example@127.0.0.1:%d/userinfo" % p, "127.0.0.1:%d (loopback" % p),
            ("https://127.0.0.1:%d/tls" % p, "127.0.0.1:%d (loopback" % p),
            ("http://[::1]:%d/v6" % p6, "[::1]:%d (loopback" % p6),
            ("http://[::ffff:127.0.0.1]:%d/mapped" % p, "(loopback"),
            ("http://[::ffff:7f00:1]:%d/mapped-hex" % p, "(loopback"),
            ("http://0.0.0.0:%d/any" % p, "this network"),
            ("http://0:%d/zero" % p, "this network"),
            ("http://[::]:%d/any6" % p6, "unspecified"),
            ("http://169.254.169.254/latest/meta-data/", "169.254.169.254:80 (link-local: the "
                                                        "cloud metadata service"),
            ("http://10.0.0.1:%d/rfc1918" % p, "10.0.0.1:%d (private network" % p),
            ("http://192.168.1.1/", "192.168.1.1:80 (private network"),
            ("http://172.16.0.1/", "172.16.0.1:80 (private network"),
            ("http://100.64.0.1/", "carrier-grade NAT"),
            ("http://[fd00::1]/", "[fd00::1]:80 (unique local"),
            ("http://[fe80::1]/", "(link-local"),
        ]

    def test_refused_without_allow(self):
        table = self.refused_table()
        schemes = ["file:///etc/passwd", "gopher://127.0.0.1:%d/_GET%%20/" % self.lo.port,
                   "ftp://127.0.0.1:%d/" % self.lo.port, "dict://127.0.0.1:%d/" % self.lo.port]
        root = setup_root(self.sim, {"templated.yaml": TEMPLATED,
                                     "literal.yaml": literal_workflow([u for u, _ in table])})
        w = harness.Weir(root, env=harness.GRAPH_ENV)
        try:
            for url in [u for u, _ in table] + schemes:
                self.assertEqual(post(w, "/hooks/templated", {"url": url}), 202)
            self.assertEqual(post(w, "/hooks/literal", {}), 202)
            steps = wait_steps(root, len(table) + len(schemes) + 1)
        finally:
            self.assertEqual(w.stop(), 0)
        try:
            for wf in ("templated", "literal"):
                for url, why in table:
                    status, error, _ = steps[(wf, url)]
                    self.assertEqual(status, "failed", (wf, url))
                    self.assertIn("refused to connect to ", error, (wf, url))
                    self.assertIn(why, error, (wf, url))
                    self.assertIn(HINT, error, (wf, url))
                    self.assertNotIn("evil.example", error)  # user info never shows
            for url in schemes:
                status, error, _ = steps[("templated", url)]
                self.assertEqual(status, "failed", url)
                self.assertIn("must be an http:// or https:// URL", error, url)
            # Not one connection reached a listener, not even an accepted-then-dropped one.
            for listener in (self.lo, self.lo6, self.other, self.proxy):
                self.assertNoHits(listener)
        finally:
            shutil.rmtree(root)

    def test_scheme_refused_at_load(self):
        root = setup_root(self.sim, {})
        try:
            for i, url in enumerate(["file:///etc/passwd", "gopher://127.0.0.1:70/_x",
                                     "ftp://example.com/"]):
                path = os.path.join(root, "workflows", "scheme%d.yaml" % i)
                with open(path, "w") as f:
                    f.write("name: scheme%d\ntrigger:\n  webhook: { path: /hooks/s%d }\n"
                            "steps:\n  - action: http-request\n    url: '%s'\n" % (i, i, url))
                out = subprocess.run([harness.WEIR, "validate", path], cwd=root,
                                     capture_output=True, text=True, timeout=30)
                self.assertNotEqual(out.returncode, 0, out.stdout)
                self.assertIn("scheme%d.yaml:6:" % i, out.stderr + out.stdout)
                self.assertIn("is not an http:// or https:// URL", out.stderr + out.stdout)
        finally:
            shutil.rmtree(root)

    def test_bad_allow_entry_names_file_line(self):
        root = setup_root(self.sim, {"templated.yaml": TEMPLATED},
                          allow=["127.0.0.1/32", "10.0.0.1/8"])
        try:
            out = subprocess.run([harness.WEIR, "validate", "-c", "weir.yaml"], cwd=root,
                                 capture_output=True, text=True, timeout=30)
            text = out.stderr + out.stdout
            self.assertNotEqual(out.returncode, 0, text)
            self.assertRegex(text, r"weir\.yaml:11:\d+: http\.allow\[1\]: '10\.0\.0\.1/8' has "
                                   r"host bits set below /8; did you mean 10\.0\.0\.0/8\?")
        finally:
            shutil.rmtree(root)

    def test_allowed_loopback_and_no_redirects(self):
        p = self.lo.port
        p6 = self.lo6.port if self.lo6 else p
        allowed = ["http://127.0.0.1:%d/ok" % p, "http://127.1:%d/ok-short" % p,
                   "http://2130706433:%d/ok-decimal" % p, "http://localhost:%d/ok-name" % p,
                   "http://[::ffff:127.0.0.1]:%d/ok-mapped" % p]
        refused = [("http://127.0.0.2:%d/other" % self.other.port, "127.0.0.2:%d (loopback"
                    % self.other.port),
                   ("http://[::1]:%d/v6" % p6, "[::1]:%d (loopback" % p6),
                   ("http://169.254.169.254/latest/meta-data/", "cloud metadata service")]
        away = "http://127.0.0.1:%d/redirect-away" % p
        here = "http://127.0.0.1:%d/redirect-here" % p
        redirects = """
name: redirects
trigger:
  webhook: { path: /hooks/redirects }
steps:
  - id: away
    action: http-request
    url: '%s'
    expect: 302
  - id: here
    action: http-request
    url: '%s'
""" % (away, here)
        # Graph is reached by name, which no_proxy exempts: the Graph client may use a proxy.
        root = setup_root(self.sim, {"templated.yaml": TEMPLATED, "redirects.yaml": redirects},
                          allow=["127.0.0.1/32"], graph_host="localhost")
        # A proxy from the environment must not be used: it would see the request, and with a
        # proxy the guard could only judge the proxy's address.
        proxy = "http://127.0.0.1:%d" % self.proxy.port
        env = dict(harness.GRAPH_ENV, http_proxy=proxy, HTTP_PROXY=proxy, https_proxy=proxy,
                   ALL_PROXY=proxy, all_proxy=proxy, no_proxy="localhost",
                   NO_PROXY="localhost")
        w = harness.Weir(root, env=env)
        try:
            for url in allowed + [u for u, _ in refused]:
                self.assertEqual(post(w, "/hooks/templated", {"url": url}), 202)
            self.assertEqual(post(w, "/hooks/redirects", {}), 202)
            steps = wait_steps(root, len(allowed) + len(refused) + 1)
        finally:
            self.assertEqual(w.stop(), 0)
        try:
            for url in allowed:
                status, error, output = steps[("templated", url)]
                self.assertEqual(status, "succeeded", (url, error))
                self.assertEqual(output["status"], 200, url)
                self.assertEqual(output["body"]["path"], url[url.index("/", 8):])
            for url, why in refused:
                status, error, _ = steps[("templated", url)]
                self.assertEqual(status, "failed", url)
                self.assertIn(why, error, url)
                self.assertIn(HINT, error, url)
            # The 302 is the answer: expected here, so the step succeeds with it ...
            status, error, output = steps[("redirects", away)]
            self.assertEqual(status, "succeeded", error)
            self.assertEqual(output["status"], 302)
            # ... and an unexpected status otherwise, even when the target would be allowed.
            status, error, _ = steps[("redirects", here)]
            self.assertEqual(status, "failed")
            self.assertIn("answered 302, expected 2xx", error)
            conns, paths = self.lo.hits()
            self.assertEqual(sorted(paths), sorted([u[u.index("/", 8):] for u in allowed] +
                                                   ["/redirect-away", "/redirect-here"]))
            self.assertEqual(conns, len(paths))
            self.assertNotIn("/landing", paths)  # the redirect to itself was not followed
            for listener in (self.other, self.lo6, self.proxy):
                self.assertNoHits(listener)
        finally:
            shutil.rmtree(root)


if __name__ == "__main__":
    harness.main("WEIR", "GRAPHSIM", "SOURCE")
