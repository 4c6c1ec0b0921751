#!/usr/bin/env python3
"""End-to-end tests of the mass-change brake (issue #17, `guard:` in weir.yaml): the real
`weir run`, the real build/graphsim and a small recording HTTP sink, all on 127.0.0.1.

A leaver workflow calls the sink (a step that changes no user) and then disables the user.
With `guard.destructive.max: 3` (or `percent: 2` of a 200-user tenant, i.e. 4), a burst of
10 leavers must disable exactly the limit's worth of users and hold the other runs before
their `disable-user` step, whatever started them (signed webhooks, a CSV drop, `weir fire`):

- the held runs have status `held`, the reason in their error, the held step's row `held`;
  the sink got every run's first step, `guard.notify` ran exactly once (a run of the internal
  workflow `guard.notify`) with the limit in scope;
- `weir held --json` and `GET /api/held` list them under the workflow with their users;
- they stay held across a restart (SIGTERM) and a kill -9, and graphsim is not touched;
- `weir release` / `POST /api/held/release` resumes exactly the named runs (those users are
  disabled, no other); `weir reject --all` / `POST /api/held/reject` ends the rest
  `cancelled` and changes nothing in graphsim;
- /metrics: `weir_guard_held_runs` follows the held runs, `weir_guard_trips_total` counts;
- `weir fire --dry-run` says a destructive step would be held while the brake is on.

usage: test_guard.py WEIR_BINARY GRAPHSIM_BINARY SOURCE_DIR
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

DOMAIN = "@contoso.onmicrosoft.com"
CLI_TIMEOUT = 60
SETTLE = 60  # seconds for 10 runs to reach succeeded/held


def synth(i):
    """graphsim's synthetic user i (1-based)."""
    return "synth%06d%s" % (i, DOMAIN)


LEAVERS = [synth(i) for i in range(1, 11)]


Sink = harness.Sink


def leaver_workflow(sink, trigger, user="{{ event.user }}", name="leaver"):
    """A workflow whose first step calls the sink's /pre (no user changed) and whose second,
    `disable`, disables the user."""
    return """
name: %s
trigger:
%s
steps:
  - id: tell
    action: http-request
    method: POST
    url: "http://127.0.0.1:%d/pre"
    body: { user: "%s" }
  - id: disable
    action: disable-user
    user: "%s"
""" % (name, trigger, sink.port, user, user)


WEBHOOK = "  webhook: { path: /hooks/hr, secret: env:HR_WEBHOOK_SECRET }"
FILE = "  file: { dir: ./spool, pattern: \"*.csv\" }"


def guard_config(sink, destructive):
    """weir.yaml's guard: block with a notify step that posts to the sink's /guard."""
    return """guard:
  destructive: %s
  notify:
    - action: http-request
      method: POST
      url: "http://127.0.0.1:%d/guard"
      body: { held: "{{ guard.held }}", limit: "{{ guard.limit }}", which: "{{ guard.which }}",
              count: "{{ guard.count }}", reason: "{{ guard.reason }}" }
""" % (destructive, sink.port)


def cli(root, *args):
    """`weir ARGS` in root with graphsim's and the webhook's secrets; a hang fails."""
    return subprocess.run([harness.WEIR] + list(args), cwd=root, capture_output=True, text=True,
                          timeout=CLI_TIMEOUT, stdin=subprocess.DEVNULL,
                          env=dict(os.environ, **harness.SIGNED_ENV))


def parse_json(text, what):
    try:
        return json.loads(text)
    except ValueError:
        raise AssertionError("%s is not JSON: %r" % (what, text[:2000]))


admin = harness.admin
metric = harness.metric


def user_of(root, run_id):
    """The leaver (event.user or event.row.email) of a run, lower case, from its event."""
    c = harness.journal(root)
    try:
        row = c.execute("SELECT e.body FROM runs r JOIN events e ON e.id = r.event_id "
                        "WHERE r.id = ?", (run_id,)).fetchone()
    finally:
        c.close()
    if not row:
        raise AssertionError("no event for run %s" % run_id)
    body = json.loads(row[0])
    u = body.get("user") or (body.get("row") or {}).get("email")
    return (u or "").lower()


def body_of(request):
    """A sink request's JSON body as a dict ({} when it is something else)."""
    return request["body"] if isinstance(request["body"], dict) else {}


