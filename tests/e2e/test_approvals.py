#!/usr/bin/env python3
"""End-to-end tests of the approval step (issue #17): the real `weir run`, the real
build/graphsim and a small recording HTTP sink, all on 127.0.0.1.

The workflow asks two approvers (a fixed address and the event's manager) whether to disable
a user; its approval `notify:` posts both links to the sink, its `on_error` step posts to the
sink's /on_error. weir.yaml's `approvals.public_url` is the webhook listener's address (a port
fixed before weir starts, so a restarted weir answers the same links).

- the run waits (status `waiting`); a GET of a link (a mail scanner) answers the page and
  decides nothing; the page escapes hostile event content and carries CSP and
  X-Frame-Options: DENY;
- a token with one character changed answers 404 and decides nothing;
- POST decision=approve: the run goes on, the user is disabled, the step's output names who
  decided; a second POST, or the other approver's, answers 409 and changes nothing;
- a reject through a link fails the step "rejected by NAME: REASON" and runs on_error;
- a timeout fails the step "no decision within 2s" and runs on_error; the link then answers 410;
- after a kill -9 and a restart the same link still decides; the journal holds only the
  SHA-256 of a token, the key file is 32 bytes, mode 0600;
- `weir approve RUN --as NAME` [--reject --reason], POST /api/runs/ID/approve|reject;
- two approval steps in one run, decided one after the other.

usage: test_approvals.py WEIR_BINARY GRAPHSIM_BINARY SOURCE_DIR
"""
import hashlib
import http.client
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

DOMAIN = "@contoso.onmicrosoft.com"
LEAD = "it-lead@contoso.com"
MANAGER = "megan.bowen" + DOMAIN
ADELE = "adele.vance" + DOMAIN
ALEX = "alex.wilber" + DOMAIN
LEE = "lee.gu" + DOMAIN
HOSTILE = "<img src=x onerror=alert(1)>"
CLI_TIMEOUT = 60
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")


Sink = harness.Sink


def body_of(request):
    """A sink request's JSON body as a dict ({} when it is something else)."""
    return request["body"] if isinstance(request["body"], dict) else {}


def offboard(sink, timeout="1h"):
    """The two-approver workflow: approval `ok`, then `disable`; on_error posts to /on_error."""
    return """
name: offboard
trigger:
  webhook: { path: /hooks/hr, secret: env:HR_WEBHOOK_SECRET }
steps:
  - id: ok
    approval:
      approvers: [%(lead)s, "{{ event.manager }}"]
      message: "Offboard {{ event.user }} now? {{ event.note }}"
      timeout: %(timeout)s
      notify:
        - action: http-request
          method: POST
          url: "http://127.0.0.1:%(port)d/approval"
          body:
            user: "{{ event.user }}"
            lead: "{{ approval.links['%(lead)s'] }}"
            manager: "{{ approval.links['%(manager)s'] }}"
            message: "{{ approval.message }}"
  - id: disable
    action: disable-user
    user: "{{ event.user }}"
on_error:
  - id: tell
    action: http-request
    method: POST
    url: "http://127.0.0.1:%(port)d/on_error"
    body: { user: "{{ event.user }}", error: "{{ error.message }}" }
""" % {"lead": LEAD, "manager": MANAGER, "port": sink.port, "timeout": timeout}


def two_stage(sink):
    """Two approval steps with one approver each (approval.url), then `disable`."""
    return """
name: staged
trigger:
  webhook: { path: /hooks/staged, secret: env:HR_WEBHOOK_SECRET }
steps:
  - id: first
    approval:
      approvers: [%(lead)s]
      message: "Stage 1 for {{ event.user }}"
      timeout: 1h
      notify:
        - action: http-request
          method: POST
          url: "http://127.0.0.1:%(port)d/stage1"
          body: { url: "{{ approval.url }}" }
  - id: second
    approval:
      approvers: ["{{ event.manager }}"]
      message: "Stage 2 for {{ event.user }}"
      timeout: 1h
      notify:
        - action: http-request
          method: POST
          url: "http://127.0.0.1:%(port)d/stage2"
          body: { url: "{{ approval.url }}" }
  - id: disable
    action: disable-user
    user: "{{ event.user }}"
""" % {"lead": LEAD, "port": sink.port}


