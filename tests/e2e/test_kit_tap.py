#!/usr/bin/env python3
"""End-to-end tests of create-tap and share-onedrive / unshare-onedrive (issue #18): the real
`weir run`, the real build/graphsim and a recording HTTP sink, all on 127.0.0.1.

create-tap:
- the request Graph gets (the list of the user's passes, the POST and its body, the read-back);
- the pass reaches a later step (an http-request to the sink, an update-user of a graphsim
  property) while it appears nowhere weir shows or keeps: weir.log, `weir show`, /api/runs,
  the journal's step and run rows (as test_secrets.py greps);
- a second run replaces the first pass, and records the replaced one under "before";
- Graph's refusals (policy off, a user it excludes, a lifetime outside its range, a guest)
  fail the step with Graph's code and message, without retry;
- a literal lifetime Graph would refuse is an error at load (`weir validate`);
- a dry run sends nothing and shows the pass masked;
- after a restart, a later step that would send the pass fails saying it is not kept.

share-onedrive / unshare-onedrive:
- the requests (drive, permissions, invite with its body), the output's before/undo;
- the same share again is changed: false with no write; another role is a PATCH;
- a user without OneDrive is a clear error; a dry run sends nothing;
- unshare removes the permission; again is changed: false.

usage: test_kit_tap.py WEIR_BINARY GRAPHSIM_BINARY SOURCE_DIR
"""
import http.client
import json
import os
import re
import subprocess
import sys
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ADMIN_TOKEN = "admin-file-token-9b1c44"
ADELE = "adele.vance@contoso.onmicrosoft.com"
ADELE_ID = "781f9c58-d664-4fa9-a8a8-529f035efa25"
MEGAN = "megan.bowen@contoso.onmicrosoft.com"
MEGAN_ID = "795b929e-9a9a-40fd-aa7b-5bf55eb561a4"
LEE = "lee.gu@contoso.onmicrosoft.com"
TAP_PATH = "/v1.0/users/%s/authentication/temporaryAccessPassMethods"


def workflows(sink):
    return {
        "onboard.yaml": """
name: onboard
trigger:
  webhook: { path: /hooks/onboard, secret: env:HR_WEBHOOK_SECRET }
steps:
  - id: tap
    action: create-tap
    user: "{{ event.user }}"
    lifetime: 2h
    usable_once: false
  - id: mail
    action: http-request
    method: POST
    url: "http://127.0.0.1:%d/mail"
    body: { to: manager, text: "The pass of {{ event.user }} is {{ steps.tap.pass }}" }
  - id: sendmail
    action: send-mail
    from: megan.bowen@contoso.onmicrosoft.com
    to: megan.bowen@contoso.onmicrosoft.com
    subject: Day-one pass
    body: "<p>The pass of {{ weir.html(event.user) }} is <b>{{ steps.tap.pass }}</b></p>"
  - id: keep
    action: update-user
    user: "{{ event.user }}"
    set: { jobTitle: "{{ steps.tap.pass }}" }
retry: { attempts: 1 }
""" % sink.port,
        "later.yaml": """
name: later
trigger:
  webhook: { path: /hooks/later, secret: env:HR_WEBHOOK_SECRET }
steps:
  - id: tap
    action: create-tap
    user: "{{ event.user }}"
  - wait: 3s
  - id: mail
    action: http-request
    method: POST
    url: "http://127.0.0.1:%d/mail-late"
    body: { text: "pass {{ steps.tap.pass }}" }
retry: { attempts: 1 }
""" % sink.port,
        "hire.yaml": """
name: hire
trigger:
  webhook: { path: /hooks/hire, secret: env:HR_WEBHOOK_SECRET }
steps:
  - id: new
    action: create-user
    set: { userPrincipalName: "{{ event.upn }}", displayName: New Hire, mailNickname: newhire }
  - id: tap
    action: create-tap
    user: "{{ steps.new.id }}"
retry: { attempts: 1, initial: 200ms }
""",
        "share.yaml": """
name: share
trigger:
  webhook: { path: /hooks/share, secret: env:HR_WEBHOOK_SECRET }
steps:
  - id: share
    action: share-onedrive
    user: "{{ event.user }}"
    with: "{{ event.with }}"
    role: "{{ event.role }}"
    message: handing over
retry: { attempts: 1 }
""",
        "unshare.yaml": """
name: unshare
trigger:
  webhook: { path: /hooks/unshare, secret: env:HR_WEBHOOK_SECRET }
steps:
  - id: unshare
    action: unshare-onedrive
    user: "{{ event.user }}"
    with: "{{ event.with }}"
retry: { attempts: 1 }
""",
    }


