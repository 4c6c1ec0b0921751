"""The user-date trigger end to end (issue #16): the real `weir run` on a shifted clock
(libfaketime, see harness.faked) against build/graphsim, whose users get their dates through
PATCH /_sim/users. Checked through the journal: which users fire, when, how often, and what the
re-check before a run does.

usage: test_user_date.py WEIR GRAPHSIM SOURCE
"""
import json
import os
import random
import shutil
import subprocess
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

MEGAN = "megan.bowen@contoso.onmicrosoft.com"
ALEX = "alex.wilber@contoso.onmicrosoft.com"
ADELE = "adele.vance@contoso.onmicrosoft.com"
LEE = "lee.gu@contoso.onmicrosoft.com"
ISAIAH = "isaiah.langer@contoso.onmicrosoft.com"

# 7 days before the hire date at 09:00 in Berlin (CET, UTC+1 until 2026-03-29).
PREHIRE = """name: prehire
trigger:
  user-date:
    attribute: employeeHireDate
    offset: -7d
    at: "09:00"
    zone: Europe/Berlin
    every: 1s%s
concurrency_key: "%s"
steps:
  - id: note
    action: update-user
    user: "{{ event.user.id }}"
    set: { jobTitle: "starts {{ event.date }}" }
"""


def prehire(extra="", ckey="{{ event.user.id }}"):
    return PREHIRE % (extra, ckey)


# Holds every run of concurrency key "hold" for a few seconds: a run stored meanwhile waits
# before its first step, so a test can change the user between the poll and the start.
BLOCKER = """name: blocker
trigger:
  webhook:
    path: /hooks/hold
    secret: env:HR_WEBHOOK_SECRET
concurrency_key: "hold"
steps:
  - wait: 6s
"""