def request(url, method="GET", form=None):
    """(status, {header lower case: value}, body text) of one request to an absolute
    http://127.0.0.1 URL; form (a dict) is sent urlencoded."""
    u = urllib.parse.urlsplit(url)
    if u.hostname != "127.0.0.1":
        raise AssertionError("a link not on 127.0.0.1: %r" % url)
    c = http.client.HTTPConnection("127.0.0.1", u.port, timeout=30)
    try:
        data = urllib.parse.urlencode(form) if form is not None else None
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if form is not None else {}
        c.request(method, u.path + ("?" + u.query if u.query else ""), body=data,
                  headers=headers)
        r = c.getresponse()
        text = r.read().decode(errors="replace")
    finally:
        c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, text


def decide(url, decision="approve", reason=None):
    form = {"decision": decision}
    if reason is not None:
        form["reason"] = reason
    return request(url, "POST", form)


def tampered(url):
    """url with the first character of its token changed."""
    head, token = url.rsplit("/", 1)
    first = "B" if token[:1] == "A" else "A"
    return head + "/" + first + token[1:]


def cli(root, *args):
    """`weir ARGS` in root with graphsim's and the webhook's secrets; a hang fails."""
    return subprocess.run([harness.WEIR] + list(args), cwd=root, capture_output=True, text=True,
                          timeout=CLI_TIMEOUT, stdin=subprocess.DEVNULL,
                          env=dict(os.environ, **harness.SIGNED_ENV))


admin = harness.admin
metric = harness.metric