def sim_call(sim, method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=10)
    c.request(method, path, json.dumps(body) if body is not None else None,
              {"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, (json.loads(data) if data else None)


def cli(root, *args):
    return subprocess.run([harness.WEIR] + list(args), cwd=root, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL,
                          env=dict(os.environ, **harness.SIGNED_ENV))


class KitTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = harness.Sim()
        cls.sink = harness.Sink()
        cls.root = harness.setup_root(cls.sim, workflows(cls.sink), prefix="weir-kit-",
                                      admin="127.0.0.1:0", allow=["127.0.0.1/32"],
                                      admin_token="file:admin.token")
        with open(os.path.join(cls.root, "admin.token"), "w") as f:
            f.write(ADMIN_TOKEN + "\n")
        os.chmod(os.path.join(cls.root, "admin.token"), 0o600)
        cls.w = harness.Weir(cls.root, env=harness.SIGNED_ENV, admin=True, json_only=True)
        cls.nruns = 0

    @classmethod
    def tearDownClass(cls):
        cls.w.stop()
        cls.sim.stop()
        cls.sink.stop()

    def since(self):
        return self.sim.get("/_sim/requests")["value"][-1]["seq"] if \
            self.sim.get("/_sim/requests")["value"] else 0

    def graph_requests(self, seq):
        return [r for r in self.sim.get("/_sim/requests?since=%d" % seq)["value"]
                if r["path"].startswith("/v1.0")]

    def run_hook(self, path, event):
        status, _ = self.w.signed_post(event, path=path)
        self.assertEqual(status, 202)
        type(self).nruns += 1
        rows = harness.wait_final(self.root, type(self).nruns)
        return rows[-1]

    def step_output(self, run_id, step):
        db = harness.journal(self.root)
        row = db.execute("SELECT output, error, status FROM steps WHERE run_id = ? AND "
                         "step_id = ?", (run_id, step)).fetchone()
        db.close()
        return (json.loads(row[0]) if row[0] else None), row[1], row[2]

    def faults(self, body):
        self.sim.post("/_sim/faults", body)

    # {====== create-tap ======

    def test_1_pass_reaches_later_step_and_nothing_else(self):
        seq = self.since()
        run = self.run_hook("/hooks/onboard", {"user": ADELE})
        self.assertEqual(run[2], "succeeded", run)
        reqs = self.graph_requests(seq)
        tap = [r for r in reqs if "temporaryAccessPassMethods" in r["path"]]
        self.assertEqual([r["method"] for r in tap], ["GET", "POST", "GET"], tap)
        self.assertEqual(tap[1]["path"], TAP_PATH % ADELE_ID)
        self.assertEqual(json.loads(tap[1]["body"]),
                         {"lifetimeInMinutes": 120, "isUsableOnce": False})
        # the later steps got the real pass
        mails = self.sink.wait("/mail", 1)
        m = re.search(r"is (\S+)$", mails[-1]["body"]["text"])
        passwd = m.group(1)
        self.assertNotEqual(passwd, "[redacted]")
        self.assertGreaterEqual(len(passwd), 8)
        self.assertEqual(self.sim.user(ADELE)["jobTitle"], passwd)
        # the manager's mail, as graphsim received it, holds it
        sent = [m for m in self.sim.get("/_sim/mail")["value"] if m["subject"] == "Day-one pass"]
        self.assertTrue(sent and passwd in sent[-1]["body"], sent)
        # ... and it is the user's current pass in graphsim
        out, _, _ = self.step_output(run[0], "tap")
        self.assertEqual(out["pass"], "[redacted]")
        self.assertIn("undo_impossible", out)
        self.assertEqual(out["lifetimeInMinutes"], 120)
        self.assertIsNone(out["before"]["replaced"])
        # nowhere weir shows or keeps it
        outputs = {}
        r = cli(self.root, "show", run[0])
        outputs["weir show"] = r.stdout + r.stderr
        r = cli(self.root, "show", run[0], "--json")
        outputs["weir show --json"] = r.stdout + r.stderr
        self.assertIn("[redacted]", outputs["weir show --json"])
        for path in ("/api/runs", "/api/runs/" + run[0]):
            status, _, outputs[path] = self.w.call("GET", path, ADMIN_TOKEN)
            self.assertEqual(status, 200, outputs[path])
        db = harness.journal(self.root)
        outputs["journal"] = json.dumps(db.execute("SELECT * FROM runs").fetchall() +
                                        db.execute("SELECT * FROM steps").fetchall())
        db.close()
        with open(self.w.log_path) as f:
            outputs["weir.log"] = f.read()
        for where, text in outputs.items():
            self.assertNotIn(passwd, text, "%s leaks the pass" % where)

        # a second run replaces it, and says which it replaced
        run2 = self.run_hook("/hooks/onboard", {"user": ADELE})
        self.assertEqual(run2[2], "succeeded", run2)
        out2, _, _ = self.step_output(run2[0], "tap")
        self.assertEqual(out2["before"]["replaced"]["id"], out["id"])
        self.assertNotEqual(out2["id"], out["id"])

    def test_2_refusals(self):
        cases = [
            ({"tap_policy": {"state": "disabled"}}, "not enabled"),
            ({"tap_policy": {"state": "enabled", "excludeUsers": [MEGAN]}}, "not enabled for"),
            ({"tap_policy": {"excludeUsers": [], "maximumLifetimeInMinutes": 90}},
             "valid range between 60 and 90"),
        ]
        for fault, text in cases:
            self.faults(fault)
            run = self.run_hook("/hooks/onboard", {"user": MEGAN})
            self.assertEqual(run[2], "failed", run)
            self.assertIn("400 badRequest", run[3])
            self.assertIn(text, run[3])
            self.assertIn("policy", run[3])
        self.faults({"tap_policy": {"maximumLifetimeInMinutes": 480}})
        # a guest
        st, _ = sim_call(self.sim, "PATCH", "/_sim/users/" + LEE, {"userType": "Guest"})
        self.assertEqual(st, 204)
        run = self.run_hook("/hooks/onboard", {"user": LEE})
        self.assertEqual(run[2], "failed", run)
        self.assertIn("guest", run[3])
        sim_call(self.sim, "PATCH", "/_sim/users/" + LEE, {"userType": "Member"})
        # a step failed by Graph's 400 is not retried: one POST
        db = harness.journal(self.root)
        attempts = db.execute("SELECT attempts FROM steps WHERE run_id = ? AND step_id = 'tap'",
                              (run[0],)).fetchone()[0]
        db.close()
        self.assertEqual(attempts, 1)

    def test_3_validate_and_dry_run(self):
        bad = os.path.join(self.root, "bad")
        os.makedirs(os.path.join(bad, "workflows"), exist_ok=True)
        harness.write_config(bad, {"t.yaml": """
name: t
trigger:
  webhook: { path: /hooks/t, secret: env:HR_WEBHOOK_SECRET }
steps:
  - action: create-tap
    user: x@contoso.onmicrosoft.com
    lifetime: 5m
    start: 2027-02-30T08:00:00Z
"""}, self.sim)
        r = cli(bad, "validate")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("10m to 30d", r.stdout + r.stderr)
        self.assertIn("day 30", r.stdout + r.stderr)

        seq = self.since()
        ev = os.path.join(self.root, "ev.json")
        with open(ev, "w") as f:
            json.dump({"user": ADELE}, f)
        r = cli(self.root, "fire", "onboard", "--event", ev, "--dry-run")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("temporaryAccessPassMethods", r.stdout)
        self.assertIn("[redacted]", r.stdout)
        writes = [x for x in self.graph_requests(seq) if x["method"] != "GET"]
        self.assertEqual(writes, [])

    def test_4_restart_does_not_send_the_mask(self):
        # the pass is created, the run waits (durably) 3 s, weir is killed and started again:
        # the resumed run must not send "[redacted]" in the pass's place.
        self.faults({"tap_policy": {"state": "enabled", "excludeUsers": []}})
        w = type(self).w
        status, _ = w.signed_post({"user": ADELE}, path="/hooks/later")
        self.assertEqual(status, 202)
        type(self).nruns += 1
        rid = harness.wait_runs(self.root, "workflow = 'later' AND status = 'waiting'")[0][0]
        w.kill()
        type(self).w = harness.Weir(self.root, env=harness.SIGNED_ENV, admin=True,
                                    json_only=True)
        rows = harness.wait_final(self.root, type(self).nruns)
        run = [r for r in rows if r[0] == rid][0]
        self.assertEqual(self.sink.calls("/mail-late"), [])
        self.assertEqual(run[2], "failed", run)
        self.assertIn("not kept across restarts", run[3])
        self.assertIn("steps.tap", run[3])

    def test_4b_two_runs_at_once_hand_out_one_pass(self):
        # Two runs create a pass for the same user at the same time (slow answers make them
        # overlap): the second pass replaces the first, so the run whose pass was replaced
        # must fail rather than hand it out; the other hands out the user's current pass.
        self.faults({"latency_ms": 400})
        seq = self.since()
        try:
            before = len(self.sink.calls("/mail"))
            for _ in range(2):
                status, _ = self.w.signed_post({"user": MEGAN}, path="/hooks/onboard")
                self.assertEqual(status, 202)
            type(self).nruns += 2
            rows = harness.wait_final(self.root, type(self).nruns)
        finally:
            self.faults({"latency_ms": 0})
        methods = [r["method"] for r in self.graph_requests(seq)
                   if r["path"].endswith("temporaryAccessPassMethods")]
        if methods == ["GET", "POST", "GET"] * 2:
            self.skipTest("the two runs did not overlap: %s" % methods)
        runs = rows[-2:]
        self.assertEqual(sorted(r[2] for r in runs), ["failed", "succeeded"], (runs, methods))
        failed = [r for r in runs if r[2] == "failed"][0]
        ok = [r for r in runs if r[2] == "succeeded"][0]
        out, _, _ = self.step_output(ok[0], "tap")
        self.assertIn("replaced at once by pass %s" % out["id"], failed[3])
        self.assertEqual(len(self.sink.calls("/mail")), before + 1)

    def test_4c_new_user_replica_lag(self):
        # create-user, then create-tap at once: a replica without the new user answers 404,
        # which is replica lag (retried), not a failure.
        self.faults({"replica_lag": 1})
        try:
            run = self.run_hook("/hooks/hire", {"upn": "new.hire@contoso.onmicrosoft.com"})
        finally:
            self.faults({"replica_lag": 0})
        self.assertEqual(run[2], "succeeded", run)
        db = harness.journal(self.root)
        attempts = db.execute("SELECT attempts FROM steps WHERE run_id = ? AND step_id = 'tap'",
                              (run[0],)).fetchone()[0]
        db.close()
        self.assertGreater(attempts, 1)

    # }======

    # {====== share-onedrive ======

    def test_5_share_and_unshare(self):
        seq = self.since()
        run = self.run_hook("/hooks/share", {"user": ADELE, "with": MEGAN, "role": "read"})
        self.assertEqual(run[2], "succeeded", run)
        reqs = self.graph_requests(seq)
        paths = [(r["method"], urllib.parse.unquote(r["path"].split("?")[0])) for r in reqs
                 if "/drive" in r["path"]]
        drive = "b!" + ADELE_ID
        self.assertEqual(paths, [("GET", "/v1.0/users/%s/drive" % ADELE_ID),
                                 ("GET", "/v1.0/drives/%s/root/permissions" % drive),
                                 ("POST", "/v1.0/drives/%s/root/invite" % drive)])
        invite = [r for r in reqs if r["method"] == "POST"][-1]
        self.assertEqual(json.loads(invite["body"]),
                         {"recipients": [{"email": MEGAN}], "roles": ["read"],
                          "requireSignIn": True, "sendInvitation": False,
                          "message": "handing over"})
        out, _, _ = self.step_output(run[0], "share")
        self.assertTrue(out["changed"])
        self.assertIsNone(out["before"]["role"])
        self.assertEqual(out["undo"], [{"action": "unshare-onedrive", "user": ADELE_ID,
                                        "with": MEGAN_ID}])
        # already so: no write
        seq = self.since()
        run = self.run_hook("/hooks/share", {"user": ADELE, "with": MEGAN, "role": "read"})
        self.assertEqual(run[2], "succeeded", run)
        out, _, _ = self.step_output(run[0], "share")
        self.assertFalse(out["changed"])
        self.assertEqual(out["undo"], [])
        self.assertEqual([r for r in self.graph_requests(seq) if r["method"] != "GET"], [])
        # another role: a PATCH of the permission, undone by sharing the old role
        seq = self.since()
        run = self.run_hook("/hooks/share", {"user": ADELE, "with": MEGAN, "role": "write"})
        self.assertEqual(run[2], "succeeded", run)
        writes = [r for r in self.graph_requests(seq) if r["method"] != "GET"]
        self.assertEqual(len(writes), 1)
        self.assertEqual(writes[0]["method"], "PATCH")
        self.assertEqual(json.loads(writes[0]["body"]), {"roles": ["write"]})
        out, _, _ = self.step_output(run[0], "share")
        self.assertEqual(out["before"]["role"], "read")
        self.assertEqual(out["undo"][0]["action"], "share-onedrive")
        self.assertEqual(out["undo"][0]["role"], "read")
        # unshare removes it; again is changed: false
        seq = self.since()
        run = self.run_hook("/hooks/unshare", {"user": ADELE, "with": MEGAN_ID})
        self.assertEqual(run[2], "succeeded", run)
        writes = [r for r in self.graph_requests(seq) if r["method"] != "GET"]
        self.assertEqual([w["method"] for w in writes], ["DELETE"])
        out, _, _ = self.step_output(run[0], "unshare")
        self.assertTrue(out["changed"])
        self.assertEqual(out["undo"][0]["role"], "write")
        run = self.run_hook("/hooks/unshare", {"user": ADELE, "with": MEGAN_ID})
        out, _, _ = self.step_output(run[0], "unshare")
        self.assertFalse(out["changed"])
        # an outside address is invited by address
        run = self.run_hook("/hooks/share", {"user": ADELE, "with": "ext@fabrikam.example",
                                             "role": "read"})
        self.assertEqual(run[2], "succeeded", run)
        out, _, _ = self.step_output(run[0], "share")
        self.assertIsNone(out["with"]["id"])
        self.assertEqual(out["undo"][0]["with"], "ext@fabrikam.example")

    def test_6_share_refusals_and_dry_run(self):
        self.faults({"no_onedrive": [MEGAN]})
        run = self.run_hook("/hooks/share", {"user": MEGAN, "with": ADELE, "role": "read"})
        self.assertEqual(run[2], "failed", run)
        self.assertIn("no OneDrive", run[3])
        self.assertIn("mysite not found", run[3])
        self.faults({"no_onedrive": [], "onedrive_forbidden": True})
        run = self.run_hook("/hooks/share", {"user": MEGAN, "with": ADELE, "role": "read"})
        self.assertEqual(run[2], "failed", run)
        self.assertIn("403 accessDenied", run[3])
        self.faults({"onedrive_forbidden": False})
        seq = self.since()
        ev = os.path.join(self.root, "ev2.json")
        with open(ev, "w") as f:
            json.dump({"user": MEGAN, "with": ADELE, "role": "write"}, f)
        r = cli(self.root, "fire", "share", "--event", ev, "--dry-run")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("/root/invite", r.stdout)
        self.assertEqual([x for x in self.graph_requests(seq) if x["method"] != "GET"], [])

    # }======


if __name__ == "__main__":
    harness.main("WEIR", "GRAPHSIM", "SOURCE")
