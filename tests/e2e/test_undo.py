#!/usr/bin/env python3
"""weir undo against graphsim (issue #18, item 7).

A seeded user with a licence, five groups (one dynamic, one synced, one role-assignable), a
directory role and a manager is offboarded in one run: disabled, properties changed, sessions
revoked, licences removed, removed from every group weir may change, the role taken back, the
manager cleared, and deleted. `weir undo RUN` prints the plan and changes nothing; `--dry-run`
sends only reads; `--yes` runs the plan as a run of weir.undo (trigger "undo of RUN"), which
restores the deleted user first and puts back what every step changed: graphsim's user after the
undo equals the user before the offboarding, field by field. A second undo writes nothing. The
admin API's POST /api/runs/ID/undo?dry_run=1 answers the same plan.

Usage: test_undo.py WEIR_BINARY GRAPHSIM_BINARY SOURCE_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

NESTOR = "nestor.wilke@contoso.onmicrosoft.com"

OFFBOARD = """
name: offboard-now
trigger:
  webhook: { path: /hooks/hr }
steps:
  - id: lock
    action: disable-user
    user: "{{ event.user }}"
  - action: update-user
    user: "{{ steps.lock.id }}"
    set: { officeLocation: "left", jobTitle: "Former employee", department: "Alumni" }
  - action: revoke-sessions
    user: "{{ steps.lock.id }}"
  - action: remove-all-licenses
    user: "{{ steps.lock.id }}"
  - action: remove-from-all-groups
    user: "{{ steps.lock.id }}"
  - action: remove-role
    user: "{{ steps.lock.id }}"
    role: User Administrator
  - action: set-manager
    user: "{{ steps.lock.id }}"
    manager: null
  - action: delete-user
    user: "{{ steps.lock.id }}"
"""


def cli(root, *args):
    return subprocess.run([harness.WEIR] + list(args), cwd=root, capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, **harness.GRAPH_ENV))


def snapshot(sim, upn):
    """What an undo must put back, comparable: the user's fields, licences, groups, roles."""
    state = sim.get("/_sim/state")
    users = [u for u in state["users"] if u["userPrincipalName"].lower() == upn.lower()]
    if not users:
        return None
    u = users[0]
    roles = sorted((a["roleDefinitionId"], a.get("directoryScopeId"))
                   for a in state["roleAssignments"] if a["principalId"] == u["id"])
    return {
        "id": u["id"],
        "accountEnabled": u["accountEnabled"],
        "officeLocation": u.get("officeLocation"),
        "jobTitle": u.get("jobTitle"),
        "department": u.get("department"),
        "manager": u.get("manager"),
        "licenses": sorted((l["skuId"], tuple(sorted(l.get("disabledPlans") or [])))
                           for l in u.get("assignedLicenses") or []),
        "groups": sorted(u.get("memberOf") or []),
        "roles": roles,
    }


class UndoTest(unittest.TestCase):
    def setUp(self):
        self.sim = harness.Sim()
        self.root = harness.setup_root(self.sim, {"offboard.yaml": OFFBOARD}, prefix="weir-undo-",
                                       admin="127.0.0.1:0")
        self.w = harness.Weir(self.root, admin=True, env=harness.GRAPH_ENV)

    def tearDown(self):
        try:
            if self.w.proc.poll() is None:
                self.w.stop()
        finally:
            self.sim.stop()
            if os.environ.get("KEEP"):
                print("kept", self.root)
            else:
                shutil.rmtree(self.root, ignore_errors=True)

    def mutations(self):
        return self.sim.get("/_sim/stats")["mutations"]

    def test_offboard_then_undo_restores_everything(self):
        before = snapshot(self.sim, NESTOR)
        self.assertTrue(before["accountEnabled"])
        self.assertGreaterEqual(len(before["groups"]), 5, before)
        self.assertTrue(before["licenses"] and before["roles"] and before["manager"], before)

        status, body = self.w.signed_post({"user": NESTOR})
        self.assertEqual(status, 202, body)
        rs = harness.wait_final(self.root, 1)
        run_id = rs[0][0]
        self.assertEqual(rs[0][2], "succeeded", rs)
        self.assertIsNone(snapshot(self.sim, NESTOR))  # deleted
        gone = self.sim.get("/_sim/state")["deletedUsers"]
        self.assertIn(before["id"], [u["id"] for u in gone])

        # the plan alone changes nothing
        n = self.mutations()
        out = cli(self.root, "undo", "-c", "weir.yaml", run_id)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("restore-user", out.stdout)
        self.assertIn("Cannot be undone", out.stdout)
        self.assertIn("revoke-sessions", out.stdout)
        self.assertIn("Nothing done", out.stdout)
        plan = json.loads(cli(self.root, "undo", "-c", "weir.yaml", run_id, "--json").stdout)
        actions = [s["action"] for s in plan["steps"]]
        self.assertEqual(actions[0], "restore-user", actions)  # the last change first
        self.assertIn("enable-user", actions)
        self.assertIn("add-to-group", actions)
        self.assertIn("assign-license", actions)
        self.assertIn("set-role", actions)
        self.assertIn("set-manager", actions)
        self.assertEqual(actions[-1], "enable-user", actions)  # the first change last
        status, api = self.w.api("POST", "/api/runs/%s/undo?dry_run=1" % run_id)
        self.assertEqual(status, 200, api)
        self.assertEqual(api["plan"]["steps"], plan["steps"])
        self.assertIsNone(api["run"])
        out = cli(self.root, "undo", "-c", "weir.yaml", run_id, "--dry-run")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("dry run of weir.undo", out.stdout)
        self.assertEqual(self.mutations(), n)
        self.assertIsNone(snapshot(self.sim, NESTOR))

        # carried out: the user as it was
        out = cli(self.root, "undo", "-c", "weir.yaml", run_id, "--yes")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("queued", out.stdout)
        undo = harness.wait_runs(self.root, "workflow = 'weir.undo' AND status IN "
                                 "('succeeded', 'succeeded_with_errors', 'failed')", timeout=60)
        self.assertEqual(undo[0][2], "succeeded", cli(self.root, "show", "-c", "weir.yaml",
                                                      undo[0][0]).stdout)
        after = snapshot(self.sim, NESTOR)
        self.assertIsNotNone(after, "the deleted user did not come back")
        for field in before:
            self.assertEqual(after[field], before[field], field)
        runs = cli(self.root, "runs", "-c", "weir.yaml", "--json")
        self.assertIn("undo of %s" % run_id, runs.stdout)

        # a second undo writes nothing
        n = self.mutations()
        out = cli(self.root, "undo", "-c", "weir.yaml", run_id, "--yes")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        deadline = time.time() + 60
        while time.time() < deadline:
            done = harness.runs(self.root, "workflow = 'weir.undo' AND status IN "
                                "('succeeded', 'succeeded_with_errors', 'failed')")
            if len(done) == 2:
                break
            time.sleep(0.1)
        self.assertEqual(len(done), 2, harness.runs(self.root))
        self.assertEqual(self.mutations(), n)
        self.assertEqual(snapshot(self.sim, NESTOR), before)

    def test_refusals(self):
        out = cli(self.root, "undo", "-c", "weir.yaml", "run_nosuchrun")
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        out = cli(self.root, "undo", "-c", "weir.yaml")
        self.assertEqual(out.returncode, 2, out.stdout + out.stderr)
        status, body = self.w.api("POST", "/api/runs/run_nosuchrun/undo")
        self.assertEqual(status, 404, body)


if __name__ == "__main__":
    harness.main("WEIR", "GRAPHSIM", "SOURCE")
