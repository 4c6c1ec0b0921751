"""harness — what the end-to-end tests in tests/e2e/ share: the real `weir run` and the real
build/graphsim as child processes on loopback ports, their configuration, signed webhooks and
the journal read back through SQLite. Python 3 stdlib only.

A test imports it with its own directory on sys.path and ends with
`harness.main("WEIR", "GRAPHSIM", "SOURCE")` (or `harness.parse_args(...)` then
`unittest.main(...)`), which takes its command-line arguments into the globals below.

- WEIR, GRAPHSIM, SOURCE: the weir binary, the graphsim binary, the source tree.
- parse_args(*names), main(*names): those arguments off sys.argv, then unittest.
- Sim(*flags): graphsim on a free port (.port), with .get(path), .post(path, body),
  .user(upn) and .stop().
- HR_KEY, HR_SECRET: the webhook key of the tests and its standard-webhooks secret
  (whsec_ + base64); whsec(key), signature(key, id, ts, body), signed_headers(body, ...),
  new_msg_id().
- SIM_SECRET, GRAPH_ENV (graphsim's client secret), SIGNED_ENV (that and HR_WEBHOOK_SECRET):
  environment for weir.
- write_config(root, workflows, ...), setup_root(sim, workflows, ...): a root with
  workflows/, scripts/ (a copy of the source tree's, when SOURCE is set) and a weir.yaml.
- Weir(root, args, env, admin, json_only): `weir run -c weir.yaml` in root, its webhook (and
  admin) port read from its log, the log kept in root/weir.log and in .lines; .post(),
  .signed_post(), .call() and .api() (admin), .wait_log(), .mark(), .rss_kb(), .stop(),
  .kill().
- FINAL, journal(root), runs(root, where), wait_final(root, n), wait_runs(root, where): the
  journal's runs.
- free_port(): a loopback port nothing listens on.
- faked(start): the environment that runs weir on a shifted clock (libfaketime).
- Sink(): a loopback HTTP server recording every request, for http-request steps to call.
- admin(w, method, path, body): an admin API call with a JSON body; metric(w, name): the sum of
  a /metrics family's samples.
"""
import atexit
import base64
import hashlib
import hmac
import http.client
import http.server
import json
import os
import re
import shutil
import signal
import socket
import socketserver
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

WEIR = GRAPHSIM = SOURCE = None
USAGE = {"WEIR": "WEIR_BINARY", "GRAPHSIM": "GRAPHSIM_BINARY", "SOURCE": "SOURCE_DIR"}

FINAL = ("succeeded", "failed", "succeeded_with_errors", "cancelled")

# graphsim's client secret (weir.yaml says env:WEIR_GRAPH_SECRET).
SIM_SECRET = "sim-secret"
GRAPH_ENV = {"WEIR_GRAPH_SECRET": SIM_SECRET}

# The examples' webhook secret (standard-webhooks: whsec_ + base64 of the key).
HR_KEY = b"e2e-hr-webhook-key-0123456789"


def whsec(key):
    """The standard-webhooks secret of a key (bytes)."""
    return "whsec_" + base64.b64encode(key).decode()


HR_SECRET = whsec(HR_KEY)
SIGNED_ENV = dict(GRAPH_ENV, HR_WEBHOOK_SECRET=HR_SECRET)


def parse_args(*names):
    """Takes the first command-line arguments off sys.argv, before unittest sees them, into the
    globals named ("WEIR", "GRAPHSIM", "SOURCE", in the order given) as absolute paths; exits
    with a usage line when one is missing."""
    if len(sys.argv) <= len(names):
        sys.exit("usage: %s %s" % (os.path.basename(sys.argv[0]),
                                   " ".join(USAGE[n] for n in names)))
    for name in names:
        globals()[name] = os.path.abspath(sys.argv.pop(1))


def main(*names):
    """parse_args(*names), then the calling script's tests."""
    parse_args(*names)
    unittest.main(module="__main__", verbosity=2)