def step_rows(root, run_id):
    """{step_id: (status, args)} of a run's main steps."""
    c = harness.journal(root)
    try:
        rows = c.execute("SELECT step_id, status, args FROM steps WHERE run_id = ? AND idx < 1000 "
                         "ORDER BY idx", (run_id,)).fetchall()
    finally:
        c.close()
    return {sid: (status, json.loads(args) if args else None) for sid, status, args in rows}


class GuardBase(unittest.TestCase):
    users = 12  # synthetic users in graphsim

    def setUp(self):
        self.sink = Sink()
        self.sim = harness.Sim("--generate-users", str(self.users))
        self.root = None
        self.w = None

    def tearDown(self):
        try:
            if self.w and self.w.proc.poll() is None:
                self.w.stop()
        finally:
            self.sim.stop()
            self.sink.stop()
            if self.root and os.environ.get("KEEP"):
                print("kept", self.root)
            elif self.root:
                shutil.rmtree(self.root, ignore_errors=True)

    # ---- set-up ----

    def make_root(self, workflows, destructive="{ max: 3 }"):
        self.root = harness.setup_root(self.sim, workflows, prefix="weir-guard-",
                                       admin="127.0.0.1:0", allow=["127.0.0.1/32"])
        with open(os.path.join(self.root, "weir.yaml"), "a") as f:
            f.write(guard_config(self.sink, destructive))
        return self.root

    def start(self):
        self.w = harness.Weir(self.root, env=harness.SIGNED_ENV, admin=True)
        return self.w

    # ---- what there is ----

    def leaver_runs(self):
        return harness.runs(self.root, "workflow = 'leaver'")

    def settle(self, n=10, timeout=SETTLE):
        """The leaver runs once there are n and each is finished or held."""
        deadline = time.time() + timeout
        rs = []
        while time.time() < deadline:
            if os.path.exists(os.path.join(self.root, "var", "weir.db")):
                rs = self.leaver_runs()
                if len(rs) >= n and all(r[2] in harness.FINAL + ("held",) for r in rs):
                    return rs
            time.sleep(0.1)
        raise AssertionError("leaver runs not settled in %ss: %s" % (timeout, rs))

    def disabled(self, users=LEAVERS):
        """The users among users that graphsim has disabled, lower case."""
        out = set()
        for upn in users:
            u = self.sim.user(upn)
            self.assertIsNotNone(u, upn)
            if u.get("accountEnabled") is False:
                out.add(upn.lower())
        return out

    def mutations(self):
        return self.sim.get("/_sim/stats")["mutations"]

    def held_cli(self):
        out = cli(self.root, "held", "-c", "weir.yaml", "--json")
        self.assertEqual(out.returncode, 0, "weir held --json: %s %s" % (out.stdout, out.stderr))
        listing = parse_json(out.stdout, "weir held --json")
        self.assertIsInstance(listing, dict, listing)
        return listing

    # ---- the checks every trigger shares ----

    def check_tripped(self, limit, which="max", users=LEAVERS):
        """After the burst: exactly `limit` users disabled, the rest of the runs held before
        `disable` with the reason, every run's first step done once, guard.notify once.
        Returns {run id: user} of the held runs."""
        rs = self.settle(len(users))
        self.assertEqual(len(rs), len(users), rs)
        statuses = sorted(r[2] for r in rs)
        self.assertEqual(statuses, ["held"] * (len(users) - limit) + ["succeeded"] * limit, rs)
        gone = self.disabled(users)
        self.assertEqual(len(gone), limit, gone)
        held = {r[0]: user_of(self.root, r[0]) for r in rs if r[2] == "held"}
        done = {user_of(self.root, r[0]) for r in rs if r[2] == "succeeded"}
        self.assertEqual(done, gone)
        self.assertEqual(set(held.values()) | gone, {u.lower() for u in users})
        # the step before the destructive one ran for every run, once
        pre = self.sink.wait("/pre", len(users))
        self.assertEqual(sorted(str(body_of(p).get("user")).lower() for p in pre),
                         sorted(u.lower() for u in users), pre)
        # the reason: which limit, in the run's error; the held step's row is `held`
        errors = [r[3] or "" for r in rs if r[2] == "held"]
        for e in errors:
            self.assertTrue("held by the guard" in e or "the brake is on" in e, errors)
        self.assertTrue(any("guard.destructive." + which in e and "limit %d" % limit in e
                            for e in errors), errors)
        for run_id, upn in held.items():
            steps = step_rows(self.root, run_id)
            self.assertEqual(steps.get("tell", (None,))[0], "succeeded", steps)
            self.assertIn("disable", steps, steps)
            self.assertEqual(steps["disable"][0], "held", steps)
            self.assertEqual(str((steps["disable"][1] or {}).get("user")).lower(), upn, steps)
        # guard.notify: once, with the limit that tripped
        notes = self.sink.wait("/guard", 1)
        self.assertIsInstance(notes[0]["body"], dict, notes)
        body = body_of(notes[0])
        self.assertEqual(str(body.get("limit")), str(limit), body)
        self.assertEqual(body.get("which"), which, body)
        self.assertRegex(str(body.get("held")), r"^[1-9][0-9]*$", body)
        self.assertIn(which, str(body.get("reason")), body)
        notify_runs = harness.runs(self.root, "workflow = 'guard.notify'")
        self.assertEqual(len(notify_runs), 1, notify_runs)
        return held

    def check_held_listing(self, listing, held):
        """A `weir held --json` / GET /api/held answer against {run id: user}."""
        self.assertIsInstance(listing, dict, listing)
        self.assertEqual(listing.get("count"), len(held), listing)
        wfs = listing.get("workflows")
        self.assertIsInstance(wfs, list, listing)
        self.assertEqual([w.get("workflow") for w in wfs if isinstance(w, dict)], ["leaver"],
                         listing)
        runs = wfs[0].get("runs") or []
        self.assertEqual(sorted(str(r.get("id")) for r in runs), sorted(held), listing)
        for r in runs:
            upn = held[r["id"]]
            ids = {upn, self.sim.user(upn)["id"].lower()}
            self.assertIn(str(r.get("user")).lower(), ids, r)
            self.assertTrue(r["id"].startswith(str(r.get("short_id"))), r)
            step = r.get("step") or {}
            self.assertEqual((step.get("idx"), step.get("step_id"), step.get("action")),
                             (1, "disable", "disable-user"), r)
            self.assertEqual(str((step.get("args") or {}).get("user")).lower(), upn, r)
            self.assertIn({"idx": 1, "step_id": "disable", "action": "disable-user"},
                          r.get("destructive_steps") or [], r)
            self.assertTrue(r.get("reason"), r)
            self.assertTrue(r.get("held_at"), r)


