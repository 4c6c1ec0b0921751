#!/usr/bin/env python3
"""End-to-end tests of weir's run executor: the real `weir run` and the real build/graphsim on
loopback ports. Runs are driven by webhooks and judged by graphsim's resulting state and by
the journal.

usage: test_runs.py WEIR_BINARY GRAPHSIM_BINARY SOURCE_DIR
"""
import json
import os
import random
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def start_weir(root):
    """weir with graphsim's and the webhook's secrets; each answer must be JSON."""
    return harness.Weir(root, env=harness.SIGNED_ENV, json_only=True)


def example(name):
    with open(os.path.join(harness.SOURCE, "workflows", name)) as f:
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
        sim = harness.Sim()
        root = harness.setup_root(sim, {"onboard.yaml": example("onboard.yaml")},
                                  prefix="weir-runs-", env_allow=["ALERT_URL"])
        w = start_weir(root)
        try:
            with open(os.path.join(harness.SOURCE, "workflows/events/hired.json")) as f:
                hired = json.load(f)
            status, body = w.signed_post(hired)
            self.assertEqual(status, 202, body)
            rs = harness.wait_final(root, 1)
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
        sim = harness.Sim()
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
        root = harness.setup_root(sim, {"broken.yaml": wf}, prefix="weir-runs-")
        w = start_weir(root)
        try:
            w.signed_post({"x": 1})
            rs = harness.wait_final(root, 1)
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
        sim = harness.Sim()
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
        root = harness.setup_root(sim, {"lock-out.yaml": wf}, prefix="weir-runs-")
        w = start_weir(root)
        try:
            # Patti is a Global Administrator: an application may not disable her.
            w.signed_post({"user": "patti.fernandez@contoso.onmicrosoft.com"})
            rs = harness.wait_final(root, 1)
            self.assertEqual(rs[0][2], "failed")
            self.assertIn("Graph 403 Authorization_RequestDenied: Insufficient privileges to "
                          "complete the operation.", rs[0][3])
            self.assertIn("403 Authorization_RequestDenied",
                          sim.user("alex.wilber@contoso.onmicrosoft.com")["officeLocation"])
            self.assertTrue(sim.user("patti.fernandez@contoso.onmicrosoft.com")["accountEnabled"])
            show = subprocess.run([harness.WEIR, "show", rs[0][0]], cwd=root, capture_output=True,
                                  text=True, timeout=30)
            self.assertEqual(show.returncode, 0, show.stderr)
            self.assertIn("Authorization_RequestDenied", show.stdout)
            self.assertIn("Insufficient privileges to complete the operation.", show.stdout)
        finally:
            self.assertEqual(w.stop(), 0)
            sim.stop()
            shutil.rmtree(root)

    def test_offboarding_example_wait_across_restart(self):
        sim = harness.Sim()
        offboard = example("offboard.yaml").replace("wait: 30d", "wait: 2s")
        self.assertIn("wait: 2s", offboard)
        root = harness.setup_root(sim, {"offboard.yaml": offboard}, prefix="weir-runs-")
        w = start_weir(root)
        try:
            with open(os.path.join(harness.SOURCE, "workflows/events/left.json")) as f:
                left = json.load(f)
            self.assertEqual(w.signed_post(left)[0], 202)
            harness.wait_runs(root, "status = 'waiting'", timeout=20)
            self.assertEqual(len(harness.runs(root, "status = 'waiting'")), 1)
            self.assertEqual(w.stop(), 0)
            lee = sim.user("lee.gu@contoso.onmicrosoft.com")
            self.assertFalse(lee["accountEnabled"])
            self.assertEqual(lee["assignedLicenses"], [])
            time.sleep(2.2)
            w = start_weir(root)
            rs = harness.wait_final(root, 1)
            self.assertEqual(rs[0][2], "succeeded", rs)
            self.assertIsNone(sim.user("lee.gu@contoso.onmicrosoft.com"))  # deleted after the wait
        finally:
            if w.proc.poll() is None:
                self.assertEqual(w.stop(), 0)
            sim.stop()
            shutil.rmtree(root)

    def test_503_storm_succeeds(self):
        sim = harness.Sim("--fail-every", "2")
        root = harness.setup_root(sim, {"retitle.yaml": UPDATE}, prefix="weir-runs-")
        w = start_weir(root)
        try:
            for i in range(5):
                w.signed_post({"user": "alex.wilber@contoso.onmicrosoft.com", "title": "T%d" % i},
                              msg_id="storm-%d" % i)
            rs = harness.wait_final(root, 5)
            self.assertEqual([r[2] for r in rs], ["succeeded"] * 5, rs)
            # concurrency_key: one at a time, in arrival order, so the last title wins
            self.assertEqual(sim.user("alex.wilber@contoso.onmicrosoft.com")["jobTitle"], "T4")
            for a, b in zip(rs, rs[1:]):
                self.assertLessEqual(a[5], b[5])
        finally:
            self.assertEqual(w.stop(), 0)
            sim.stop()
            shutil.rmtree(root)

    def test_throttling_never_fails_a_run(self):
        """8 s of 429 (Retry-After: 1) against retry.attempts: 2: throttled attempts do not
        count; the run shows `retrying` with the reason, then succeeds."""
        sim = harness.Sim("--retry-after", "1")
        wf = UPDATE.replace("retry: { attempts: 8, initial: 100ms, max: 1s }",
                            "retry: { attempts: 2, initial: 100ms, max: 1s }")
        root = harness.setup_root(sim, {"retitle.yaml": wf}, prefix="weir-runs-")
        w = start_weir(root)
        try:
            sim.post("/_sim/faults", {"throttle_for": 8})
            started = time.time()
            w.signed_post({"user": "alex.wilber@contoso.onmicrosoft.com", "title": "Patient"})
            rs = harness.wait_runs(root, "status = 'retrying'", timeout=20)
            c = harness.journal(root)
            err = c.execute("SELECT error FROM steps WHERE run_id = ?", (rs[0][0],)).fetchone()[0]
            c.close()
            self.assertIn("throttled by Graph", err)
            self.assertIn("not counted against retry.attempts", err)
            self.assertIn("TooManyRequests", err)
            rs = harness.wait_final(root, 1, timeout=60)
            self.assertEqual(rs[0][2], "succeeded", rs)
            self.assertGreaterEqual(time.time() - started, 7)
            self.assertEqual(sim.user("alex.wilber@contoso.onmicrosoft.com")["jobTitle"],
                             "Patient")
            c = harness.journal(root)
            attempts = c.execute("SELECT attempts FROM steps WHERE run_id = ?",
                                 (rs[0][0],)).fetchone()[0]
            c.close()
            self.assertEqual(attempts, 1)  # the throttled ones were not counted
            self.assertGreater(sim.get("/_sim/stats")["throttled"], 3)
        finally:
            self.assertEqual(w.stop(), 0)
            sim.stop()
            shutil.rmtree(root)

    def test_throttling_past_its_limit_fails_the_step(self):
        """retry.throttle_limit bounds how long a step waits out throttling."""
        sim = harness.Sim("--retry-after", "0.5")
        wf = UPDATE.replace("retry: { attempts: 8, initial: 100ms, max: 1s }",
                            "retry: { attempts: 2, initial: 100ms, max: 1s, "
                            "throttle_limit: 2s }")
        root = harness.setup_root(sim, {"retitle.yaml": wf}, prefix="weir-runs-")
        w = start_weir(root)
        try:
            sim.post("/_sim/faults", {"throttle_for": 60})
            w.signed_post({"user": "alex.wilber@contoso.onmicrosoft.com", "title": "Never"})
            rs = harness.wait_final(root, 1, timeout=40)
            self.assertEqual(rs[0][2], "failed", rs)
            self.assertIn("Graph kept throttling this step for 2s (retry.throttle_limit)",
                          rs[0][3])
            self.assertIn("TooManyRequests", rs[0][3])
        finally:
            sim.post("/_sim/faults", {"throttle_for": 0})
            self.assertEqual(w.stop(), 0)
            sim.stop()
            shutil.rmtree(root)

    def test_wait_survives_restart(self):
        sim = harness.Sim()
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
        root = harness.setup_root(sim, {"later.yaml": wf}, prefix="weir-runs-")
        w = start_weir(root)
        try:
            w.signed_post({})
            harness.wait_runs(root, "status = 'waiting'", timeout=10)
            self.assertEqual(len(harness.runs(root, "status = 'waiting'")), 1)
            self.assertEqual(w.stop(), 0)
            self.assertFalse(sim.user("miriam.graham@contoso.onmicrosoft.com")["accountEnabled"])
            self.assertNotEqual(sim.user("miriam.graham@contoso.onmicrosoft.com").get("jobTitle"),
                                "after the wait")
            time.sleep(2.2)
            w = start_weir(root)
            rs = harness.wait_final(root, 1)
            self.assertEqual(rs[0][2], "succeeded")
            self.assertEqual(sim.user("miriam.graham@contoso.onmicrosoft.com")["jobTitle"],
                             "after the wait")
        finally:
            if w.proc.poll() is None:
                self.assertEqual(w.stop(), 0)
            sim.stop()
            shutil.rmtree(root)

    def test_kill_9_during_50_runs(self):
        sim = harness.Sim("--generate-users", "50", "--latency-ms", "20")
        wf = UPDATE.replace("name: retitle", "name: bulk")
        root = harness.setup_root(sim, {"bulk.yaml": wf}, prefix="weir-runs-")
        w = start_weir(root)
        kills = 0
        try:
            for i in range(50):
                status, _ = w.signed_post({"user": "synth%06d@contoso.onmicrosoft.com" % (i + 1),
                                           "title": "bulk %d" % i}, msg_id="bulk-%d" % i)
                self.assertEqual(status, 202)
            for _ in range(5):
                time.sleep(random.uniform(0.1, 0.3))
                w.kill()
                kills += 1
                w = start_weir(root)
            rs = harness.wait_final(root, 50, timeout=120)
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
        sim = harness.Sim()
        examples = {n: example(n) for n in ("onboard.yaml", "offboard.yaml", "mover.yaml",
                                            "csv-bulk-update.yaml", "license-reclaim.yaml")}
        root = harness.setup_root(sim, examples, prefix="weir-runs-", env_allow=["ALERT_URL"])
        def sample(name):
            with open(os.path.join(harness.SOURCE, "workflows/events", name)) as f:
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
                out = subprocess.run([harness.WEIR, "fire", wf, "--event", path, "--dry-run"],
                                     cwd=root, capture_output=True, text=True, timeout=120,
                                     env=dict(os.environ, **harness.GRAPH_ENV))
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
    harness.main("WEIR", "GRAPHSIM", "SOURCE")