def free_port():
    """A loopback TCP port that nothing listens on (as of now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def new_msg_id():
    return "msg_" + uuid.uuid4().hex


def signature(key, msg_id, ts, body):
    """The standard-webhooks signature ("v1,...") of body (bytes) under key (bytes)."""
    mac = hmac.new(key, ("%s.%s." % (msg_id, ts)).encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signed_headers(body, msg_id=None, key=HR_KEY, ts=None, ctype="application/json"):
    """webhook-id, webhook-timestamp (now unless ts), webhook-signature for body (bytes), and
    Content-Type unless ctype is None."""
    msg_id = msg_id or new_msg_id()
    ts = str(int(time.time()) if ts is None else ts)
    h = {"webhook-id": msg_id, "webhook-timestamp": ts,
         "webhook-signature": signature(key, msg_id, ts, body)}
    if ctype:
        h["Content-Type"] = ctype
    return h


def _body_bytes(body):
    """bytes as they are, str encoded, anything else as JSON."""
    if isinstance(body, bytes):
        return body
    return (body if isinstance(body, str) else json.dumps(body)).encode()


def _reap(proc):
    if proc.poll() is None:
        proc.kill()
        proc.wait()


class Sim:
    """build/graphsim on 127.0.0.1, seeded with tests/graphsim/seed.json; flags are added."""

    def __init__(self, *flags):
        self.proc = subprocess.Popen(
            [GRAPHSIM, "--listen", "127.0.0.1:0", "--seed",
             os.path.join(SOURCE, "tests/graphsim/seed.json")] + list(flags),
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        # A test that fails before its stop() must not leave a simulator behind.
        atexit.register(_reap, self.proc)
        line = self.proc.stdout.readline().decode()
        self.port = int(re.search(r":(\d+)", line).group(1))

    def get(self, path):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("GET", path)
        r = c.getresponse()
        body = json.loads(r.read())
        c.close()
        return body

    def post(self, path, body):
        """POSTs body (JSON) to a /_sim path; the parsed answer."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        c.close()
        if r.status >= 300:
            raise AssertionError("graphsim %s: %d %s" % (path, r.status, data))
        return json.loads(data) if data else None

    def user(self, upn):
        for u in self.get("/_sim/state")["users"]:
            if u["userPrincipalName"].lower() == upn.lower():
                return u
        return None

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=20)
        self.proc.stdout.close()


def write_config(root, workflows, sim=None, admin=None, allow=None, env_allow=(),
                 admin_token=None, limits=None, graph_host="127.0.0.1"):
    """Writes root/workflows/NAME for each {NAME: text}, copies the source
    tree's scripts/ to root/scripts and writes root/weir.yaml, line by line:

        listen: { webhook: 127.0.0.1:0[, admin: ADMIN] }
        workflows, state (./var/weir.db), graph (tenant, client_id, client_secret)
        graph.authority and graph.base_url at graph_host:sim.port    when sim
        http: allow: [ALLOW...]                                      when allow is not None
        lua: { env_allow: [...] }                                    when env_allow
        admin: { token: ADMIN_TOKEN }                                when admin_token
        limits: {...}                                                when limits
    """
    os.makedirs(os.path.join(root, "workflows"), exist_ok=True)
    scripts = os.path.join(root, "scripts")
    if SOURCE and not os.path.lexists(scripts):
        # copied, not linked: weir loads scripts only from under the directory of weir.yaml,
        # and a symbolic link counts where it leads
        shutil.copytree(os.path.join(SOURCE, "scripts"), scripts)
    for name, text in workflows.items():
        with open(os.path.join(root, "workflows", name), "w") as f:
            f.write(text)
    with open(os.path.join(root, "weir.yaml"), "w") as f:
        f.write("listen: { webhook: 127.0.0.1:0%s }\n" % (", admin: " + admin if admin else ""))
        f.write("workflows: ./workflows\nstate: ./var/weir.db\n"
                "graph:\n  tenant: contoso.onmicrosoft.com\n"
                "  client_id: 00000000-0000-0000-0000-000000000001\n"
                "  client_secret: env:WEIR_GRAPH_SECRET\n")
        if sim:
            f.write("  authority: http://%s:%d\n  base_url: http://%s:%d/v1.0\n"
                    % (graph_host, sim.port, graph_host, sim.port))
        if allow is not None:
            f.write("http:\n  allow: [%s]\n" % ", ".join("'%s'" % a for a in allow))
        if env_allow:
            f.write("lua: { env_allow: [%s] }\n" % ", ".join(env_allow))
        if admin_token:
            f.write("admin: { token: %s }\n" % admin_token)
        if limits:
            f.write("limits:\n" + "".join("  %s: %s\n" % kv for kv in limits.items()))