class WebhookBrake(GuardBase):
    def test_max_with_cli_restart_kill_release_reject(self):
        """Cases 1 and 5: guard.destructive.max 3, 10 signed leaver webhooks."""
        self.make_root({"leaver.yaml": leaver_workflow(self.sink, WEBHOOK)})
        w = self.start()
        for upn in LEAVERS:
            status, body = w.signed_post({"user": upn})
            self.assertEqual(status, 202, body)
        held = self.check_tripped(3)
        self.assertEqual(metric(w, "weir_guard_held_runs"), 7)
        self.assertGreaterEqual(metric(w, "weir_guard_trips_total") or 0, 1)
        self.check_held_listing(self.held_cli(), held)
        # `weir runs` and the admin API show the status
        out = cli(self.root, "runs", "-c", "weir.yaml", "--status", "held", "--json",
                  "--limit", "100")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(sorted(r["id"] for r in parse_json(out.stdout, "weir runs --json")),
                         sorted(held))
        status, page = admin(w, "GET", "/api/runs?status=held&limit=100")
        self.assertEqual(status, 200, page)
        self.assertEqual(sorted(r["id"] for r in page["runs"]), sorted(held))
        before = self.mutations()

        # case 5: a dry run while the brake is on says the step would be held, changes nothing
        ev = os.path.join(self.root, "spare.json")
        with open(ev, "w") as f:
            json.dump({"user": synth(11)}, f)
        out = cli(self.root, "fire", "leaver", "-c", "weir.yaml", "--event", ev, "--dry-run")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("would be held by the guard", out.stdout)
        self.assertEqual(self.mutations(), before)
        self.assertEqual(len(self.leaver_runs()), 10)
        self.assertTrue(self.sim.user(synth(11))["accountEnabled"])

        # a restart (SIGTERM), then a kill -9: still held, graphsim untouched
        self.assertEqual(w.stop(), 0)
        w = self.start()
        time.sleep(2)
        self.assertEqual(len(harness.runs(self.root, "workflow = 'leaver' AND status = 'held'")),
                         7)
        self.assertEqual(self.held_cli().get("count"), 7)
        self.assertEqual(metric(w, "weir_guard_held_runs"), 7)
        w.kill()
        w = self.start()
        time.sleep(2)
        self.assertEqual(sorted(r[0] for r in harness.runs(
            self.root, "workflow = 'leaver' AND status = 'held'")), sorted(held))
        self.check_held_listing(self.held_cli(), held)
        self.assertEqual(self.mutations(), before)
        self.assertEqual(len(self.disabled()), 3)
        self.assertEqual(len(self.sink.calls("/pre")), 10)  # the first steps did not run again

        # release two: exactly those users are disabled
        two = sorted(held)[:2]
        out = cli(self.root, "release", "-c", "weir.yaml", *two)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        lines = [ln for ln in out.stdout.splitlines() if ln.strip()]
        for run_id in two:
            self.assertTrue(any(run_id in ln and "released" in ln for ln in lines), out.stdout)
        for run_id in two:
            harness.wait_runs(self.root, "id = '%s' AND status = 'succeeded'" % run_id)
        gone_before = {u.lower() for u in LEAVERS} - set(held.values())
        self.assertEqual(self.disabled(LEAVERS + [synth(11), synth(12)]),
                         gone_before | {held[r] for r in two})
        self.assertEqual(self.mutations(), before + 2)
        rest = sorted(set(held) - set(two))
        self.assertEqual(sorted(r[0] for r in harness.runs(
            self.root, "workflow = 'leaver' AND status = 'held'")), rest)
        self.assertEqual(metric(w, "weir_guard_held_runs"), 5)

        # reject the rest: cancelled with the reason, graphsim unchanged
        after_release = self.mutations()
        out = cli(self.root, "reject", "-c", "weir.yaml", "--all", "--reason", "x")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        rs = {r[0]: r for r in self.leaver_runs()}
        for run_id in rest:
            self.assertEqual(rs[run_id][2], "cancelled", rs[run_id])
            self.assertIn("rejected by weir reject: x", rs[run_id][3] or "", rs[run_id])
        time.sleep(1)
        self.assertEqual(self.mutations(), after_release)
        self.assertEqual(len(self.disabled()), 5)
        self.assertEqual(self.held_cli().get("count"), 0)
        self.assertIn(metric(w, "weir_guard_held_runs"), (0, None))  # labelled: maybe no sample
        self.assertEqual(len(self.sink.calls("/guard")), 1)  # notify ran once in all
        self.assertEqual(len(harness.runs(self.root, "workflow = 'guard.notify'")), 1)


