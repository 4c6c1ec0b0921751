"""benchlib — what the Python benchmarks in tests/bench/ share: graphsim, weir and Node-RED
processes on loopback ports, free ports, the synthetic HR events and seeds, table rows.

Stdlib only. Every process is started in its own process group and stopped by its pid.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.parse

TENANT = "contoso.onmicrosoft.com"
CLIENT_ID = "00000000-0000-0000-0000-000000000001"
CLIENT_SECRET = "sim-secret"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=30, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("process exited with %s before listening" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("nothing listens on %d after %ss" % (port, timeout))


def http_json(port, method, path, body=None, headers=None, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    h = dict(headers or {})
    data = None
    if body is not None:
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        h.setdefault("Content-Type", "application/json")
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    text = r.read()
    c.close()
    try:
        return r.status, json.loads(text) if text else None
    except ValueError:
        return r.status, text


def rss_kb(pid, key="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


class Sim:
    """build-release/graphsim on 127.0.0.1:0."""

    def __init__(self, binary, seed, *flags):
        self.proc = subprocess.Popen([binary, "--listen", "127.0.0.1:0", "--seed", seed]
                                     + [str(f) for f in flags],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = self.proc.stdout.readline().decode()
        m = re.search(r"127\.0\.0\.1:(\d+)", line)
        if not m:
            raise RuntimeError("graphsim did not start: %r" % line)
        self.port = int(m.group(1))

    def get(self, path):
        return http_json(self.port, "GET", path)[1]

    def stats(self):
        return self.get("/_sim/stats")

    def mutations(self):
        return self.stats()["mutations"]

    def reset(self):
        status, _ = http_json(self.port, "POST", "/_sim/reset")
        if status != 204:
            raise RuntimeError("graphsim reset answered %d" % status)

    def token(self):
        form = urllib.parse.urlencode({
            "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "grant_type": "client_credentials",
            "scope": "https://graph.microsoft.com/.default"})
        status, body = http_json(self.port, "POST", "/%s/oauth2/v2.0/token" % TENANT, form,
                                 {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 200:
            raise RuntimeError("graphsim token endpoint answered %d: %s" % (status, body))
        return body["access_token"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()


def weir_config(root, sim_port, webhook_port, admin_port, graph_extra="", extra=""):
    """Writes root/weir.yaml for a weir working against graphsim on sim_port."""
    os.makedirs(os.path.join(root, "workflows"), exist_ok=True)
    with open(os.path.join(root, "weir.yaml"), "w") as f:
        f.write("listen: { webhook: 127.0.0.1:%d, admin: 127.0.0.1:%d }\n"
                "workflows: ./workflows\n"
                "state: ./var/weir.db\n"
                "graph:\n"
                "  tenant: %s\n"
                "  client_id: %s\n"
                "  client_secret: env:WEIR_GRAPH_SECRET\n"
                "  authority: http://127.0.0.1:%d\n"
                "  base_url: http://127.0.0.1:%d/v1.0\n"
                % (webhook_port, admin_port, TENANT, CLIENT_ID, sim_port, sim_port))
        f.write(graph_extra)
        f.write(extra)


class Weir:
    """`weir run` in root (which holds weir.yaml), logging at warn to root/weir.log.

    The ports are the ones written into weir.yaml (weir_config), since at warn weir does not
    log its "listener ready" lines."""

    def __init__(self, binary, root, webhook_port, admin_port, ingest_only=False,
                 level="warn", wait=True):
        self.root = root
        self.webhook_port = webhook_port
        self.admin_port = admin_port
        self.log = open(os.path.join(root, "weir.log"), "ab")
        # HR_WEBHOOK_SECRET: the onboarding example's signature key (copies of it are loaded)
        env = dict(os.environ, WEIR_GRAPH_SECRET=CLIENT_SECRET,
                   HR_WEBHOOK_SECRET="whsec_YmVuY2gta2V5")
        args = [binary, "run", "-c", "weir.yaml", "--log-level", level]
        if ingest_only:
            args.append("--ingest-only")
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(args, cwd=root, env=env, stdout=self.log, stderr=self.log)
        self.ready_s = None
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout=60):
        """Waits for /readyz 200 (or, with --ingest-only, the webhook port)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("weir exited with %d: %s" % (self.proc.returncode,
                                                                self.tail()))
            try:
                status, _ = http_json(self.admin_port, "GET", "/readyz", timeout=5)
                if status == 200:
                    self.ready_s = time.monotonic() - self.t0
                    return
            except OSError:
                pass
            time.sleep(0.005)
        raise RuntimeError("weir not ready after %ss: %s" % (timeout, self.tail()))

    def tail(self):
        self.log.flush()
        with open(self.log.name, "rb") as f:
            return f.read()[-1500:].decode(errors="replace")

    def db(self):
        return sqlite3.connect("file:%s?mode=ro" % os.path.join(self.root, "var", "weir.db"),
                               uri=True, timeout=30)

    def stop(self, timeout=120):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()


