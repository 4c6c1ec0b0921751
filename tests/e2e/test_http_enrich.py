#!/usr/bin/env python3
"""End-to-end tests of http-request calling an HR system back (issue 19): `auth:` (bearer,
basic from a file: secret relative to the workflow file, a header of its own), a 429 with
Retry-After waited out without using up retry.attempts, an answer over max_response failing the
step, and the secrets found nowhere weir writes: not in `weir show --json`, not in its log, not
in the journal's bytes. The real `weir run` and build/graphsim (weir signs in to Graph before it
runs anything), and a small HR API stand-in on 127.0.0.1 (weir.yaml http.allow lets the call
through the SSRF guard).

usage: test_http_enrich.py WEIR_BINARY GRAPHSIM_BINARY SOURCE_DIR
"""
import base64
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

TOKEN = "hr-bearer-token-5f1e2d3c4b"          # env:HR_API_TOKEN
BASIC = "bamboo-api-key-9a8b7c6d5e:x"         # file:secrets/bamboo.key (BambooHR's APIKEY:x)
BASIC_B64 = base64.b64encode(BASIC.encode()).decode()
APIKEY = "x-api-key-value-13579-2468"         # env:HR_API_KEY
SECRETS = (TOKEN, BASIC, BASIC.split(":")[0], BASIC_B64, APIKEY)
THROTTLED = 2                                  # 429s before /throttled answers
EMAIL = "adele.vance@contoso.onmicrosoft.com"


class Standin:
    """The HR API: /bearer/..., /basic/..., /apikey/... answer an employee with the right
    credential and 401 otherwise; /throttled/... answers 429 (Retry-After: 1) THROTTLED times
    first; /big answers 64 KiB; /echo answers 401 repeating the Authorization it got (a careless
    service); POST /record keeps what it got."""

    def __init__(self):
        rec = self
        self.lock = threading.Lock()
        self.seen = []       # (method, path, Authorization, X-API-Key)
        self.recorded = []   # POST /record bodies
        self.throttled = 0
        self.big_cut = False  # weir hung up before /big's answer was sent whole

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def answer(self, status, body, headers=()):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers:
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(data)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            def big(self):
                """16 MiB in 64 KiB pieces: more than the socket buffers hold, so weir's
                hanging up shows as an error here."""
                piece = b"x" * 65536
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(256 * len(piece)))
                self.end_headers()
                try:
                    for _ in range(256):
                        self.wfile.write(piece)
                except (BrokenPipeError, ConnectionResetError):
                    with rec.lock:
                        rec.big_cut = True
                    self.close_connection = True

            def handle(self):
                try:
                    super().handle()
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self):
                auth = self.headers.get("Authorization")
                key = self.headers.get("X-API-Key")
                with rec.lock:
                    rec.seen.append(("GET", self.path, auth, key))
                employee = {"id": "42", "workEmail": EMAIL, "firstName": "Adele"}
                if self.path.startswith("/bearer/"):
                    ok = auth == "Bearer " + TOKEN
                elif self.path.startswith("/basic/"):
                    ok = auth == "Basic " + BASIC_B64
                elif self.path.startswith("/apikey/"):
                    ok = key == APIKEY and auth is None
                elif self.path.startswith("/throttled/"):
                    ok = auth == "Bearer " + TOKEN
                    with rec.lock:
                        rec.throttled += 1
                        if ok and rec.throttled <= THROTTLED:
                            return self.answer(429, {"error": "slow down"},
                                               [("Retry-After", "1")])
                elif self.path == "/big":
                    return self.big()
                elif self.path == "/echo":
                    return self.answer(401, {"error": "bad credential", "got": auth})
                else:
                    return self.answer(404, {"error": "no such path"})
                if ok:
                    self.answer(200, employee)
                else:
                    self.answer(401, {"error": "unauthorized"})

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with rec.lock:
                    rec.seen.append(("POST", self.path, self.headers.get("Authorization"), None))
                    rec.recorded.append(json.loads(body))
                self.answer(200, {"ok": True})

            def log_message(self, fmt, *args):
                pass

        self.server, self.port = harness.serve(Handler)
        self.base = "http://127.0.0.1:%d" % self.port

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