class OtherTriggers(GuardBase):
    def test_csv_drop(self):
        """Case 2: the same brake on 10 rows of a CSV dropped into a file trigger's spool."""
        self.make_root({"leaver.yaml": leaver_workflow(self.sink, FILE, "{{ event.row.email }}")})
        spool = os.path.join(self.root, "spool")
        os.makedirs(spool, exist_ok=True)
        self.start()
        part = os.path.join(spool, ".leavers.csv.part")
        with open(part, "w") as f:
            f.write("email,reason\n" + "".join("%s,left\n" % u for u in LEAVERS))
        os.rename(part, os.path.join(spool, "leavers.csv"))
        held = self.check_tripped(3)
        self.check_held_listing(self.held_cli(), held)

    def test_weir_fire(self):
        """Case 2: the same brake on 10 runs stored by `weir fire` while the daemon runs."""
        self.make_root({"leaver.yaml": leaver_workflow(self.sink, WEBHOOK)})
        self.start()
        for i, upn in enumerate(LEAVERS):
            ev = os.path.join(self.root, "ev%d.json" % i)
            with open(ev, "w") as f:
                json.dump({"user": upn}, f)
            out = cli(self.root, "fire", "leaver", "-c", "weir.yaml", "--event", ev)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        held = self.check_tripped(3)
        self.check_held_listing(self.held_cli(), held)