def setup_root(sim, workflows, prefix="weir-e2e-", **config):
    """A new temporary root (the caller removes it) with write_config(root, workflows, sim,
    **config) done."""
    root = tempfile.mkdtemp(prefix=prefix)
    write_config(root, workflows, sim, **config)
    return root


class Weir:
    """`weir run -c weir.yaml ARGS` in root, with env added to os.environ.

    Its webhook port (.port; with admin=True also the admin port, .admin) is read from the
    "listener ready" lines of its log; when they do not come within 30 s it is killed and
    RuntimeError says the log's end. The log goes on to root/weir.log (.log, .log_path) and
    .lines. prefix (a command and its arguments) runs weir under it. With json_only=True an
    answer of .post()/.signed_post() that is not JSON raises
    ValueError instead of coming back as text.
    """

    def __init__(self, root, args=(), env=None, admin=False, json_only=False, prefix=()):
        self.root = root
        self.json_only = json_only
        self.log_path = os.path.join(root, "weir.log")
        self.log = open(self.log_path, "ab")
        self.lines = []
        self.lock = threading.Lock()
        self.reader = None
        self.proc = subprocess.Popen(list(prefix) + [WEIR, "run", "-c", "weir.yaml"] + list(args),
                                     cwd=root,
                                     env=dict(os.environ, **(env or {})), stdout=self.log,
                                     stderr=subprocess.PIPE)
        atexit.register(_reap, self.proc)
        self.port = self.admin = None
        deadline = time.time() + 30
        while time.time() < deadline and not (self.port and (self.admin or not admin)):
            line = self.proc.stderr.readline()
            if not line:
                break
            self._keep(line)
            m = re.search(r'(webhook|admin) listener ready"? addr=127\.0\.0\.1:(\d+)',
                          line.decode(errors="replace"))
            if m and m.group(1) == "webhook":
                self.port = int(m.group(2))
            elif m:
                self.admin = int(m.group(2))
        if not (self.port and (self.admin or not admin)):
            self.kill()
            with open(self.log_path, errors="replace") as f:
                raise RuntimeError("weir did not start: " + f.read()[-2000:])
        # keep draining stderr so the child never blocks on a full pipe
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()

    def _keep(self, line):
        with self.lock:
            self.lines.append(line.decode(errors="replace"))
            self.log.write(line)
            self.log.flush()

    def _drain(self):
        for line in self.proc.stderr:
            self._keep(line)

    def mark(self):
        """Where the log is now, for wait_log(start=...)."""
        with self.lock:
            return len(self.lines)

    def wait_log(self, pattern, timeout=10, start=0):
        """The first log line from start on that matches pattern, waiting for it."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                for line in self.lines[start:]:
                    if re.search(pattern, line):
                        return line
            time.sleep(0.05)
        raise AssertionError("no log line matches %r:\n%s" % (pattern, "".join(self.lines)))

    def post(self, path, body, headers=None, ctype="application/json", method="POST",
             timeout=10):
        """One request to the webhook listener on its own connection, Content-Type ctype
        unless None, then headers: (status, the answer (UTF-8) parsed as JSON, or its text).
        body: bytes or str as they are, anything else as JSON."""
        h = {"Content-Type": ctype} if ctype else {}
        h.update(headers or {})
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            text = r.read().decode()
        finally:
            conn.close()
        try:
            return r.status, json.loads(text)
        except ValueError:
            if self.json_only:
                raise
            return r.status, text

    def signed_post(self, body, path="/hooks/hr", msg_id=None, key=HR_KEY, timeout=10):
        """post() signed the standard-webhooks way (webhook-id msg_id, or a new one)."""
        data = _body_bytes(body)
        return self.post(path, data, signed_headers(data, msg_id, key), timeout=timeout)

    def call(self, method, path, token=None):
        """(status, headers, body text) of an admin request, with a bearer token if given."""
        c = http.client.HTTPConnection("127.0.0.1", self.admin, timeout=10)
        h = {"Authorization": "Bearer " + token} if token else {}
        c.request(method, path, headers=h)
        r = c.getresponse()
        text = r.read().decode()
        c.close()
        return r.status, dict(r.getheaders()), text

    def api(self, method, path, token=None):
        """(status, parsed body) of an admin request whose answer must be JSON."""
        status, headers, text = self.call(method, path, token)
        if not headers.get("Content-Type", "").startswith("application/json"):
            raise AssertionError("not JSON: %r %r" % (headers, text))
        return status, json.loads(text)

    def rss_kb(self):
        """weir's resident memory (VmRSS) in kB."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS for weir")

    def _closed(self):
        if self.reader:
            self.reader.join(timeout=5)
        self.proc.stderr.close()
        self.log.close()

    def stop(self):
        """SIGTERM, and weir's exit status."""
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=60)
        self._closed()
        return rc

    def kill(self):
        """SIGKILL."""
        self.proc.kill()
        self.proc.wait(timeout=20)
        self._closed()


