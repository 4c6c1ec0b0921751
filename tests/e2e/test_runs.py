#!/usr/bin/env python3
"""End-to-end tests of weir's run executor: the real `weir run` and the real build/graphsim on
loopback ports. Runs are driven by webhooks and judged by graphsim's resulting state and by
the journal.

usage: test_runs.py WEIR_BINARY GRAPHSIM_BINARY SOURCE_DIR
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

WEIR = GRAPHSIM = SOURCE = None
FINAL = ("succeeded", "failed", "succeeded_with_errors", "cancelled")


class Sim:
    def __init__(self, *flags):
        self.proc = subprocess.Popen(
            [GRAPHSIM, "--listen", "127.0.0.1:0", "--seed",
             os.path.join(SOURCE, "tests/graphsim/seed.json")] + list(flags),
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = self.proc.stdout.readline().decode()
        self.port = int(re.search(r":(\d+)", line).group(1))

    def get(self, path):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("GET", path)
        r = c.getresponse()
        body = json.loads(r.read())
        c.close()
        return body

    def user(self, upn):
        for u in self.get("/_sim/state")["users"]:
            if u["userPrincipalName"].lower() == upn.lower():
                return u
        return None

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=20)
        self.proc.stdout.close()


# The examples' webhook secret (standard-webhooks: whsec_ + base64 of the key).
HR_SECRET = "whsec_" + base64.b64encode(b"e2e-hr-webhook-key-0123456789").decode()


class Weir:
    def __init__(self, root):
        self.root = root
        self.log = open(os.path.join(root, "weir.log"), "ab")
        env = dict(os.environ, WEIR_GRAPH_SECRET="sim-secret", HR_WEBHOOK_SECRET=HR_SECRET)
        self.proc = subprocess.Popen([WEIR, "run", "-c", "weir.yaml"], cwd=root, env=env,
                                     stdout=self.log, stderr=subprocess.PIPE)
        self.port = None
        deadline = time.time() + 30
        while time.time() < deadline:
            line = self.proc.stderr.readline().decode()
            if not line:
                break
            self.log.write(line.encode())
            m = re.search(r'listener ready"? addr=127\.0\.0\.1:(\d+)', line)
            if m:
                self.port = int(m.group(1))
                break
        if not self.port:
            raise RuntimeError("weir did not start: " + open(self.log.name).read()[-2000:])
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()

    def _drain(self):
        for line in self.proc.stderr:
            self.log.write(line)

    def post(self, body, key=None, path="/hooks/hr"):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        # The examples verify standard-webhooks signatures (HR_WEBHOOK_SECRET): sign everything.
        data = json.dumps(body).encode()
        msg_id, ts = key or "msg_" + uuid.uuid4().hex, str(int(time.time()))
        mac = hmac.new(base64.b64decode(HR_SECRET[len("whsec_"):]),
                       ("%s.%s." % (msg_id, ts)).encode() + data, hashlib.sha256).digest()
        h = {"Content-Type": "application/json", "webhook-id": msg_id, "webhook-timestamp": ts,
             "webhook-signature": "v1," + base64.b64encode(mac).decode()}
        c.request("POST", path, body=data, headers=h)
        r = c.getresponse()
        out = json.loads(r.read())
        c.close()
        return r.status, out

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=60)
        self.reader.join(timeout=5)
        self.proc.stderr.close()
        self.log.close()
        return rc

    def kill(self):
        self.proc.kill()
        self.proc.wait(timeout=20)
        self.reader.join(timeout=5)
        self.proc.stderr.close()
        self.log.close()


def setup_root(sim, workflows, env_allow=()):
    root = tempfile.mkdtemp(prefix="weir-runs-")
    os.makedirs(os.path.join(root, "workflows"))
    os.symlink(os.path.join(SOURCE, "scripts"), os.path.join(root, "scripts"))
    for name, text in workflows.items():
        with open(os.path.join(root, "workflows", name), "w") as f:
            f.write(text)
    with open(os.path.join(root, "weir.yaml"), "w") as f:
        f.write("listen: { webhook: 127.0.0.1:0 }\nworkflows: ./workflows\n"
                "state: ./var/weir.db\ngraph:\n  tenant: contoso.onmicrosoft.com\n"
                "  client_id: 00000000-0000-0000-0000-000000000001\n"
                "  client_secret: env:WEIR_GRAPH_SECRET\n"
                "  authority: http://127.0.0.1:%d\n  base_url: http://127.0.0.1:%d/v1.0\n"
                % (sim.port, sim.port))
        if env_allow:
            f.write("lua: { env_allow: [%s] }\n" % ", ".join(env_allow))
    return root


def runs(root, where="1=1"):
    c = sqlite3.connect(os.path.join(root, "var", "weir.db"), timeout=10)
    rows = c.execute("SELECT id, workflow, status, error, created_at, updated_at, event_id "
                     "FROM runs WHERE " + where + " ORDER BY created_at, id").fetchall()
    c.close()
    return rows


def wait_final(root, n, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        rs = runs(root)
        if len(rs) >= n and all(r[2] in FINAL for r in rs):
            return rs
        time.sleep(0.1)
    raise AssertionError("runs not finished: %s" % runs(root))


def example(name):
    with open(os.path.join(SOURCE, "workflows", name)) as f:
        return f.read()


UPDATE = """
name: retitle
trigger:
  webhook: { path: /hooks/hr }