class PercentBrake(GuardBase):
    users = 189  # with the seed's 11: a tenant of 200 users, 2% of which is 4

    def test_percent_of_the_tenant(self):
        """Case 3: percent 2 of 200 users (4) is lower than max 100 and wins."""
        self.assertEqual(self.sim.get("/_sim/stats")["users"], 200)
        self.make_root({"leaver.yaml": leaver_workflow(self.sink, WEBHOOK)},
                       destructive="{ max: 100, percent: 2, window: 1h }")
        w = self.start()
        for upn in LEAVERS:
            status, body = w.signed_post({"user": upn})
            self.assertEqual(status, 202, body)
        held = self.check_tripped(4, which="percent")
        self.assertEqual(len(held), 6)
        listing = self.held_cli()
        self.check_held_listing(listing, held)
        self.assertTrue(any("percent" in str(r.get("reason"))
                            for r in listing["workflows"][0]["runs"]), listing)


class WorkflowOverride(GuardBase):
    def test_workflow_guard_and_non_destructive_runs(self):
        """A workflow's own `guard: { destructive: { max: 1 } }` overrides weir.yaml's 3; a
        workflow without destructive steps is never held, even with the brake on."""
        wf = leaver_workflow(self.sink, WEBHOOK) + "guard: { destructive: { max: 1 } }\n"
        retitle = """
name: retitle
trigger:
  webhook: { path: /hooks/title, secret: env:HR_WEBHOOK_SECRET }
steps:
  - id: title
    action: update-user
    user: "{{ event.user }}"
    set: { jobTitle: "Leaving" }
"""
        self.make_root({"leaver.yaml": wf, "retitle.yaml": retitle})
        w = self.start()
        for upn in LEAVERS[:3]:
            status, body = w.signed_post({"user": upn})
            self.assertEqual(status, 202, body)
        held = self.check_tripped(1, users=LEAVERS[:3])
        self.assertEqual(len(held), 2)
        status, body = w.signed_post({"user": synth(12)}, path="/hooks/title")
        self.assertEqual(status, 202, body)
        rs = harness.wait_runs(self.root, "workflow = 'retitle' AND status IN ('succeeded', "
                               "'failed', 'held', 'cancelled')")
        self.assertEqual(rs[0][2], "succeeded", rs)
        self.assertEqual(self.sim.user(synth(12))["jobTitle"], "Leaving")
        self.assertEqual(self.held_cli().get("count"), 2)


class AdminApi(GuardBase):
    def test_held_release_reject_over_the_api(self):
        """Case 4: GET /api/held, POST /api/held/release {"runs"}, POST /api/held/reject
        {"all"}."""
        self.make_root({"leaver.yaml": leaver_workflow(self.sink, WEBHOOK)})
        w = self.start()
        for upn in LEAVERS:
            status, body = w.signed_post({"user": upn})
            self.assertEqual(status, 202, body)
        held = self.check_tripped(3)
        status, listing = admin(w, "GET", "/api/held")
        self.assertEqual(status, 200, listing)
        self.assertIsInstance(listing, dict, listing)
        self.check_held_listing(listing, held)
        self.assertEqual(listing, self.held_cli())
        before = self.mutations()
        gone = self.disabled()

        two = sorted(held)[:2]
        status, body = admin(w, "POST", "/api/held/release", {"runs": two})
        self.assertEqual(status, 200, body)
        self.assertEqual(sorted((body or {}).get("released") or []), two, body)
        for run_id in two:
            harness.wait_runs(self.root, "id = '%s' AND status = 'succeeded'" % run_id)
        self.assertEqual(self.disabled(), gone | {held[r] for r in two})
        self.assertEqual(self.mutations(), before + 2)

        rest = sorted(set(held) - set(two))
        after_release = self.mutations()
        status, body = admin(w, "POST", "/api/held/reject", {"all": True, "reason": "api says no"})
        self.assertEqual(status, 200, body)
        self.assertEqual(sorted((body or {}).get("rejected") or []), rest, body)
        rs = {r[0]: r for r in self.leaver_runs()}
        for run_id in rest:
            self.assertEqual(rs[run_id][2], "cancelled", rs[run_id])
            self.assertIn("api says no", rs[run_id][3] or "", rs[run_id])
        time.sleep(1)
        self.assertEqual(self.mutations(), after_release)
        status, listing = admin(w, "GET", "/api/held")
        self.assertEqual((status, listing.get("count") if isinstance(listing, dict) else listing),
                         (200, 0))
        self.assertIn(metric(w, "weir_guard_held_runs"), (0, None))  # labelled: maybe no sample
        self.assertEqual(len(self.sink.calls("/guard")), 1)


if __name__ == "__main__":
    harness.main("WEIR", "GRAPHSIM", "SOURCE")
