#!/usr/bin/env python3
"""End-to-end tests of remove-from-all-groups and cancel-runs (issue #18): the real `weir run`
and `weir fire` against the real build/graphsim, both on 127.0.0.1.

remove-from-all-groups, on Nestor (seed: All Staff, IT Admins, a dynamic, an on-premises-synced
and a role-assignable group, and the User Administrator directory role):
- the request sequence: every page of GET /users/{id}/memberOf (graphsim's member_of_page_size
  makes it page), then DELETE /groups/{gid}/members/{uid}/$ref for each removable group and
  nothing else; skips with their reasons (the directory role, dynamic, synced, role-assignable,
  `except:` by name and by id); the output's removed/skipped/before/undo;
- a second run changes nothing (`changed: false`, `undo: []`, no DELETE);
- `include_role_assignable: true` removes the role-assignable group too;
- a dry run (`weir fire --dry-run`) plans the DELETEs and sends none.
cancel-runs: a leaver workflow keyed by the user waits 30 days before delete-user; a second
webhook (termination cancelled) runs a workflow whose cancel-runs step cancels the waiting run:
its status is cancelled, the user is not deleted (its clock is pushed 31 days on with faketime
and the run still never deletes); a dry run lists it and cancels nothing.

usage: test_groups.py WEIR_BINARY GRAPHSIM_BINARY SOURCE_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

DOMAIN = "@contoso.onmicrosoft.com"
NESTOR = "ed038db4-de38-4784-a6d0-b944a2863a7f"
LEE = "31162427-3bfd-4d33-8d00-38ec42650644"
SEED = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                   "../graphsim/seed.json")))
GROUPS = {g["displayName"]: g["id"] for g in SEED["groups"]}
ALL_STAFF = GROUPS["All Staff"]
IT_ADMINS = GROUPS["IT Admins"]
DYNAMIC = GROUPS["IT Department (dynamic)"]
SYNCED = GROUPS["VPN Users (on-premises)"]
ROLE_GROUP = GROUPS["Helpdesk Operators (role-assignable)"]
WEBHOOK = "  webhook: { path: /hooks/hr, secret: env:HR_WEBHOOK_SECRET }"


def cli(root, *args):
    return subprocess.run([harness.WEIR] + list(args), cwd=root, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL,
                          env=dict(os.environ, **harness.SIGNED_ENV))


def step_output(root, run_id, idx=0):
    c = harness.journal(root)
    row = c.execute("SELECT output, status, error FROM steps WHERE run_id = ? AND idx = ?",
                    (run_id, idx)).fetchone()
    c.close()
    if row is None:
        raise AssertionError("run %s has no step %d" % (run_id, idx))
    if row[1] != "succeeded":
        raise AssertionError("step %d of %s: %s %s" % (idx, run_id, row[1], row[2]))
    return json.loads(row[0])


def member_of(sim, uid):
    for u in sim.get("/_sim/state")["users"]:
        if u["id"] == uid:
            return set(u["memberOf"])
    raise AssertionError("no user " + uid)


def requests(sim, since=0):
    return [r for r in sim.get("/_sim/requests?since=%d" % since)["value"]
            if not r["path"].startswith("/_sim") and "/token" not in r["path"]]


def last_seq(sim):
    v = sim.get("/_sim/requests")["value"]
    return v[-1]["seq"] if v else 0


class RemoveFromAllGroups(unittest.TestCase):
    def setUp(self):
        self.sim = harness.Sim()
        self.sim.post("/_sim/faults", {"member_of_page_size": 2})
        wf = """
name: strip
trigger:
%s
steps:
  - id: strip
    action: remove-from-all-groups
    user: "{{ event.user }}"
    except: "{{ event.keep }}"
    include_role_assignable: "{{ event.role_groups }}"