ENRICH = """
name: enrich
trigger:
  webhook: { path: /hooks/enrich }
retry: { attempts: 1, initial: 100ms, max: 1s, throttle_limit: 1m }
steps:
  - id: emp
    action: http-request
    url: "@API@/bearer/employees/{{ event.id }}"
    auth: { type: bearer, secret: env:HR_API_TOKEN }
  - id: basic
    action: http-request
    url: "@API@/basic/employees/{{ event.id }}"
    auth: { type: basic, secret: file:secrets/bamboo.key }
  - id: key
    action: http-request
    url: "@API@/apikey/employees/{{ event.id }}"
    auth: { type: header, header: X-API-Key, secret: env:HR_API_KEY }
  - id: slow
    action: http-request
    url: "@API@/throttled/employees/{{ event.id }}"
    auth: { type: bearer, secret: env:HR_API_TOKEN }
  - id: record
    action: http-request
    url: "@API@/record"
    body:
      email: "{{ steps.emp.body.workEmail }}"
      basic: "{{ steps.basic.body.workEmail }}"
      key: "{{ steps.key.body.firstName }}"
      slow: "{{ steps.slow.body.workEmail }}"
      status: "{{ steps.emp.status }}"
"""

BIG = """
name: big
trigger:
  webhook: { path: /hooks/big }
retry: { attempts: 3, initial: 100ms, max: 1s }
steps:
  - id: big
    action: http-request
    url: "@API@/big"
    max_response: 16KiB
"""

ECHO = """
name: echo
trigger:
  webhook: { path: /hooks/echo }
retry: { attempts: 1 }
steps:
  - id: echo
    action: http-request
    url: "@API@/echo"
    auth: { type: bearer, secret: env:HR_API_TOKEN }
"""

UNSET = """
name: unset
trigger:
  webhook: { path: /hooks/unset }
retry: { attempts: 1 }
steps:
  - id: unset
    action: http-request
    url: "@API@/bearer/employees/1"
    auth: { type: bearer, secret: env:HR_NOT_SET }
"""


def cli(root, *args, env=None):
    return subprocess.run([harness.WEIR] + list(args), cwd=root, capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})), timeout=60)


def post(w, path, body):
    status, answer = w.post(path, body, {"webhook-id": harness.new_msg_id()})
    assert status in (200, 202), (status, answer)


class HttpEnrichTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.api = Standin()
        cls.sim = harness.Sim()
        wfs = {name: text.replace("@API@", cls.api.base) for name, text in
               (("enrich.yaml", ENRICH), ("big.yaml", BIG), ("echo.yaml", ECHO),
                ("unset.yaml", UNSET))}
        cls.root = harness.setup_root(cls.sim, wfs, prefix="weir-enrich-",
                                      allow=["127.0.0.1/32"])
        # file: secrets resolve against the workflow file's directory, not weir's
        secrets = os.path.join(cls.root, "workflows", "secrets")
        os.makedirs(secrets)
        key = os.path.join(secrets, "bamboo.key")
        with open(key, "w") as f:
            f.write(BASIC + "\n")
        os.chmod(key, 0o600)
        cls.env = dict(harness.GRAPH_ENV, HR_API_TOKEN=TOKEN, HR_API_KEY=APIKEY)
        cls.w = harness.Weir(cls.root, env=cls.env)

    @classmethod
    def tearDownClass(cls):
        cls.w.stop()
        cls.sim.stop()
        cls.api.stop()
        shutil.rmtree(cls.root)

    def show(self, run_id):
        out = cli(self.root, "show", "-c", "weir.yaml", "--json", run_id, env=self.env)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout

    def assert_no_secret(self, what, text):
        for s in SECRETS:
            self.assertNotIn(s, text, "%s holds a secret" % what)

    def journal_bytes(self):
        data = b""
        var = os.path.join(self.root, "var")
        for name in os.listdir(var):  # weir.db and its -wal: every byte written
            with open(os.path.join(var, name), "rb") as f:
                data += f.read()
        return data

    def test_1_enrich(self):
        """A webhook run reads the employee with each kind of credential, is throttled twice
        by the service (429, Retry-After: 1) with retry.attempts: 1 and still succeeds, and a
        later step uses steps.emp.body.workEmail."""
        mark = self.w.mark()
        started = time.time()
        post(self.w, "/hooks/enrich", {"id": "42"})
        # While waiting, the step says who throttles it and why it waits.
        rs = harness.wait_runs(self.root, "workflow = 'enrich' AND status = 'retrying'")
        c = harness.journal(self.root)
        err = c.execute("SELECT error FROM steps WHERE run_id = ? AND status = 'retrying'",
                        (rs[0][0],)).fetchone()[0]
        c.close()
        self.assertIn("throttled by %s for" % self.api.base, err)
        self.assertIn("not counted against retry.attempts", err)
        self.assertIn("answered 429 (Retry-After: 1)", err)
        self.w.wait_log(r"step throttled by http://127\.0\.0\.1:%d; waiting" % self.api.port,
                        start=mark)
        rs = harness.wait_final(self.root, 1, timeout=60)
        run = [r for r in rs if r[1] == "enrich"][0]
        self.assertEqual(run[2], "succeeded", run)
        self.assertGreaterEqual(time.time() - started, THROTTLED * 1.0)
        c = harness.journal(self.root)
        attempts = c.execute("SELECT s.attempts FROM steps s WHERE s.run_id = ? AND "
                             "s.step_id = 'slow'", (run[0],)).fetchone()[0]
        c.close()
        self.assertEqual(attempts, 1)  # the throttled ones did not count
        with self.api.lock:
            seen = list(self.api.seen)
            recorded = list(self.api.recorded)
            throttled = self.api.throttled
        self.assertEqual(throttled, THROTTLED + 1)
        self.assertIn(("GET", "/bearer/employees/42", "Bearer " + TOKEN, None), seen)
        self.assertIn(("GET", "/basic/employees/42", "Basic " + BASIC_B64, None), seen)
        self.assertIn(("GET", "/apikey/employees/42", None, APIKEY), seen)
        self.assertIn(("POST", "/record", None, None), seen)  # no credential where none asked
        self.assertEqual(recorded, [{"email": EMAIL, "basic": EMAIL, "key": "Adele",
                                     "slow": EMAIL, "status": 200}])

        shown = self.show(run[0])
        self.assertIn("env:HR_API_TOKEN", shown)  # the reference is kept, never the value
        self.assertIn("file:secrets/bamboo.key", shown)
        self.assert_no_secret("weir show --json", shown)

    def test_2_oversize(self):
        """An answer over max_response fails the step at once (not retried), naming the limit;
        weir stops reading it."""
        post(self.w, "/hooks/big", {"n": 1})
        rs = harness.wait_runs(self.root, "workflow = 'big' AND status = 'failed'", timeout=30)
        self.assertIn("GET %s answered more than 16KiB (max_response)" % self.api.base, rs[0][3])
        c = harness.journal(self.root)
        attempts = c.execute("SELECT attempts FROM steps WHERE run_id = ?",
                             (rs[0][0],)).fetchone()[0]
        c.close()
        self.assertEqual(attempts, 1)
        with self.api.lock:
            self.assertEqual(sum(1 for s in self.api.seen if s[1] == "/big"), 1)
        harness.wait_for("the /big answer cut short", lambda: self.api.big_cut, timeout=10)

    def test_3_echoed_and_unset(self):
        """A service that repeats the credential in its 401: the error shows the mask, never
        the value. A secret that is not set names the reference."""
        post(self.w, "/hooks/echo", {"n": 1})
        post(self.w, "/hooks/unset", {"n": 1})
        rs = harness.wait_runs(self.root, "workflow = 'echo' AND status = 'failed'")
        self.assertIn("answered 401", rs[0][3])
        self.assertIn("[redacted]", rs[0][3])
        self.assert_no_secret("the echo run's error", rs[0][3])
        rs = harness.wait_runs(self.root, "workflow = 'unset' AND status = 'failed'")
        self.assertIn("http-request auth.secret: env:HR_NOT_SET: the environment variable "
                      "HR_NOT_SET is not set", rs[0][3])
        with self.api.lock:  # nothing was sent without the credential
            self.assertFalse([s for s in self.api.seen if s[1] == "/bearer/employees/1"])

    def test_4_dry_run(self):
        """A dry run calls nobody and resolves no secret (none is set for it)."""
        with self.api.lock:
            before = len(self.api.seen)
        ev = os.path.join(self.root, "event.json")
        with open(ev, "w") as f:
            f.write('{"id": "7"}')
        out = cli(self.root, "fire", "enrich", "-c", "weir.yaml", "--event", ev, "--dry-run",
                  env=harness.GRAPH_ENV)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("/bearer/employees/7", out.stdout + out.stderr)
        self.assert_no_secret("the dry run", out.stdout + out.stderr)
        with self.api.lock:
            self.assertEqual(len(self.api.seen), before)

    def test_9_nowhere(self):
        """After every run: no secret in weir's log nor in the journal's bytes."""
        with open(os.path.join(self.root, "weir.log"), errors="replace") as f:
            self.assert_no_secret("weir's log", f.read())
        data = self.journal_bytes()
        for s in SECRETS:
            self.assertNotIn(s.encode(), data, "the journal holds a secret")
        self.assertIn(b"env:HR_API_TOKEN", data)