class ApprovalBase(unittest.TestCase):
    def setUp(self):
        self.sink = Sink()
        self.sim = harness.Sim()
        self.root = None
        self.w = None
        self.port = None

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

    def make_root(self, workflows):
        """A root whose webhook listener has a fixed port, the approvals' public_url."""
        self.root = harness.setup_root(self.sim, workflows, prefix="weir-approve-",
                                       admin="127.0.0.1:0", allow=["127.0.0.1/32"])
        self.port = harness.free_port()
        path = os.path.join(self.root, "weir.yaml")
        with open(path) as f:
            text = f.read()
        fixed = text.replace("webhook: 127.0.0.1:0", "webhook: 127.0.0.1:%d" % self.port, 1)
        if fixed == text:
            raise AssertionError("no webhook listener line in weir.yaml: " + text)
        with open(path, "w") as f:
            f.write(fixed + "approvals:\n  public_url: \"http://127.0.0.1:%d\"\n" % self.port)
        return self.root

    def start(self):
        self.w = harness.Weir(self.root, env=harness.SIGNED_ENV, admin=True)
        self.assertEqual(self.w.port, self.port)
        return self.w

    def begin(self, user, note="", path="/hooks/hr", manager=MANAGER):
        """Posts a leaver for user; the run id once it waits at its approval."""
        status, body = self.w.signed_post({"user": user, "manager": manager, "note": note},
                                          path=path)
        self.assertEqual(status, 202, body)
        ev = body.get("event_id") if isinstance(body, dict) else None
        where = "status = 'waiting'" + (" AND event_id = '%s'" % ev if ev else "")
        return harness.wait_runs(self.root, where)[0][0]

    def links(self, user, path="/approval"):
        """{"lead": url, "manager": url, "message": text} the notify step posted for user."""
        deadline = time.time() + 30
        while time.time() < deadline:
            for r in self.sink.calls(path):
                b = body_of(r)
                if str(b.get("user")).lower() == user.lower():
                    return b
            time.sleep(0.05)
        raise AssertionError("no %s notification for %s: %s" % (path, user, self.sink.requests))

    def check_link(self, url):
        self.assertIsInstance(url, str, url)
        prefix = "http://127.0.0.1:%d/approvals/" % self.port
        self.assertTrue(url.startswith(prefix), url)
        self.assertRegex(url[len(prefix):], TOKEN_RE)

    def status(self, run_id):
        rs = harness.runs(self.root, "id = '%s'" % run_id)
        self.assertEqual(len(rs), 1, rs)
        return rs[0][2]

    def final(self, run_id, timeout=30):
        """(status, error) of run_id once it is finished."""
        deadline = time.time() + timeout
        rs = []
        while time.time() < deadline:
            rs = harness.runs(self.root, "id = '%s'" % run_id)
            if rs and rs[0][2] in harness.FINAL:
                return rs[0][2], rs[0][3] or ""
            time.sleep(0.05)
        raise AssertionError("run %s not finished: %s" % (run_id, rs))

    def wait_status(self, run_id, status, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.status(run_id) == status:
                return
            time.sleep(0.05)
        raise AssertionError("run %s is %s, not %s" % (run_id, self.status(run_id), status))

    def show(self, run_id):
        out = cli(self.root, "show", "-c", "weir.yaml", "--json", run_id)
        self.assertEqual(out.returncode, 0, out.stderr)
        try:
            return json.loads(out.stdout)
        except ValueError:
            raise AssertionError("weir show --json is not JSON: %r" % out.stdout[:2000])

    def step(self, run_id, step_id):
        """The step row step_id of `weir show --json`."""
        shown = self.show(run_id)
        for s in shown.get("steps") or []:
            if s.get("step_id") == step_id:
                return s
        raise AssertionError("no step %s in %s" % (step_id, shown))

    def enabled(self, upn):
        return self.sim.user(upn)["accountEnabled"]

    def undecided(self, run_id):
        c = harness.journal(self.root)
        try:
            rows = c.execute("SELECT decision FROM approvals WHERE run_id = ?",
                             (run_id,)).fetchall()
        finally:
            c.close()
        self.assertTrue(rows, "no approval stored for " + run_id)
        self.assertEqual([r[0] for r in rows], [None] * len(rows))

    def check_approved_by(self, run_id, step_id, who):
        s = self.step(run_id, step_id)
        self.assertEqual(s.get("status"), "succeeded", s)
        out = s.get("output")
        self.assertIsInstance(out, dict, s)
        self.assertEqual(out.get("decision"), "approved", s)
        self.assertEqual(out.get("by"), who, s)
        self.assertRegex(str(out.get("at")), r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", s)


class LinkTest(ApprovalBase):
    def test_get_decides_nothing_post_approves_once(self):
        self.make_root({"offboard.yaml": offboard(self.sink)})
        w = self.start()
        run_id = self.begin(ADELE, note=HOSTILE)
        links = self.links(ADELE)
        self.check_link(links.get("lead"))
        self.check_link(links.get("manager"))
        self.assertNotEqual(links["lead"], links["manager"])
        self.assertEqual(self.status(run_id), "waiting")
        self.assertEqual(metric(w, "weir_approvals_pending"), 1)

        # a mail scanner fetches the link: the page, nothing decided
        for _ in range(2):
            status, headers, page = request(links["lead"])
            self.assertEqual(status, 200, page)
            self.assertTrue(headers.get("content-type", "").startswith("text/html"), headers)
            self.assertIn("content-security-policy", headers)
            self.assertEqual(headers.get("x-frame-options", "").upper(), "DENY", headers)
            self.assertNotIn(HOSTILE, page)
            self.assertNotIn("<img src=x", page.lower())
            self.assertIn("&lt;img", page)
            self.assertIn(ADELE, page)  # the message
            self.assertIn("approve", page.lower())
            self.assertIn("reject", page.lower())
        time.sleep(0.5)
        self.assertEqual(self.status(run_id), "waiting")
        self.assertTrue(self.enabled(ADELE))
        self.undecided(run_id)

        # a token with one character changed: 404 without detail, nothing decided
        bad = tampered(links["lead"])
        for status, _, text in (request(bad), decide(bad)):
            self.assertEqual(status, 404, text)
            self.assertNotIn(run_id, text)
            self.assertNotIn("offboard", text.lower())
        time.sleep(0.5)
        self.assertEqual(self.status(run_id), "waiting")
        self.assertTrue(self.enabled(ADELE))
        self.undecided(run_id)

        # the decision
        status, _, text = decide(links["lead"])
        self.assertTrue(200 <= status < 400, (status, text))
        self.assertEqual(self.final(run_id), ("succeeded", ""))
        self.assertFalse(self.enabled(ADELE))
        self.check_approved_by(run_id, "ok", LEAD)
        self.assertIn(metric(w, "weir_approvals_pending"), (0, None))  # labelled: maybe no sample

        # later POSTs: 409, nothing changes
        mutations = self.sim.get("/_sim/stats")["mutations"]
        for url, decision in ((links["lead"], "approve"), (links["lead"], "reject"),
                              (links["manager"], "reject"), (links["manager"], "approve")):
            status, _, text = decide(url, decision)
            self.assertEqual(status, 409, (url, decision, text))
        self.assertEqual(self.sim.get("/_sim/stats")["mutations"], mutations)
        self.check_approved_by(run_id, "ok", LEAD)
        self.assertEqual(self.sink.calls("/on_error"), [])
        self.assertEqual(len(self.sink.calls("/approval")), 1)  # notify ran once

    def test_second_approver_after_a_reject(self):
        """Two approvers: the manager rejects (with a reason) first; the lead's later POST is
        409; the step fails naming the manager and on_error runs."""
        self.make_root({"offboard.yaml": offboard(self.sink)})
        self.start()
        run_id = self.begin(ALEX)
        links = self.links(ALEX)
        status, _, text = decide(links["manager"], "reject", "not yet")
        self.assertTrue(200 <= status < 400, (status, text))
        status, err = self.final(run_id)
        self.assertEqual(status, "failed")
        self.assertIn("rejected by " + MANAGER, err)
        self.assertIn("not yet", err)
        status, _, text = decide(links["lead"], "approve")
        self.assertEqual(status, 409, text)
        self.assertTrue(self.enabled(ALEX))
        s = self.step(run_id, "ok")
        self.assertEqual(s.get("status"), "failed", s)
        self.assertIn("rejected by " + MANAGER, s.get("error") or "", s)
        notes = self.sink.wait("/on_error", 1)
        self.assertIn("rejected by " + MANAGER, str(body_of(notes[0]).get("error")), notes)
        c = harness.journal(self.root)
        try:
            row = c.execute("SELECT decision, decided_by FROM approvals WHERE run_id = ?",
                            (run_id,)).fetchone()
        finally:
            c.close()
        self.assertIsNotNone(row)
        self.assertEqual(row[1], MANAGER, row)
        self.assertTrue(str(row[0]).startswith("reject"), row)

    def test_retry_after_a_rejection_asks_again(self):
        """`weir retry` of a run whose approval was rejected asks again: new links (the old
        ones answer 409), the notify step once more; approved then, the run goes on."""
        self.make_root({"offboard.yaml": offboard(self.sink)})
        self.start()
        run_id = self.begin(ADELE)
        first = self.links(ADELE)
        status, _, text = decide(first["lead"], "reject", "not today")
        self.assertTrue(200 <= status < 400, (status, text))
        self.assertEqual(self.final(run_id)[0], "failed")
        out = cli(self.root, "retry", "-c", "weir.yaml", run_id)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        harness.wait_runs(self.root, "id = '%s' AND status = 'waiting'" % run_id)
        calls = self.sink.wait("/approval", 2)
        second = body_of(calls[-1])
        self.assertNotEqual(second["lead"], first["lead"])
        self.assertEqual(decide(first["lead"], "approve")[0], 404)  # replaced: unknown now
        status, _, text = decide(second["lead"], "approve")
        self.assertTrue(200 <= status < 400, (status, text))
        self.assertEqual(self.final(run_id), ("succeeded", ""))
        self.assertFalse(self.enabled(ADELE))
        self.check_approved_by(run_id, "ok", LEAD)

    def test_dry_run_asks_nobody(self):
        """`weir fire --dry-run` plans the approval: nobody asked, no request or token stored,
        no notify sent, the following steps planned as if approved, nothing changed."""
        self.make_root({"offboard.yaml": offboard(self.sink)})
        self.start()
        event = os.path.join(self.root, "event.json")
        with open(event, "w") as f:
            json.dump({"user": ADELE, "manager": MANAGER, "note": ""}, f)
        mutations = self.sim.get("/_sim/stats")["mutations"]
        out = cli(self.root, "fire", "-c", "weir.yaml", "offboard", "--event", event,
                  "--dry-run")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("approval request", out.stdout)
        self.assertIn("nobody was asked", out.stdout)
        self.assertIn("disable-user", out.stdout)
        self.assertEqual(self.sink.calls("/approval"), [])
        self.assertEqual(self.sim.get("/_sim/stats")["mutations"], mutations)
        c = harness.journal(self.root)
        try:
            self.assertEqual(c.execute("SELECT count(*) FROM approvals").fetchone()[0], 0)
            self.assertEqual(c.execute("SELECT count(*) FROM approval_tokens").fetchone()[0], 0)
        finally:
            c.close()
        self.assertTrue(self.enabled(ADELE))

    def test_timeout_fails_the_step_and_runs_on_error(self):
        self.make_root({"offboard.yaml": offboard(self.sink, timeout="2s")})
        self.start()
        run_id = self.begin(LEE)
        links = self.links(LEE)
        status, err = self.final(run_id, timeout=30)
        self.assertEqual(status, "failed")
        self.assertIn("no decision within 2s", err)
        notes = self.sink.wait("/on_error", 1)
        self.assertIn("no decision within 2s", str(body_of(notes[0]).get("error")), notes)
        self.assertTrue(self.enabled(LEE))
        # the link expired with the timeout
        status, _, text = decide(links["lead"])
        self.assertEqual(status, 410, text)
        self.assertNotIn(run_id, text)
        self.assertEqual(self.final(run_id)[0], "failed")
        self.assertTrue(self.enabled(LEE))

    def test_same_link_after_kill_9(self):
        self.make_root({"offboard.yaml": offboard(self.sink)})
        self.start()
        run_id = self.begin(ADELE)
        links = self.links(ADELE)
        time.sleep(0.5)  # the notify step's completion committed: it is not sent again
        self.w.kill()
        self.start()
        time.sleep(0.5)
        self.assertEqual(self.status(run_id), "waiting")
        self.assertTrue(self.enabled(ADELE))
        status, _, page = request(links["manager"])
        self.assertEqual(status, 200, page)
        status, _, text = decide(links["manager"])
        self.assertTrue(200 <= status < 400, (status, text))
        self.assertEqual(self.final(run_id), ("succeeded", ""))
        self.assertFalse(self.enabled(ADELE))
        self.check_approved_by(run_id, "ok", MANAGER)
        self.assertEqual(len(self.sink.calls("/approval")), 1)  # no second request after restart

        # what is kept: the key (32 bytes, 0600) and only the hashes of the tokens
        key = os.path.join(self.root, "var", "weir.db.approval-key")
        st = os.stat(key)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual(st.st_size, 32)
        tokens = [links[k].rsplit("/", 1)[1] for k in ("lead", "manager")]
        c = harness.journal(self.root)
        try:
            hashes = {r[0] for r in c.execute("SELECT hash FROM approval_tokens WHERE run_id = ?",
                                              (run_id,))}
            kept = [str(v) for row in c.execute("SELECT * FROM approvals") for v in row]
            kept += [str(v) for row in c.execute("SELECT * FROM approval_tokens") for v in row]
        finally:
            c.close()
        self.assertEqual(hashes, {hashlib.sha256(t.encode()).hexdigest() for t in tokens})
        for t in tokens:
            self.assertFalse(any(t in v for v in kept), "a token is stored in the journal")


class CliApiTest(ApprovalBase):
    def test_cli_and_admin_api(self):
        self.make_root({"offboard.yaml": offboard(self.sink)})
        w = self.start()
        approved = self.begin(ADELE)
        rejected = self.begin(ALEX)
        by_api = self.begin(LEE)
        self.assertEqual(metric(w, "weir_approvals_pending"), 3)

        out = cli(self.root, "approve", "-c", "weir.yaml", approved, "--as", "alice")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertEqual(self.final(approved), ("succeeded", ""))
        self.check_approved_by(approved, "ok", "alice")
        self.assertFalse(self.enabled(ADELE))
        out = cli(self.root, "approve", "-c", "weir.yaml", approved, "--as", "mallory")
        self.assertNotEqual(out.returncode, 0, out.stdout)  # already decided
        self.check_approved_by(approved, "ok", "alice")

        out = cli(self.root, "approve", "-c", "weir.yaml", rejected, "--reject", "--as", "bob",
                  "--reason", "nope")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        status, err = self.final(rejected)
        self.assertEqual(status, "failed")
        self.assertIn("rejected by bob: nope", err)
        self.assertTrue(self.enabled(ALEX))
        self.sink.wait("/on_error", 1)

        status, body = admin(w, "POST", "/api/runs/%s/approve" % by_api, {"as": "x"})
        self.assertEqual(status, 200, body)
        self.assertIn("approve", json.dumps(body))
        self.assertEqual(self.final(by_api), ("succeeded", ""))
        self.check_approved_by(by_api, "ok", "x")
        self.assertFalse(self.enabled(LEE))
        status, body = admin(w, "POST", "/api/runs/%s/approve" % by_api, {"as": "y"})
        self.assertEqual(status, 409, body)
        status, body = admin(w, "POST", "/api/runs/%s/reject" % by_api, {"as": "y"})
        self.assertEqual(status, 409, body)
        self.check_approved_by(by_api, "ok", "x")
        status, body = admin(w, "POST", "/api/runs/run_doesnotexist/approve", {"as": "x"})
        self.assertEqual(status, 404, body)
        self.assertIn(metric(w, "weir_approvals_pending"), (0, None))  # labelled: maybe no sample

    def test_reject_over_the_api(self):
        self.make_root({"offboard.yaml": offboard(self.sink)})
        w = self.start()
        run_id = self.begin(ADELE)
        status, body = admin(w, "POST", "/api/runs/%s/reject" % run_id,
                             {"as": "carol", "reason": "wrong person"})
        self.assertEqual(status, 200, body)
        status, err = self.final(run_id)
        self.assertEqual(status, "failed")
        self.assertIn("rejected by carol: wrong person", err)
        self.assertTrue(self.enabled(ADELE))
        self.sink.wait("/on_error", 1)


class MultiStageTest(ApprovalBase):
    def test_two_approval_steps_in_turn(self):
        self.make_root({"staged.yaml": two_stage(self.sink)})
        self.start()
        run_id = self.begin(ADELE, path="/hooks/staged")
        first = self.sink.wait("/stage1", 1)
        url1 = body_of(first[0]).get("url")
        self.check_link(url1)
        self.assertEqual(self.sink.calls("/stage2"), [])

        status, _, text = decide(url1)
        self.assertTrue(200 <= status < 400, (status, text))
        second = self.sink.wait("/stage2", 1)
        url2 = body_of(second[0]).get("url")
        self.check_link(url2)
        self.assertNotEqual(url1, url2)
        self.wait_status(run_id, "waiting")
        time.sleep(0.5)
        self.assertEqual(self.status(run_id), "waiting")
        self.assertTrue(self.enabled(ADELE))
        self.check_approved_by(run_id, "first", LEAD)
        # the first stage's link does not decide the second
        status, _, text = decide(url1)
        self.assertEqual(status, 409, text)
        self.assertEqual(self.status(run_id), "waiting")

        status, _, text = decide(url2)
        self.assertTrue(200 <= status < 400, (status, text))
        self.assertEqual(self.final(run_id), ("succeeded", ""))
        self.assertFalse(self.enabled(ADELE))
        self.check_approved_by(run_id, "first", LEAD)
        self.check_approved_by(run_id, "second", MANAGER)
        self.assertEqual(len(self.sink.calls("/stage1")), 1)
        self.assertEqual(len(self.sink.calls("/stage2")), 1)


if __name__ == "__main__":
    harness.main("WEIR", "GRAPHSIM", "SOURCE")