def count(root, sql):
    """One integer from the journal in root/var/weir.db (read-only, never blocks weir)."""
    c = sqlite3.connect("file:%s?mode=ro" % os.path.join(root, "var", "weir.db"), uri=True,
                        timeout=30)
    try:
        return c.execute(sql).fetchone()[0]
    finally:
        c.close()


# --- the synthetic HR population of the end-to-end benchmarks ---------------------------
#
# User i (from 1) is hr%06d@contoso.onmicrosoft.com. Generation g of its HR record gives ten
# Graph properties; graphsim is seeded with generation 0, so a generation-1 event is a real
# change of all ten properties and a generation-0 event changes nothing.

DEPARTMENTS = ["Engineering", "Sales", "Finance", "Support", "Marketing"]
COUNTRIES = ["DE", "FR", "NL", "US", "GB"]


def hr_upn(i):
    return "hr%06d@%s" % (i, TENANT)


def hr_record(i, gen):
    return {
        "id": "E%07d" % (i * 10 + gen),
        "first_name": ("Ana", "Bea")[gen],
        "last_name": ("Nunez", "Silva")[gen] + " %06d" % i,
        "job_title": ("Associate", "Engineer")[gen] + " %d" % (i % 50),
        "department": DEPARTMENTS[(i + gen) % 5],
        "office": ("Berlin", "Paris")[gen] + " %d" % (i % 20),
        "mobile": "+49 151 %08d" % (i * 2 + gen),
        "legal_entity": ("Contoso GmbH", "Contoso SAS")[gen],
        "country_code": COUNTRIES[(i + gen) % 5],
        "work_email": hr_upn(i),
        "employment_type": "full_time",
        "start_date": "2026-12-01",
    }


def graph_props(rec):
    """What the mapping (hr_map10.lua, the Node-RED function node) makes of a record."""
    return {
        "givenName": rec["first_name"],
        "surname": rec["last_name"],
        "displayName": rec["first_name"] + " " + rec["last_name"],
        "jobTitle": rec["job_title"],
        "department": rec["department"],
        "employeeId": rec["id"],
        "officeLocation": rec["office"],
        "mobilePhone": rec["mobile"],
        "companyName": rec["legal_entity"],
        "usageLocation": rec["country_code"],
    }


def write_seed(base_seed, path, n):
    """graphsim's seed plus users hr000001..hrN holding generation 0 of their record."""
    with open(base_seed) as f:
        seed = json.load(f)
    for i in range(1, n + 1):
        u = {"id": "00000000-4852-4000-8000-%012x" % i, "userPrincipalName": hr_upn(i),
             "mail": hr_upn(i), "mailNickname": "hr%06d" % i, "accountEnabled": True}
        u.update(graph_props(hr_record(i, 0)))
        seed["users"].append(u)
    with open(path, "w") as f:
        json.dump(seed, f)


def write_events(path, n, changed):
    """n HR "employee.changed" webhooks, one per user 1..n; changed(i) -> generation 1."""
    with open(path, "w") as f:
        for i in range(1, n + 1):
            gen = 1 if changed(i) else 0
            ev = {"type": "employee.changed", "delivery_id": "d-%d-%d" % (i, gen),
                  "occurred_at": "2026-11-27T07:00:00Z", "employee": hr_record(i, gen)}
            f.write(json.dumps(ev, separators=(",", ":")) + "\n")


def stop_all(procs):
    for p in procs:
        try:
            p.stop()
        except Exception:  # noqa: BLE001 - cleanup must go on
            pass


def rmtree(path):
    shutil.rmtree(path, ignore_errors=True)
