#!/usr/bin/env python3
"""End-to-end tests of `weir scope` (the read-only preview of a directory trigger), of
`weir fire WORKFLOW --user` (a run on demand for one user) and of the trigger and user columns
of `weir runs`, against the real build/graphsim (issue #16).

weir runs under a shifted clock (libfaketime, harness.faked; TZ=UTC): 2026-03-20 08:00 UTC, which
is 09:00 in Europe/Berlin. The workflow fires 7 days before employeeHireDate at 09:00 Berlin
time with a catch-up of 3 days, so a due time counts from 2026-03-17 08:00 UTC on. Summer time
begins in Berlin on 2026-03-29 (02:00 CET becomes 03:00 CEST).

usage: test_scope.py WEIR_BINARY GRAPHSIM_BINARY SOURCE_DIR
"""
import http.client
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

NOW = "2026-03-20 08:00:00"

ONBOARD = """
name: onboard
trigger:
  user-date:
    attribute: employeeHireDate
    offset: -7d
    at: "09:00"
    zone: Europe/Berlin
    catch_up: 3d
    select: [department]
steps:
  - id: title
    action: update-user
    user: "{{ event.user.id }}"
    set: { jobTitle: "Starts {{ event.date }} ({{ event.user.department }})" }
"""

HOOK = """
name: hook
trigger:
  webhook: { path: /hooks/hr }
steps:
  - action: update-user
    user: "{{ event.user }}"
    set: { jobTitle: "x" }
"""

DOMAIN = "@contoso.onmicrosoft.com"

# user -> hire date, and what the preview must say at NOW.
HIRES = {
    # due 2026-03-19 09:00 CET: within the catch-up window
    "adele.vance": "2026-03-26T00:00:00Z",
    # due 2026-03-18 09:00 CET: within it, and the journal says it already ran for this date
    "lee.gu": "2026-03-25T00:00:00Z",
    # due 2026-03-13 09:00 CET: older than the catch-up window, not listed
    "megan.bowen": "2026-03-20T00:00:00Z",
    # due 2026-03-23 09:00 CET: later, within 7 days
    "alex.wilber": "2026-03-30T00:00:00Z",
    # due 2026-03-29 09:00 CEST, the day summer time begins: 9 days ahead
    "isaiah.langer": "2026-04-05T00:00:00Z",
    # due 2026-05-25: beyond any window below
    "johanna.lorenz": "2026-06-01T00:00:00Z",
}