concurrency_key: "{{ event.user }}"
retry: { attempts: 8, initial: 100ms, max: 1s }
steps:
  - id: patch
    action: update-user
    user: "{{ event.user }}"
    set: { jobTitle: "{{ event.title }}" }
"""


class RunsTest(unittest.TestCase):
    def test_onboarding_example(self):
        sim = Sim()
        root = setup_root(sim, {"onboard.yaml": example("onboard.yaml")}, ["ALERT_URL"])
        w = Weir(root)
        try:
            with open(os.path.join(SOURCE, "workflows/events/hired.json")) as f:
                hired = json.load(f)
            status, body = w.post(hired)
            self.assertEqual(status, 202, body)
            rs = wait_final(root, 1)
            self.assertEqual(rs[0][2], "succeeded", rs)
            u = sim.user("jose.nunez@contoso.onmicrosoft.com")
            self.assertIsNotNone(u)
            self.assertEqual(u["jobTitle"], "Platform Engineer")
            self.assertEqual(u["department"], "IT")
            self.assertEqual(u["employeeId"], "E1001")
            self.assertEqual(u["usageLocation"], "DE")
            skus = {s["skuPartNumber"]: s["skuId"] for s in sim.get("/_sim/state")["subscribedSkus"]}
            self.assertIn(skus["SPE_E3"], [l["skuId"] for l in u["assignedLicenses"]])
            state = sim.get("/_sim/state")
            groups = {g["displayName"]: g for g in state["groups"]}
            self.assertIn(u["id"], groups["All Staff"]["members"])
            self.assertIn(u["id"], groups["IT Admins"]["members"])
            roles = {r["displayName"]: r["id"] for r in state["roleDefinitions"]}
            self.assertTrue(any(a["principalId"] == u["id"] and
                                a["roleDefinitionId"] == roles["User Administrator"]
                                for a in state["roleAssignments"]), state["roleAssignments"])
            mgr = sim.user("megan.bowen@contoso.onmicrosoft.com")
            self.assertEqual(u["manager"], mgr["id"])
        finally:
            self.assertEqual(w.stop(), 0)
            sim.stop()
            shutil.rmtree(root)

    def test_failure_runs_on_error_and_names_graph(self):
        sim = Sim()
        wf = """
name: broken
trigger:
  webhook: { path: /hooks/hr }
steps:
  - action: set-manager
    user: adele.vance@contoso.onmicrosoft.com
    manager: nobody.here@contoso.onmicrosoft.com
on_error:
  - id: note
    action: update-user
    user: adele.vance@contoso.onmicrosoft.com
    set: { officeLocation: "failed: {{ error.step }}" }
"""
        root = setup_root(sim, {"broken.yaml": wf})
        w = Weir(root)
        try:
            w.post({"x": 1})
            rs = wait_final(root, 1)
            self.assertEqual(rs[0][2], "failed")
            self.assertIn("Request_ResourceNotFound", rs[0][3])
            self.assertIn("nobody.here", rs[0][3])
            # on_error ran, with `error` in scope
            self.assertEqual(sim.user("adele.vance@contoso.onmicrosoft.com")["officeLocation"],
                             "failed: 0")
        finally:
            self.assertEqual(w.stop(), 0)
            sim.stop()
            shutil.rmtree(root)

    def test_403_runs_on_error_and_weir_show_says_what_graph_answered(self):
        sim = Sim()
        wf = """
name: lock-out
trigger:
  webhook: { path: /hooks/hr }