""" % WEBHOOK
        self.root = harness.setup_root(self.sim, {"strip.yaml": wf})
        self.w = harness.Weir(self.root, env=harness.SIGNED_ENV)

    def tearDown(self):
        self.w.stop()
        self.sim.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def fire(self, user, keep, role_groups=False):
        n = len(harness.runs(self.root))
        st, body = self.w.signed_post({"user": user, "keep": keep, "role_groups": role_groups})
        self.assertLess(st, 300, body)
        rs = harness.wait_final(self.root, n + 1)
        run = rs[-1]
        self.assertEqual(run[2], "succeeded", run)
        return step_output(self.root, run[0])

    def test_removes_skips_and_undoes(self):
        seq = last_seq(self.sim)
        out = self.fire("nestor.wilke" + DOMAIN, ["all staff"])
        # the request sequence: memberOf page by page (5 groups + 1 role, 2 a page), then one
        # DELETE with /$ref, to IT Admins only
        reqs = requests(self.sim, seq)
        gets = [r for r in reqs if r["method"] == "GET" and "/memberOf" in r["path"]]
        self.assertEqual(len(gets), 3, [r["path"] for r in reqs])
        self.assertIn("$select=id,displayName,groupTypes,onPremisesSyncEnabled,"
                      "isAssignableToRole", urllib.parse.unquote(gets[0]["path"]))
        writes = [(r["method"], r["path"]) for r in reqs if r["method"] != "GET"
                  and r["path"] != "/v1.0/$batch"]
        self.assertEqual(writes, [("DELETE", "/v1.0/groups/%s/members/%s/$ref"
                                   % (IT_ADMINS, NESTOR))])
        self.assertEqual(out["removed"], [{"id": IT_ADMINS, "displayName": "IT Admins"}])
        why = {s["id"]: s["why"] for s in out["skipped"]}
        self.assertIn("except", why[ALL_STAFF])
        self.assertIn("dynamic", why[DYNAMIC])
        self.assertIn("on-premises", why[SYNCED])
        self.assertIn("role-assignable", why[ROLE_GROUP])
        roles = [s for s in out["skipped"] if s["why"] == "not a group (directoryRole)"]
        self.assertEqual([r["displayName"] for r in roles], ["User Administrator"])
        self.assertEqual(len(out["skipped"]), 5)
        self.assertEqual(out["undo"], [{"action": "add-to-group", "group": IT_ADMINS,
                                        "user": NESTOR}])
        self.assertEqual(sorted(g["id"] for g in out["before"]["groups"]),
                         sorted([ALL_STAFF, IT_ADMINS, DYNAMIC, SYNCED, ROLE_GROUP]))
        self.assertTrue(out["changed"])
        self.assertEqual(member_of(self.sim, NESTOR), {ALL_STAFF, DYNAMIC, SYNCED, ROLE_GROUP})

        # already so: nothing to remove, no write, an empty undo
        seq = last_seq(self.sim)
        out = self.fire("nestor.wilke" + DOMAIN, ["all staff"])
        self.assertEqual([r for r in requests(self.sim, seq) if r["method"] != "GET"], [])
        self.assertFalse(out["changed"])
        self.assertEqual(out["removed"], [])
        self.assertEqual(out["undo"], [])

        # include_role_assignable, and except by object id
        out = self.fire(NESTOR, [ALL_STAFF], True)
        self.assertEqual(out["removed"], [{"id": ROLE_GROUP,
                                           "displayName": "Helpdesk Operators (role-assignable)"}])
        self.assertEqual(member_of(self.sim, NESTOR), {ALL_STAFF, DYNAMIC, SYNCED})

    def test_several_groups_and_graph_refusals(self):
        # Lee: All Staff and Engineering, both removed (the client may batch the DELETEs)
        out = self.fire("lee.gu" + DOMAIN, [])
        self.assertEqual(sorted(g["id"] for g in out["removed"]),
                         sorted([ALL_STAFF, GROUPS["Engineering"]]))
        self.assertEqual(len(out["undo"]), 2)
        self.assertEqual(member_of(self.sim, LEE), set())
        # what Graph answers to the member changes the action skips
        self.assertGraph("DELETE", DYNAMIC, 403, "Authorization_RequestDenied")
        self.assertGraph("DELETE", SYNCED, 400, "Request_BadRequest")

    def assertGraph(self, method, gid, status, code):
        import http.client
        tok = json.loads(self.token())["access_token"]
        c = http.client.HTTPConnection("127.0.0.1", self.sim.port, timeout=10)
        c.request(method, "/v1.0/groups/%s/members/%s/$ref" % (gid, NESTOR),
                  headers={"Authorization": "Bearer " + tok})
        r = c.getresponse()
        body = json.loads(r.read())
        c.close()
        self.assertEqual((r.status, body["error"]["code"]), (status, code))

    def token(self):
        import http.client
        form = urllib.parse.urlencode({
            "client_id": "00000000-0000-0000-0000-000000000001",
            "client_secret": harness.SIM_SECRET, "grant_type": "client_credentials",
            "scope": "https://graph.microsoft.com/.default"})
        c = http.client.HTTPConnection("127.0.0.1", self.sim.port, timeout=10)
        c.request("POST", "/contoso.onmicrosoft.com/oauth2/v2.0/token", form,
                  {"Content-Type": "application/x-www-form-urlencoded"})
        data = c.getresponse().read()
        c.close()
        return data

    def test_dry_run_sends_nothing(self):
        ev = os.path.join(self.root, "ev.json")
        with open(ev, "w") as f:
            json.dump({"user": "lee.gu" + DOMAIN, "keep": [], "role_groups": False}, f)
        seq = last_seq(self.sim)
        out = cli(self.root, "fire", "strip", "-c", "weir.yaml", "--event", ev, "--dry-run")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("/groups/%s/members/%s/$ref" % (ALL_STAFF, LEE), out.stdout)
        self.assertIn("/groups/%s/members/%s/$ref" % (GROUPS["Engineering"], LEE), out.stdout)
        self.assertEqual([r for r in requests(self.sim, seq) if r["method"] != "GET"], [])
        self.assertEqual(member_of(self.sim, LEE), {ALL_STAFF, GROUPS["Engineering"]})


LEAVER = """
name: leaver
trigger:
%s
when: event.type == "termination"
concurrency_key: "{{ event.user }}"
steps:
  - id: lock
    action: disable-user
    user: "{{ event.user }}"
  - id: grace
    wait: 30d
  - action: delete-user
    user: "{{ steps.lock.id }}"