def patch_user(sim, upn, body):
    c = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=10)
    c.request("PATCH", "/_sim/users/" + upn, json.dumps(body),
              {"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status != 204:
        raise AssertionError("PATCH /_sim/users/%s: %d %s" % (upn, r.status, data))


# weir's shifted clock (libfaketime, the sanitizer build too): set once, in setUpClass, so that
# every weir run goes on from where the one before stopped (runs are listed in time order).
CLOCK = {}


def weir(root, *args, shifted=True):
    """Runs weir ARGS in root (at NOW when shifted); the CompletedProcess."""
    env = dict(os.environ, TZ="UTC", **harness.GRAPH_ENV)
    if shifted:
        env.update(CLOCK)
    cmd = [harness.WEIR] + list(args)
    return subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=60)


class ScopeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        CLOCK.update(harness.faked(NOW))
        cls.sim = harness.Sim()
        for name, hire in HIRES.items():
            patch_user(cls.sim, name + DOMAIN, {"employeeHireDate": hire})
        cls.root = harness.setup_root(cls.sim, {"onboard.yaml": ONBOARD, "hook.yaml": HOOK},
                                      prefix="weir-scope-")

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()
        shutil.rmtree(cls.root, ignore_errors=True)

    def scope(self, *args):
        r = weir(self.root, "scope", "onboard", "--json", *args)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def rows(self, preview):
        return [(u["userPrincipalName"].split("@")[0], u["state"], u["due"], u["due_local"])
                for u in preview["users"]]

    def test_1_scope_without_a_journal(self):
        """No journal yet: nothing has fired; the users due in the catch-up window and the
        next 7 days, by due time, in UTC and Berlin time."""
        self.assertFalse(os.path.exists(os.path.join(self.root, "var", "weir.db")))
        p = self.scope()
        self.assertEqual(self.rows(p), [
            ("lee.gu", "due now", "2026-03-18T08:00:00Z", "2026-03-18 09:00 CET"),
            ("adele.vance", "due now", "2026-03-19T08:00:00Z", "2026-03-19 09:00 CET"),
            ("alex.wilber", "later", "2026-03-23T08:00:00Z", "2026-03-23 09:00 CET"),
        ])
        self.assertEqual(p["workflow"], "onboard")
        self.assertEqual(p["trigger"], "user-date")
        # the shifted clock starts at NOW and runs on: milliseconds may follow
        self.assertEqual(p["from"][:19], "2026-03-17T08:00:00")
        self.assertEqual(p["to"][:19], "2026-03-27T08:00:00")
        self.assertEqual(p["counts"], {"due now": 2, "later": 1, "fired": 0, "unreadable": 0})
        adele = p["users"][1]
        self.assertEqual(adele["date"], "2026-03-26T00:00:00Z")
        self.assertEqual(adele["displayName"], "Adele Vance")
        # Read-only: no journal was made.
        self.assertFalse(os.path.exists(os.path.join(self.root, "var", "weir.db")))

    def test_2_days(self):
        """--days reaches the DST change day (09:00 CEST is 07:00 UTC) or stops short."""
        p = self.scope("--days", "10")
        self.assertEqual(self.rows(p)[-1], ("isaiah.langer", "later", "2026-03-29T07:00:00Z",
                                            "2026-03-29 09:00 CEST"))
        self.assertEqual(len(p["users"]), 4)
        p = self.scope("--days", "1")
        self.assertEqual([r[0] for r in self.rows(p)], ["lee.gu", "adele.vance"])
        # The text table says the same.
        r = weir(self.root, "scope", "onboard", "--days", "10")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("4 users due", r.stdout)
        self.assertRegex(r.stdout, r"later\s+2026-03-29 09:00 CEST\s+isaiah\.langer@")
        self.assertIn("DUE (Europe/Berlin)", r.stdout)

    def test_3_bad_use(self):
        for days in ("0", "367", "7d", "", "-1"):
            r = weir(self.root, "scope", "onboard", "--days", days)
            self.assertEqual(r.returncode, 2, days)
            self.assertIn("--days takes a whole number of days from 1 to 366", r.stderr)
        r = weir(self.root, "scope", "hook")
        self.assertEqual(r.returncode, 1)
        self.assertIn("workflow 'hook' is triggered by webhook: nothing to preview; scope works "
                      "for workflows triggered by user-date", r.stderr)
        r = weir(self.root, "scope", "onbaord")
        self.assertEqual(r.returncode, 1)
        self.assertIn("did you mean 'onboard'", r.stderr)
        r = weir(self.root, "help", "scope", shifted=False)
        self.assertEqual(r.returncode, 0)
        self.assertIn("weir scope WORKFLOW [--days N]", r.stdout)
        r = weir(self.root, "help", "fire", shifted=False)
        self.assertIn("--user UPN|ID", r.stdout)

    def test_4_fire_user_dry_run(self):
        """The event is built from the user's current state: a changed date is in the plan."""
        upn = "alex.wilber" + DOMAIN
        patch_user(self.sim, upn, {"department": "Retail"})
        r = weir(self.root, "fire", "onboard", "--user", upn, "--dry-run")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("dry run of onboard: the run would end succeeded", r.stdout)
        self.assertIn("Starts 2026-03-30T00:00:00Z (Retail)", r.stdout)
        self.assertFalse(os.path.exists(os.path.join(self.root, "var", "weir.db")))
        # Nothing was written: the title is unchanged.
        self.assertNotIn("Starts", self.sim.user(upn).get("jobTitle") or "")

        r = weir(self.root, "fire", "onboard", "--user", "nobody" + DOMAIN, "--dry-run")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("nobody" + DOMAIN, r.stderr)
        self.assertIn("404", r.stderr)
        self.assertIn("Request_ResourceNotFound", r.stderr)

        # A user without the date: the error names the user and the attribute.
        patch_user(self.sim, "miriam.graham" + DOMAIN, {"employeeHireDate": None})
        r = weir(self.root, "fire", "onboard", "--user", "miriam.graham" + DOMAIN, "--dry-run")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("user miriam.graham%s has no employeeHireDate" % DOMAIN, r.stderr)

        # Kinds without user events, and --event with --user, are refused.
        r = weir(self.root, "fire", "hook", "--user", upn, "--dry-run")
        self.assertEqual(r.returncode, 1)
        self.assertIn("workflow 'hook' is triggered by webhook, which has no user events",
                      r.stderr)
        r = weir(self.root, "fire", "onboard", "--user", upn, "--event", "x.json")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--event and --user exclude each other", r.stderr)

    def test_5_fire_user_and_runs(self):
        """A run on demand is stored like --event's; `weir runs` shows its trigger and user."""
        upn = "adele.vance" + DOMAIN
        r = weir(self.root, "fire", "onboard", "--user", upn)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("workflow onboard matched; 1 run queued", r.stdout)
        db = sqlite3.connect(os.path.join(self.root, "var", "weir.db"))
        body, source = db.execute("SELECT body, source FROM events").fetchone()
        db.close()
        ev = json.loads(body)
        self.assertEqual(source, "manual")
        self.assertTrue(ev["on_demand"])
        self.assertEqual(ev["date"], "2026-03-26T00:00:00Z")
        self.assertEqual(ev["due"], "2026-03-19T08:00:00Z")
        self.assertEqual(ev["user"]["userPrincipalName"], upn)
        self.assertEqual(list(ev["user"]), ["id", "userPrincipalName", "displayName", "mail",
                                            "employeeId", "accountEnabled", "employeeHireDate",
                                            "department"])

        r = weir(self.root, "runs", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        runs = json.loads(r.stdout)
        self.assertEqual((runs[0]["trigger"], runs[0]["user"]), ("manual", upn))
        r = weir(self.root, "runs")
        self.assertRegex(r.stdout, r"TRIGGER\s+USER")
        self.assertRegex(r.stdout, r"onboard\s+queued\s+manual\s+adele\.vance@")

        # A webhook event whose user is a string shows it too.
        hook = {"user": "lee.gu" + DOMAIN}
        path = os.path.join(self.root, "hook.json")
        with open(path, "w") as f:
            json.dump(hook, f)
        r = weir(self.root, "fire", "hook", "--event", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        runs = json.loads(weir(self.root, "runs", "--json").stdout)
        self.assertEqual((runs[0]["workflow"], runs[0]["user"]), ("hook", "lee.gu" + DOMAIN))

    def test_6_scope_sees_what_fired(self):
        """What the runtime journals as fired for a user's current date reads as "fired"; a
        fired entry for another date does not."""
        path = os.path.join(self.root, "hook6.json")
        with open(path, "w") as f:
            json.dump({"user": "lee.gu" + DOMAIN}, f)
        r = weir(self.root, "fire", "hook", "--event", path)  # the journal, when none exists yet
        self.assertEqual(r.returncode, 0, r.stderr)
        users = {u["userPrincipalName"].split("@")[0]: u["id"]
                 for u in self.sim.get("/_sim/state")["users"]}
        db = sqlite3.connect(os.path.join(self.root, "var", "weir.db"))
        db.execute("INSERT INTO trigger_state (scope, name, value, updated_at) VALUES "
                   "('user-date onboard', ?, ?, 0), ('user-date onboard', ?, ?, 0)",
                   ("fired:" + users["lee.gu"],
                    json.dumps({"value": "2026-03-25T00:00:00Z", "due": 1773820800000}),
                    "fired:" + users["adele.vance"],
                    json.dumps({"value": "2026-03-01T00:00:00Z", "due": 0})))
        db.commit()
        db.close()
        p = self.scope()
        self.assertEqual([(r[0], r[1]) for r in self.rows(p)],
                         [("lee.gu", "fired"), ("adele.vance", "due now"),
                          ("alex.wilber", "later")])
        self.assertEqual(p["counts"]["fired"], 1)

    def test_7_api_runs(self):
        """The admin API's run list carries the same trigger and user, and the daemon runs the
        on-demand run with the user's event."""
        root = harness.setup_root(self.sim, {"onboard.yaml": ONBOARD}, prefix="weir-scope-",
                                  admin="127.0.0.1:0")
        try:
            upn = "alex.wilber" + DOMAIN
            patch_user(self.sim, upn, {"department": "Retail"})
            r = weir(root, "fire", "onboard", "--user", upn, shifted=False)
            self.assertEqual(r.returncode, 0, r.stderr)
            w = harness.Weir(root, env=harness.GRAPH_ENV, admin=True)
            try:
                harness.wait_final(root, 1)
                status, page = w.api("GET", "/api/runs")
            finally:
                w.stop()
            self.assertEqual(status, 200)
            run = page["runs"][0]
            self.assertEqual((run["status"], run["trigger"], run["user"]),
                             ("succeeded", "manual", upn))
            self.assertEqual(self.sim.user(upn)["jobTitle"], "Starts 2026-03-30T00:00:00Z (Retail)")
        finally:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    harness.main("WEIR", "GRAPHSIM", "SOURCE")