def patch(sim, upn, **props):
    req = urllib.request.Request("http://127.0.0.1:%d/_sim/users/%s" % (sim.port, upn),
                                 data=json.dumps(props).encode(), method="PATCH",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 204, r.status


def user_id(sim, upn):
    return sim.user(upn)["id"]


def fired(root, where="1=1"):
    """{user id: [(status, error, received_at, date, due)]} of the runs of user-date events."""
    c = harness.journal(root)
    rows = c.execute("SELECT r.status, r.error, e.received_at, e.body FROM runs r JOIN events e "
                     "ON e.id = r.event_id WHERE e.source LIKE 'user-date %' AND " + where +
                     " ORDER BY e.received_at").fetchall()
    c.close()
    out = {}
    for status, error, at, body in rows:
        ev = json.loads(body)
        out.setdefault(ev["user"]["id"], []).append((status, error, at, ev["date"], ev["due"]))
    return out


def ms(text):
    """Unix ms of a UTC time "2026-03-20 08:00:00"."""
    return int((time.mktime(time.strptime(text, "%Y-%m-%d %H:%M:%S")) - time.timezone) * 1000)


def wait_rounds(w, n, start=0):
    """Waits until n more rounds of the poll ended (each logs nothing: /metrics counts them)."""
    def rounds():
        try:
            text = w.call("GET", "/metrics")[2]
        except Exception:  # noqa: BLE001
            return 0
        total = 0
        for line in text.splitlines():
            if line.startswith("weir_trigger_polls_total{") and 'trigger="user-date"' in line:
                total += float(line.rsplit(" ", 1)[1])
        return total
    base = rounds() if start is None else start
    harness.wait_for("%d poll rounds" % n, lambda: rounds() >= base + n, timeout=30)
    return rounds()


class UserDate(unittest.TestCase):
    def setUp(self):
        self.sim = harness.Sim()
        self.root = None
        self.weir = None

    def tearDown(self):
        if self.weir:
            self.weir.stop()
        self.sim.stop()
        if self.root and os.environ.get("KEEP"):
            print("kept", self.root)
        elif self.root:
            shutil.rmtree(self.root, ignore_errors=True)

    def start(self, at, workflows=None, **config):
        if not self.root:
            self.root = harness.setup_root(self.sim, workflows or {"prehire.yaml": prehire()},
                                           admin="127.0.0.1:0", **config)
        env = dict(harness.GRAPH_ENV, **harness.faked(at))
        self.weir = harness.Weir(self.root, env=env, admin=True)
        return self.weir

    def test_window_catch_up_and_later(self):
        """Due inside the catch-up window: fires at once. Due before it, or after the next
        round: nothing. Due a few seconds later: fires at its due time, not at a poll."""
        patch(self.sim, ALEX, employeeHireDate="2026-03-25T00:00:00Z")   # due 2 days ago
        patch(self.sim, LEE, employeeHireDate="2026-03-22T00:00:00Z")    # 5 days ago: too old
        patch(self.sim, ADELE, employeeHireDate="2026-03-10T00:00:00Z")  # long gone
        patch(self.sim, ISAIAH, employeeHireDate="2026-04-30T00:00:00Z")  # weeks ahead
        patch(self.sim, MEGAN, employeeHireDate="2026-03-27T00:00:00Z")  # due in 8 s
        # 08:59:52 in Berlin; Megan is due at 09:00 Berlin = 08:00:00 UTC. First what `weir
        # scope` says will happen (read-only), at the same time.
        self.root = harness.setup_root(self.sim, {"prehire.yaml": prehire()},
                                       admin="127.0.0.1:0")
        env = dict(os.environ, **harness.GRAPH_ENV, **harness.faked("2026-03-20 07:59:52"))
        out = subprocess.run([harness.WEIR, "scope", "prehire", "-c", "weir.yaml", "--days", "1",
                              "--json"], cwd=self.root, env=env, capture_output=True, text=True,
                             timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        preview = {u["userPrincipalName"]: (u["state"], u["due"])
                   for u in json.loads(out.stdout)["users"]}
        self.assertEqual(preview, {ALEX: ("due now", "2026-03-18T08:00:00Z"),
                                   MEGAN: ("later", "2026-03-20T08:00:00Z")})
        self.assertFalse(os.path.exists(os.path.join(self.root, "var", "weir.db")))
        w = self.start("2026-03-20 07:59:52")
        alex, megan = user_id(self.sim, ALEX), user_id(self.sim, MEGAN)
        harness.wait_for("Megan's run", lambda: megan in fired(self.root), timeout=30)
        wait_rounds(w, 3, start=None)
        runs = fired(self.root)
        self.assertEqual(set(runs), {alex, megan}, runs)
        self.assertEqual(len(runs[alex]), 1)
        self.assertEqual(runs[alex][0][4], "2026-03-18T08:00:00Z")
        self.assertEqual(len(runs[megan]), 1)
        status, error, at, date, due = runs[megan][0]
        self.assertEqual((date, due), ("2026-03-27T00:00:00Z", "2026-03-20T08:00:00Z"))
        # At its due time (the clock is weir's, shifted), not up to a round later.
        self.assertGreaterEqual(at, ms("2026-03-20 08:00:00"))
        self.assertLess(at, ms("2026-03-20 08:00:00") + 900)
        harness.wait_final(self.root, 2)
        self.assertTrue(all(r[0][0] == "succeeded" for r in fired(self.root).values()))
        # The users scope listed are the users that fired, at the due times it said.
        self.assertEqual({user_id(self.sim, u) for u in preview}, set(runs))
        self.assertEqual(preview[MEGAN][1], runs[megan][0][4])
        self.assertEqual(self.sim.user(ALEX)["jobTitle"], "starts 2026-03-25T00:00:00Z")

        # The date changes after the run: a run for the new date, once.
        patch(self.sim, ALEX, employeeHireDate="2026-03-26T00:00:00Z")
        harness.wait_for("Alex's second run", lambda: len(fired(self.root)[alex]) == 2)
        wait_rounds(w, 3, start=None)
        self.assertEqual([r[3] for r in fired(self.root)[alex]],
                         ["2026-03-25T00:00:00Z", "2026-03-26T00:00:00Z"])

        # A restart later that day fires nothing again (the journal remembers what fired).
        w.stop()
        w = self.weir = self.start("2026-03-20 10:00:00")
        wait_rounds(w, 3, start=None)
        self.assertEqual({k: len(v) for k, v in fired(self.root).items()}, {alex: 2, megan: 1})
        text = w.call("GET", "/metrics")[2]
        self.assertIn('weir_trigger_polls_total{trigger="user-date",workflow="prehire",'
                      'outcome="ok"}', text)
        self.assertIn('weir_trigger_last_poll_success_timestamp_seconds{trigger="user-date"', text)

    def test_due_later_survives_a_restart(self):
        """A user due later is remembered in the journal: after a stop it fires at its due time
        even when Graph cannot be read any more."""
        patch(self.sim, MEGAN, employeeHireDate="2026-03-27T00:00:00Z")  # due 08:00:00 UTC
        w = self.start("2026-03-20 07:59:40")
        wait_rounds(w, 2, start=None)
        c = harness.journal(self.root)
        names = [r[0] for r in c.execute("SELECT name FROM trigger_state")]
        c.close()
        self.assertEqual(names, ["due:" + user_id(self.sim, MEGAN)])
        w.stop()
        # Graph's user list now fails: the remembered user still fires, from the journal.
        self.sim.post("/_sim/faults", {"bad_answer": {"kind": "html", "count": 1000,
                                                      "method": "GET", "path": "/users"}})
        w = self.start("2026-03-20 07:59:55")
        megan = user_id(self.sim, MEGAN)
        harness.wait_for("Megan's run", lambda: megan in fired(self.root), timeout=30)
        self.assertGreaterEqual(fired(self.root)[megan][0][2], ms("2026-03-20 08:00:00"))
        # The failed rounds fire nothing, say so in /readyz, and count as failed.
        body = w.api("GET", "/readyz")[1]
        self.assertIn("prehire", json.dumps(body["checks"].get("polls", {})))
        self.assertNotEqual(body["checks"]["polls"]["user-date prehire"], "ok")
        self.assertIn('outcome="failed"', w.call("GET", "/metrics")[2])
        self.assertEqual(len(fired(self.root)), 1)

    def test_recheck_before_the_run(self):
        """Between the poll and the run's first step the date moves, or the filter stops
        holding: the run ends cancelled with the reason, nothing is done to the user."""
        wfs = {"prehire.yaml": prehire("\n    filter: \"department eq 'Sales'\"", "hold"),
               "blocker.yaml": BLOCKER}
        self.root = harness.setup_root(self.sim, wfs, admin="127.0.0.1:0")
        env = dict(harness.SIGNED_ENV, **harness.faked("2026-03-20 12:00:00"))
        self.started = time.time()
        self.weir = w = harness.Weir(self.root, env=env, admin=True)
        # The blocker's run holds key "hold" first; then three users come due.
        # Signed at weir's (shifted) time: standard-webhooks refuses a timestamp 5 min off.
        body = json.dumps({"hold": 1}).encode()
        now = ms("2026-03-20 12:00:00") // 1000 + int(time.time() - self.started)
        status, _ = w.post("/hooks/hold", body, headers=harness.signed_headers(body, ts=now,
                                                                           ctype=None))
        self.assertLess(status, 300)
        harness.wait_runs(self.root, "workflow = 'blocker' AND status = 'waiting'")
        patch(self.sim, MEGAN, employeeHireDate="2026-03-25T00:00:00Z", department="Sales")
        patch(self.sim, ALEX, employeeHireDate="2026-03-25T00:00:00Z", department="Sales")
        patch(self.sim, LEE, employeeHireDate="2026-03-25T00:00:00Z", department="Sales")
        harness.wait_for("three user-date runs",
                         lambda: sum(len(v) for v in fired(self.root).values()) == 3)
        patch(self.sim, MEGAN, employeeHireDate="2026-04-20T00:00:00Z")  # moved
        patch(self.sim, ALEX, department="Marketing")                    # filter fails
        runs = harness.wait_final(self.root, 4, timeout=60)
        by = fired(self.root)
        megan, alex, lee = (user_id(self.sim, u) for u in (MEGAN, ALEX, LEE))
        self.assertEqual(by[megan][0][0], "cancelled")
        self.assertIn("employeeHireDate of user %s moved from 2026-03-25T00:00:00Z to "
                      "2026-04-20T00:00:00Z" % MEGAN, by[megan][0][1])
        self.assertEqual(by[alex][0][0], "cancelled")
        self.assertIn("no longer matches the trigger's filter (department eq 'Sales')",
                      by[alex][0][1])
        self.assertEqual(by[lee][0][0], "succeeded")
        self.assertNotIn("jobTitle", {k for k, v in self.sim.user(MEGAN).items()
                                      if v and str(v).startswith("starts")})
        self.assertFalse(str(self.sim.user(ALEX).get("jobTitle", "")).startswith("starts"))
        self.assertEqual(len(runs), 4)
        # `weir runs` lists them for the admin.
        out = subprocess.run([harness.WEIR, "runs", "-c", "weir.yaml", "--status", "cancelled"],
                             cwd=self.root, capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("prehire", out.stdout)

    def test_reload_changes_the_time_of_day(self):
        """SIGHUP with the workflow's `at` moved: the new time applies at once (the watcher of the
        changed workflow replaces the old one, with what it remembered), one run in all."""
        patch(self.sim, MEGAN, employeeHireDate="2026-03-27T00:00:00Z")  # 09:00 Berlin: 08:00Z
        w = self.start("2026-03-20 07:59:00")
        wait_rounds(w, 2, start=None)
        megan = user_id(self.sim, MEGAN)
        self.assertNotIn(megan, fired(self.root))
        with open(os.path.join(self.root, "workflows", "prehire.yaml"), "w") as f:
            f.write(prehire().replace('"09:00"', '"08:30"'))  # 07:30Z: due already
        mark = w.mark()
        w.proc.send_signal(1)  # SIGHUP
        w.wait_log("workflows reloaded", start=mark)
        harness.wait_for("Megan's run", lambda: megan in fired(self.root), timeout=30)
        wait_rounds(w, 2, start=None)
        runs = fired(self.root)[megan]
        self.assertEqual(len(runs), 1, runs)
        self.assertEqual(runs[0][4], "2026-03-20T07:30:00Z")
        self.assertLess(runs[0][2], ms("2026-03-20 08:00:00"))

    def test_dst_change_day(self):
        """Europe/Berlin springs forward on 2026-03-29 at 02:00 (to 03:00). A run due at 02:30
        that day is due at the first instant after the jump (03:00 CEST = 01:00 UTC); one due
        at 09:00 is 09:00 CEST = 07:00 UTC, an hour earlier in UTC than the day before."""
        wfs = {"early.yaml": prehire().replace('"09:00"', '"02:30"').replace("prehire", "early"),
               "prehire.yaml": prehire()}
        patch(self.sim, MEGAN, employeeHireDate="2026-04-05T00:00:00Z")  # -7d: 2026-03-29
        self.root = harness.setup_root(self.sim, wfs, admin="127.0.0.1:0")
        w = self.start("2026-03-29 00:59:55")
        megan = user_id(self.sim, MEGAN)
        harness.wait_for("the early run", lambda: megan in fired(self.root, "r.workflow = 'early'"),
                         timeout=30)
        status, error, at, date, due = fired(self.root, "r.workflow = 'early'")[megan][0]
        self.assertEqual(due, "2026-03-29T01:00:00Z")
        self.assertGreaterEqual(at, ms("2026-03-29 01:00:00"))
        self.assertNotIn(megan, fired(self.root, "r.workflow = 'prehire'"))
        w.stop()
        self.start("2026-03-29 06:59:57")
        harness.wait_for("the 09:00 run",
                         lambda: megan in fired(self.root, "r.workflow = 'prehire'"), timeout=30)
        status, error, at, date, due = fired(self.root, "r.workflow = 'prehire'")[megan][0]
        self.assertEqual(due, "2026-03-29T07:00:00Z")
        self.assertGreaterEqual(at, ms("2026-03-29 07:00:00"))
        self.assertEqual(len(fired(self.root, "r.workflow = 'early'")[megan]), 1)


class Crashes(unittest.TestCase):
    def test_kill_9_during_rounds(self):
        """Many users due at once, weir killed -9 again and again while it reads, commits and
        runs: in the end every due user had exactly one run, and it succeeded."""
        sim = harness.Sim("--generate-users", "300")
        try:
            users = [u for u in sim.get("/_sim/state")["users"]
                     if u["userPrincipalName"].startswith("user")][:120]
            if len(users) < 120:
                users = sim.get("/_sim/state")["users"][:120]
            for i, u in enumerate(users):
                # due 2026-03-18, 19 and 20 at 08:00 UTC: all within catch_up (3d) at 12:00
                patch(sim, u["id"], employeeHireDate="2026-03-2%dT00:00:00Z" % (5 + i % 3))
            root = harness.setup_root(sim, {"prehire.yaml": prehire()})
            rng = random.Random(16)
            for _ in range(6):
                env = dict(harness.GRAPH_ENV, **harness.faked("2026-03-20 12:00:00"))
                w = harness.Weir(root, env=env)
                time.sleep(rng.uniform(0.05, 0.6))
                w.kill()
            env = dict(harness.GRAPH_ENV, **harness.faked("2026-03-20 12:00:00"))
            w = harness.Weir(root, env=env)
            try:
                harness.wait_for("a run per user", lambda: len(fired(root)) == len(users),
                                 timeout=90)
                harness.wait_final(root, len(users), timeout=120)
                time.sleep(3)  # a few more rounds: nothing more fires
                runs = fired(root)
                self.assertEqual(len(runs), len(users))
                for uid, rs in runs.items():
                    self.assertEqual([r[0] for r in rs], ["succeeded"], uid)
                self.assertEqual(len(harness.runs(root)), len(users))
            finally:
                w.stop()
                if os.environ.get("KEEP"):
                    print("kept", root)
                else:
                    shutil.rmtree(root, ignore_errors=True)
        finally:
            sim.stop()


if __name__ == "__main__":
    harness.main("WEIR", "GRAPHSIM", "SOURCE")