def faked(start):
    """The environment that runs weir with libfaketime (Debian `faketime`) preloaded, its wall
    clock starting at start ("2026-03-20 07:59:50", UTC) and running on from there; the
    monotonic clock is left alone. Preloaded, not through the `faketime` program, which forks:
    the process the test stops or kills -9 is weir itself. The sanitizer build's runtime must
    come first among the libraries; with libfaketime before it that check is turned off."""
    t = time.mktime(time.strptime(start, "%Y-%m-%d %H:%M:%S")) - time.timezone
    asan = os.environ.get("ASAN_OPTIONS", "")
    # An offset from now (to the microsecond), not "@start": the clocks of processes started
    # one after another go on from where the first began instead of each restarting at start.
    return {"LD_PRELOAD": "/usr/$LIB/faketime/libfaketime.so.1",
            "FAKETIME": "%+.6f" % (t - time.time()),
            "FAKETIME_DONT_FAKE_MONOTONIC": "1", "TZ": "UTC",
            "ASAN_OPTIONS": (asan + ":" if asan else "") + "verify_asan_link_order=0"}


def psql(url, *sql):
    """Runs each SQL text with psql against the PostgreSQL database at url (tests/pg's cluster);
    the output rows (tuples only, unaligned). A failure raises AssertionError with psql's
    message."""
    args = ["psql", url, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1"]
    for s in sql:
        args += ["-c", s]
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("psql: %s" % r.stderr)
    return [line for line in r.stdout.splitlines() if line]


def journal(root):
    """A connection to root's journal (var/weir.db)."""
    return sqlite3.connect(os.path.join(root, "var", "weir.db"), timeout=10)


def runs(root, where="1=1"):
    """(id, workflow, status, error, created_at, updated_at, event_id) of the runs matching
    where, oldest first. error is the run's own or, for a failed run, its failed step's (the
    executor stores that once, in the step's row)."""
    c = journal(root)
    rows = c.execute("SELECT id, workflow, status, coalesce(error, (SELECT s.error FROM steps s "
                     "WHERE s.run_id = runs.id AND s.status = 'failed' AND s.idx < 1000 "
                     "ORDER BY s.idx DESC LIMIT 1)), created_at, updated_at, event_id "
                     "FROM runs WHERE " + where + " ORDER BY created_at, id").fetchall()
    c.close()
    return rows


def wait_final(root, n, timeout=60):
    """runs(root) once there are at least n and all are final."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        rs = runs(root)
        if len(rs) >= n and all(r[2] in FINAL for r in rs):
            return rs
        time.sleep(0.1)
    raise AssertionError("runs not finished: %s" % runs(root))


def wait_runs(root, where, timeout=30):
    """runs(root, where) once there is one at least."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        rs = runs(root, where)
        if rs:
            return rs
        time.sleep(0.05)
    raise AssertionError("no run with %s: %s" % (where, runs(root)))


def wait_for(what, cond, timeout=30):
    """Polls cond() every 50 ms until it returns a true value, which is returned; raises
    AssertionError naming what after timeout seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def try_mount_tmpfs(path, size="2m"):
    """Mounts a tmpfs of size at path (made if missing); None when done, else why it cannot be
    (for skipTest)."""
    os.makedirs(path, exist_ok=True)
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", path],
                           capture_output=True, text=True, timeout=30)
    except OSError as e:
        return "mount cannot run: %s" % e
    if r.returncode != 0:
        return "mount -t tmpfs is not permitted here: %s" % r.stderr.strip()
    return None


def umount(path):
    subprocess.run(["umount", "-l", path], capture_output=True, timeout=30)


def fill_disk(directory):
    """Writes directory/filler until the file system is full; returns the filler's path (unlink
    it to give the space back)."""
    filler = os.path.join(directory, "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


class LoopbackServer(http.server.ThreadingHTTPServer):
    """A threading HTTP server on 127.0.0.1 that never looks its own name up (HTTPServer's
    server_bind calls getfqdn: a DNS wait on some hosts)."""
    daemon_threads = True

    def server_bind(self):
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]


def serve(handler):
    """handler (a BaseHTTPRequestHandler class) served on 127.0.0.1, an ephemeral port, from a
    daemon thread: (server, port). Stop it with server.shutdown(); server.server_close()."""
    server = LoopbackServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


class Sink:
    """A loopback HTTP server that records every request (method, path, parsed JSON body or
    text) and answers 200 {"ok": true}."""

    def __init__(self):
        rec = self
        self.lock = threading.Lock()
        self.requests = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n > 0 else b""
                try:
                    body = json.loads(raw.decode("utf-8")) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", errors="replace")
                with rec.lock:
                    rec.requests.append({"method": self.command, "path": self.path,
                                         "body": body})
                out = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_PUT = do_PATCH = do_DELETE = do_POST

            def log_message(self, fmt, *args):
                pass

        self.server, self.port = serve(Handler)

    def calls(self, path):
        """The requests to path (query string ignored)."""
        with self.lock:
            return [r for r in self.requests if r["path"].split("?")[0] == path]

    def wait(self, path, n, timeout=30):
        """The requests to path once there are at least n."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            got = self.calls(path)
            if len(got) >= n:
                return got
            time.sleep(0.05)
        raise AssertionError("the sink got %d requests to %s, wanted %d: %s"
                             % (len(self.calls(path)), path, n, self.requests))

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def admin(w, method, path, body=None):
    """(status, parsed JSON answer or its text) of an admin request with a JSON body."""
    c = http.client.HTTPConnection("127.0.0.1", w.admin, timeout=30)
    try:
        data = json.dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json"} if body is not None else {}
        c.request(method, path, body=data, headers=headers)
        r = c.getresponse()
        text = r.read().decode(errors="replace")
    finally:
        c.close()
    try:
        return r.status, json.loads(text)
    except ValueError:
        return r.status, text


def metric(w, name):
    """The sum of /metrics samples of name (any labels), or None when there is none."""
    status, _, text = w.call("GET", "/metrics")
    if status != 200:
        raise AssertionError("/metrics answered %d: %s" % (status, text[:500]))
    total = None
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)", line)
        if m and m.group(1) == name:
            total = (total or 0) + float(m.group(3))
    return total