""" % WEBHOOK

RESCIND = """
name: rescind
trigger:
%s
when: event.type == "termination_cancelled"
steps:
  - id: cancel
    action: cancel-runs
    workflow: leaver
    key: "{{ event.user }}"
    reason: "termination rescinded"
  - action: enable-user
    user: "{{ event.user }}"
""" % WEBHOOK


class CancelRuns(unittest.TestCase):
    def setUp(self):
        self.sim = harness.Sim()
        self.root = harness.setup_root(self.sim, {"leaver.yaml": LEAVER,
                                                  "rescind.yaml": RESCIND})
        self.w = None

    def tearDown(self):
        if self.w:
            self.w.stop()
        self.sim.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def test_rescinded_termination_cancels_the_wait(self):
        self.w = harness.Weir(self.root, env=harness.SIGNED_ENV)
        adele, megan = "adele.vance" + DOMAIN, "megan.bowen" + DOMAIN
        for u in (adele, megan):
            st, body = self.w.signed_post({"type": "termination", "user": u})
            self.assertLess(st, 300, body)
        harness.wait_for("both leavers waiting", lambda: len(
            harness.runs(self.root, "workflow = 'leaver' AND status = 'waiting'")) == 2)
        waiting = {r[0] for r in harness.runs(self.root, "workflow = 'leaver'")}
        adele_run = harness.runs(self.root, "workflow = 'leaver' AND concurrency_key = '%s'"
                                 % adele)[0][0]

        # a dry run lists the run it would cancel and cancels nothing
        ev = os.path.join(self.root, "ev.json")
        with open(ev, "w") as f:
            json.dump({"type": "termination_cancelled", "user": adele}, f)
        out = cli(self.root, "fire", "rescind", "-c", "weir.yaml", "--event", ev, "--dry-run")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn(adele_run, out.stdout)
        self.assertEqual(len(harness.runs(self.root, "status = 'waiting'")), 2)

        st, body = self.w.signed_post({"type": "termination_cancelled", "user": adele})
        self.assertLess(st, 300, body)
        rescind = harness.wait_runs(self.root, "workflow = 'rescind' AND status IN "
                                    "('succeeded', 'failed')")[0]
        self.assertEqual(rescind[2], "succeeded", rescind)
        out = step_output(self.root, rescind[0], 0)
        self.assertEqual(out["cancelled"], [adele_run])
        self.assertIn("undo", out["undo_impossible"])
        rows = {r[0]: r for r in harness.runs(self.root, "workflow = 'leaver'")}
        self.assertEqual(rows[adele_run][2], "cancelled")
        self.assertIn("termination rescinded", rows[adele_run][3])
        megan_run = (waiting - {adele_run}).pop()
        self.assertEqual(rows[megan_run][2], "waiting")  # another subject's run is left alone
        self.assertTrue(self.sim.user(adele)["accountEnabled"])

        # a second rescind finds nothing to cancel
        st, body = self.w.signed_post({"type": "termination_cancelled", "user": adele})
        harness.wait_for("second rescind", lambda: len(harness.runs(
            self.root, "workflow = 'rescind' AND status = 'succeeded'")) == 2)
        second = harness.runs(self.root, "workflow = 'rescind'")[-1]
        self.assertEqual(step_output(self.root, second[0], 0)["cancelled"], [])

        # 31 days later: Megan's wait ends and she is deleted; Adele never is
        self.assertEqual(self.w.stop(), 0)
        self.w = harness.Weir(self.root, env=dict(harness.SIGNED_ENV,
                                                  **harness.faked(time.strftime(
            "%Y-%m-%d %H:%M:%S", time.gmtime(time.time() + 31 * 86400)))))
        harness.wait_for("megan deleted", lambda: self.sim.user(megan) is None, timeout=60)
        self.assertIsNotNone(self.sim.user(adele))
        self.assertEqual(harness.runs(self.root, "id = '%s'" % adele_run)[0][2], "cancelled")

    def test_rescind_with_undo_puts_the_user_back(self):
        """cancel-runs with undo: true cancels the waiting leaver and queues the undo of what its
        finished steps did (the disable): the user is enabled again by a run of weir.undo."""
        with open(os.path.join(self.root, "workflows", "rescind.yaml"), "w") as f:
            f.write(RESCIND.replace('reason: "termination rescinded"',
                                    'reason: "termination rescinded"\n    undo: true')
                    .split("  - action: enable-user")[0])
        self.w = harness.Weir(self.root, env=harness.SIGNED_ENV)
        adele = "adele.vance" + DOMAIN
        st, body = self.w.signed_post({"type": "termination", "user": adele})
        self.assertLess(st, 300, body)
        harness.wait_for("leaver waiting", lambda: len(
            harness.runs(self.root, "workflow = 'leaver' AND status = 'waiting'")) == 1)
        self.assertFalse(self.sim.user(adele)["accountEnabled"])
        leaver = harness.runs(self.root, "workflow = 'leaver'")[0][0]
        st, body = self.w.signed_post({"type": "termination_cancelled", "user": adele})
        self.assertLess(st, 300, body)
        rescind = harness.wait_runs(self.root, "workflow = 'rescind' AND status IN "
                                    "('succeeded', 'failed')")[0]
        self.assertEqual(rescind[2], "succeeded", rescind)
        out = step_output(self.root, rescind[0], 0)
        self.assertEqual(out["cancelled"], [leaver])
        self.assertEqual(len(out["undone"]), 1, out)
        self.assertEqual(out["undone"][0]["run"], leaver)
        undo_run = out["undone"][0]["undo_run"]
        done = harness.wait_runs(self.root, "id = '%s' AND status IN ('succeeded', "
                                 "'succeeded_with_errors', 'failed')" % undo_run)[0]
        self.assertEqual(done[2], "succeeded", done)
        self.assertTrue(self.sim.user(adele)["accountEnabled"])
        self.assertEqual(harness.runs(self.root, "id = '%s'" % leaver)[0][2], "cancelled")

    def test_unknown_workflow_fails_clearly(self):
        wf = RESCIND.replace("workflow: leaver", "workflow: leavr")
        harness.write_config(self.root, {"rescind.yaml": wf}, self.sim)
        self.w = harness.Weir(self.root, env=harness.SIGNED_ENV)
        self.w.signed_post({"type": "termination_cancelled", "user": "adele.vance" + DOMAIN})
        run = harness.wait_runs(self.root, "workflow = 'rescind' AND status = 'failed'")[0]
        self.assertIn("workflow 'leavr' is not loaded", run[3])


if __name__ == "__main__":
    harness.main("WEIR", "GRAPHSIM", "SOURCE")