BAD = """name: bad-auth
trigger:
  webhook: { path: /hooks/bad }
steps:
  - action: http-request
    url: https://hr.example.com/api
    auth: { type: token, secret: env:X }
  - action: http-request
    url: https://hr.example.com/api
    auth: { type: header, secret: env:X }
  - action: http-request
    url: https://hr.example.com/api
    max_response: 1TiB
  - action: http-request
    url: https://hr.example.com/api
    headers: { Authorization: "Bearer abc" }
    auth: { type: bearer, secret: env:X }
  - action: http-request
    url: https://hr.example.com/api
    auth: { type: basic, secret: env:X, header: X-Key }
"""


class ValidateTest(unittest.TestCase):
    def test_errors(self):
        d = tempfile.mkdtemp(prefix="weir-enrich-bad-")
        try:
            with open(os.path.join(d, "bad.yaml"), "w") as f:
                f.write(BAD)
            out = cli(d, "validate", "bad.yaml")
            self.assertNotEqual(out.returncode, 0)
            text = out.stdout + out.stderr
            for want in ("bad.yaml:7:19: steps[0].auth.type: unknown value 'token' (expected "
                         "one of: bearer, basic, header)",
                         "bad.yaml:10:11: steps[1].auth: auth.header is required with type "
                         "header",
                         "bad.yaml:13:19: steps[2].max_response: 1TiB is out of range 1B-16MiB",
                         "bad.yaml:16:16: steps[3].headers.Authorization: headers.Authorization "
                         "and auth: both set Authorization",
                         "bad.yaml:20:41: steps[4].auth.header: only for type header (basic "
                         "sends Authorization)"):
                self.assertIn(want, text)
        finally:
            shutil.rmtree(d)


if __name__ == "__main__":
    harness.main("WEIR", "GRAPHSIM", "SOURCE")