steps:
  - id: disable
    action: disable-user
    user: "{{ event.user }}"
on_error:
  - action: update-user
    user: alex.wilber@contoso.onmicrosoft.com
    set: { officeLocation: "{{ error.message }}" }
"""
        root = setup_root(sim, {"lock-out.yaml": wf})
        w = Weir(root)
        try:
            # Patti is a Global Administrator: an application may not disable her.
            w.post({"user": "patti.fernandez@contoso.onmicrosoft.com"})
            rs = wait_final(root, 1)
            self.assertEqual(rs[0][2], "failed")
            self.assertIn("Graph 403 Authorization_RequestDenied: Insufficient privileges to "
                          "complete the operation.", rs[0][3])
            self.assertIn("403 Authorization_RequestDenied",
                          sim.user("alex.wilber@contoso.onmicrosoft.com")["officeLocation"])
            self.assertTrue(sim.user("patti.fernandez@contoso.onmicrosoft.com")["accountEnabled"])
            show = subprocess.run([WEIR, "show", rs[0][0]], cwd=root, capture_output=True,
                                  text=True, timeout=30)
            self.assertEqual(show.returncode, 0, show.stderr)
            self.assertIn("Authorization_RequestDenied", show.stdout)
            self.assertIn("Insufficient privileges to complete the operation.", show.stdout)
        finally:
            self.assertEqual(w.stop(), 0)
            sim.stop()
            shutil.rmtree(root)

    def test_offboarding_example_wait_across_restart(self):
        sim = Sim()
        offboard = example("offboard.yaml").replace("wait: 30d", "wait: 2s")
        self.assertIn("wait: 2s", offboard)
        root = setup_root(sim, {"offboard.yaml": offboard})
        w = Weir(root)
        try:
            with open(os.path.join(SOURCE, "workflows/events/left.json")) as f:
                left = json.load(f)
            self.assertEqual(w.post(left)[0], 202)
            deadline = time.time() + 20
            while time.time() < deadline and not runs(root, "status = 'waiting'"):
                time.sleep(0.05)
            self.assertEqual(len(runs(root, "status = 'waiting'")), 1)
            self.assertEqual(w.stop(), 0)
            lee = sim.user("lee.gu@contoso.onmicrosoft.com")
            self.assertFalse(lee["accountEnabled"])
            self.assertEqual(lee["assignedLicenses"], [])
            time.sleep(2.2)
            w = Weir(root)
            rs = wait_final(root, 1)
            self.assertEqual(rs[0][2], "succeeded", rs)
            self.assertIsNone(sim.user("lee.gu@contoso.onmicrosoft.com"))  # deleted after the wait
        finally:
            if w.proc.poll() is None:
                self.assertEqual(w.stop(), 0)
            sim.stop()
            shutil.rmtree(root)

    def test_503_storm_succeeds(self):
        sim = Sim("--fail-every", "2")
        root = setup_root(sim, {"retitle.yaml": UPDATE})
        w = Weir(root)
        try:
            for i in range(5):
                w.post({"user": "alex.wilber@contoso.onmicrosoft.com", "title": "T%d" % i},
                       key="storm-%d" % i)
            rs = wait_final(root, 5)
            self.assertEqual([r[2] for r in rs], ["succeeded"] * 5, rs)
            # concurrency_key: one at a time, in arrival order, so the last title wins
            self.assertEqual(sim.user("alex.wilber@contoso.onmicrosoft.com")["jobTitle"], "T4")
            for a, b in zip(rs, rs[1:]):
                self.assertLessEqual(a[5], b[5])
        finally:
            self.assertEqual(w.stop(), 0)
            sim.stop()
            shutil.rmtree(root)

    def test_wait_survives_restart(self):
        sim = Sim()
        wf = """
name: later
trigger:
  webhook: { path: /hooks/hr }
steps:
  - action: disable-user
    user: miriam.graham@contoso.onmicrosoft.com
  - wait: 2s
  - action: update-user
    user: miriam.graham@contoso.onmicrosoft.com
    set: { jobTitle: "after the wait" }
"""
        root = setup_root(sim, {"later.yaml": wf})
        w = Weir(root)
        try:
            w.post({})
            deadline = time.time() + 10
            while time.time() < deadline and not runs(root, "status = 'waiting'"):
                time.sleep(0.05)
            self.assertEqual(len(runs(root, "status = 'waiting'")), 1)
            self.assertEqual(w.stop(), 0)
            self.assertFalse(sim.user("miriam.graham@contoso.onmicrosoft.com")["accountEnabled"])
            self.assertNotEqual(sim.user("miriam.graham@contoso.onmicrosoft.com").get("jobTitle"),
                                "after the wait")
            time.sleep(2.2)
            w = Weir(root)
            rs = wait_final(root, 1)
            self.assertEqual(rs[0][2], "succeeded")
            self.assertEqual(sim.user("miriam.graham@contoso.onmicrosoft.com")["jobTitle"],
                             "after the wait")
        finally:
            if w.proc.poll() is None:
                self.assertEqual(w.stop(), 0)
            sim.stop()
            shutil.rmtree(root)

    def test_kill_9_during_50_runs(self):
        sim = Sim("--generate-users", "50", "--latency-ms", "20")
        wf = UPDATE.replace("name: retitle", "name: bulk")
        root = setup_root(sim, {"bulk.yaml": wf})
        w = Weir(root)
        kills = 0
        try:
            for i in range(50):
                status, _ = w.post({"user": "synth%06d@contoso.onmicrosoft.com" % (i + 1),
                                    "title": "bulk %d" % i}, key="bulk-%d" % i)
                self.assertEqual(status, 202)
            for _ in range(5):
                time.sleep(random.uniform(0.1, 0.3))
                w.kill()
                kills += 1
                w = Weir(root)
            rs = wait_final(root, 50, timeout=120)
            self.assertEqual(len(rs), 50)
            self.assertEqual(len({r[6] for r in rs}), 50, "an event got two runs")
            self.assertEqual([r[2] for r in rs], ["succeeded"] * 50, rs)
            for i in range(50):
                u = sim.user("synth%06d@contoso.onmicrosoft.com" % (i + 1))
                self.assertEqual(u["jobTitle"], "bulk %d" % i)
            print("kill -9 during runs: 50 runs, %d kills, all succeeded once" % kills)
        finally:
            if w.proc.poll() is None:
                self.assertEqual(w.stop(), 0)
            sim.stop()
            shutil.rmtree(root)


class DryRunTest(unittest.TestCase):
    def test_dry_run_of_every_example_changes_nothing(self):
        sim = Sim()
        examples = {n: example(n) for n in ("onboard.yaml", "offboard.yaml", "mover.yaml",
                                            "csv-bulk-update.yaml", "license-reclaim.yaml")}
        root = setup_root(sim, examples, ["ALERT_URL"])
        def sample(name):
            with open(os.path.join(SOURCE, "workflows/events", name)) as f:
                return json.load(f)
        events = {
            "onboard-employee": sample("hired.json"),
            "offboard-employee": sample("left.json"),
            "department-change": {"type": "employee.changed", "employee": {
                "work_email": "adele.vance@contoso.onmicrosoft.com", "department": "Sales",
                "job_title": "Sales Lead", "office": "B1"},
                "changes": {"department": {"from": "Retail", "to": "Sales"}}},
            "csv-bulk-update": {"row": {"User Name": "alex.wilber@contoso.onmicrosoft.com",
                                        "Job Title": "Chief Dry Runner"}, "file": "x.csv",
                                "line": 2},
            "license-reclaim": {"scheduled_for": "2026-11-27T05:00:00.000Z"},
        }
        try:
            before = sim.get("/_sim/state")
            for wf, ev in events.items():
                path = os.path.join(root, wf + ".json")
                with open(path, "w") as f:
                    json.dump(ev, f)
                out = subprocess.run([WEIR, "fire", wf, "--event", path, "--dry-run"],
                                     cwd=root, capture_output=True, text=True, timeout=120,
                                     env=dict(os.environ, WEIR_GRAPH_SECRET="sim-secret"))
                self.assertEqual(out.returncode, 0, out.stderr)
                self.assertIn("dry run of " + wf, out.stdout)
            self.assertEqual(sim.get("/_sim/stats")["mutations"], 0)
            self.assertEqual(sim.get("/_sim/state"), before)
            # nothing was stored in the real journal either
            self.assertFalse(os.path.exists(os.path.join(root, "var", "weir.db")))
        finally:
            sim.stop()
            shutil.rmtree(root)


if __name__ == "__main__":
    WEIR = os.path.abspath(sys.argv.pop(1))
    GRAPHSIM = os.path.abspath(sys.argv.pop(1))
    SOURCE = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
