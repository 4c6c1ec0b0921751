#!/usr/bin/env python3
"""End-to-end tests of the approval decision page (/approvals/TOKEN on the webhook listener),
`weir approve` and the admin API's /api/runs/ID/approve|reject, on the real `weir run`.

The requests are written into the journal here as the executor stores them (schema 8:
approvals, approval_tokens with the SHA-256 of each token), their tokens made in Python from
the key file weir created (<state>.approval-key), so the page is tested apart from the
approval step: GET shows and never decides, POST decides once (409 after), a tampered or
unknown token is 404 and an expired request 410 with bodies that name nothing, hostile event
content is escaped, the headers forbid scripts and framing.

usage: test_approval_page.py WEIR_BINARY GRAPHSIM_BINARY SOURCE_DIR
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import shutil
import stat
import subprocess
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

HOOK = """
name: offboard
trigger:
  webhook: { path: /hooks/hr }
steps:
  - id: ok
    wait: 1h
"""

XSS = "<img src=x onerror=alert(1)>"
APPROVERS = ["it-lead@contoso.com", "mgr@contoso.com"]


def now_ms():
    return int(time.time() * 1000)


class ApprovalPage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = harness.setup_root(None, {"offboard.yaml": HOOK}, prefix="weir-approval-",
                                      admin="127.0.0.1:0")
        cls.w = harness.Weir(cls.root, ["--ingest-only"], admin=True)
        cls.state = os.path.join(cls.root, "var", "weir.db")
        key_path = cls.state + ".approval-key"
        st = os.stat(key_path)
        cls.key_mode = stat.S_IMODE(st.st_mode)
        with open(key_path, "rb") as f:
            cls.key = f.read()
        cls.n = 0

    @classmethod
    def tearDownClass(cls):
        cls.w.stop()
        shutil.rmtree(cls.root)

    # {====== helpers ======

    def token(self, run, idx, approver, nonce):
        msg = b"\0".join([run.encode(), str(idx).encode(), approver.encode(), nonce.encode()])
        mac = hmac.new(self.key, msg, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def request(self, expires_in=3600 * 1000, message="Offboard ada now?", plan=None,
                status="waiting"):
        """A new run waiting at an approval request of step 1: (run id, {approver: token})."""
        type(self).n += 1
        run = "run_0000000000000test%06d" % self.n
        ev = "ev_0000000000000test%06d" % self.n
        nonce = "%032x" % (0xABC000 + self.n)
        t = now_ms()
        c = harness.journal(self.root)
        c.execute("INSERT INTO events (id, source, received_at, body, status) VALUES "
                  "(?, 'manual', ?, '{}', 'done')", (ev, t))
        c.execute("INSERT INTO runs (id, event_id, workflow, workflow_hash, status, created_at, "
                  "updated_at, next_at) VALUES (?, ?, 'offboard', 'h', ?, ?, ?, ?)",
                  (run, ev, status, t, t, t + expires_in))
        c.execute("INSERT INTO approvals (run_id, step_idx, step_id, workflow, message, plan, "
                  "approvers, nonce, created_at, expires_at) VALUES (?, 1, 'ok', 'offboard', ?, "
                  "?, ?, ?, ?, ?)", (run, message, plan, json.dumps(APPROVERS), nonce, t,
                                     t + expires_in))
        tokens = {}
        for a in APPROVERS:
            tok = self.token(run, 1, a, nonce)
            tokens[a] = tok
            c.execute("INSERT INTO approval_tokens (hash, run_id, step_idx, approver) VALUES "
                      "(?, ?, 1, ?)", (hashlib.sha256(tok.encode()).hexdigest(), run, a))
        c.commit()
        c.close()
        return run, tokens

    def decision(self, run):
        c = harness.journal(self.root)
        row = c.execute("SELECT decision, decided_by, reason FROM approvals WHERE run_id = ?",
                        (run,)).fetchone()
        c.close()
        return row

    def next_at(self, run):
        c = harness.journal(self.root)
        v = c.execute("SELECT next_at FROM runs WHERE id = ?", (run,)).fetchone()[0]
        c.close()
        return v

    def page(self, method, token, body=None, ctype="application/x-www-form-urlencoded"):
        """(status, headers, body text) of a request to /approvals/TOKEN."""
        c = http.client.HTTPConnection("127.0.0.1", self.w.port, timeout=10)
        h = {"Content-Type": ctype} if body is not None and ctype else {}
        c.request(method, "/approvals/" + token, body=body, headers=h)
        r = c.getresponse()
        text = r.read().decode()
        c.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, text

    def admin(self, run, what, body):
        c = http.client.HTTPConnection("127.0.0.1", self.w.admin, timeout=10)
        data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        c.request("POST", "/api/runs/%s/%s" % (run, what), body=data,
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        text = r.read().decode()
        c.close()
        return r.status, json.loads(text)

    def cli(self, *args):
        p = subprocess.run([harness.WEIR, "approve"] + list(args) + ["-c", "weir.yaml"],
                           cwd=self.root, capture_output=True, text=True, timeout=30)
        return p.returncode, p.stdout, p.stderr

    # }======

    def test_key_file(self):
        self.assertEqual(self.key_mode, 0o600)
        self.assertEqual(len(self.key), 32)

    def test_get_shows_and_never_decides(self):
        plan = json.dumps([{"step": "disable", "action": "disable-user",
                            "args": {"user": XSS, "note": "</pre><script>x()</script>"}}])
        run, tokens = self.request(message="Offboard " + XSS + " now?", plan=plan)
        for method in ("GET", "HEAD", "GET"):
            status, h, text = self.page(method, tokens[APPROVERS[1]])
            self.assertEqual(status, 200, text)
        status, h, text = self.page("GET", tokens[APPROVERS[1]])
        self.assertEqual(h["content-type"], "text/html; charset=utf-8")
        self.assertEqual(h["content-security-policy"],
                         "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                         "frame-ancestors 'none'; base-uri 'none'")
        self.assertEqual(h["x-frame-options"], "DENY")
        self.assertEqual(h["referrer-policy"], "no-referrer")
        self.assertEqual(h["cache-control"], "no-store")
        # everything of the request, escaped
        self.assertIn(run, text)
        self.assertIn("offboard", text)
        self.assertIn("You are asked as <strong>mgr@contoso.com</strong>", text)
        self.assertIn("&lt;img src=x onerror=alert(1)&gt;", text)
        self.assertNotIn("<img", text)
        self.assertNotIn("<script", text)
        self.assertIn("disable-user", text)
        self.assertIn('<form method="post">', text)
        self.assertIn('value="approve"', text)
        self.assertIn('value="reject"', text)
        # nothing decided, the run not woken
        self.assertEqual(self.decision(run), (None, None, None))
        self.assertGreater(self.next_at(run), now_ms() + 1000000)

    def test_post_decides_once(self):
        run, tokens = self.request()
        before = now_ms()
        status, h, text = self.page("POST", tokens[APPROVERS[0]],
                                    "decision=approve&reason=" + urllib.parse.quote_plus(
                                        "checked with HR & legal"))
        self.assertEqual(status, 200, text)
        self.assertIn("Approved", text)
        self.assertEqual(h["x-frame-options"], "DENY")
        self.assertEqual(self.decision(run),
                         ("approved", "it-lead@contoso.com", "checked with HR & legal"))
        self.assertGreaterEqual(self.next_at(run), before)
        self.assertLessEqual(self.next_at(run), now_ms())
        # the other approver, and the same one again: 409, nothing changed
        for a, body in ((APPROVERS[1], "decision=reject"), (APPROVERS[0], "decision=approve")):
            status, _, text = self.page("POST", tokens[a], body)
            self.assertEqual(status, 409, text)
            self.assertNotIn(run, text)
        self.assertEqual(self.decision(run)[:2], ("approved", "it-lead@contoso.com"))
        # the page now says who decided, without buttons
        status, _, text = self.page("GET", tokens[APPROVERS[1]])
        self.assertEqual(status, 200)
        self.assertIn("approved by it-lead@contoso.com", text)
        self.assertNotIn("<form", text)

    def test_reject(self):
        run, tokens = self.request()
        status, _, text = self.page("POST", tokens[APPROVERS[1]], "reason=&decision=reject")
        self.assertEqual(status, 200, text)
        self.assertIn("Rejected", text)
        self.assertEqual(self.decision(run), ("rejected", "mgr@contoso.com", None))

    def test_bad_tokens(self):
        run, tokens = self.request()
        good = tokens[APPROVERS[0]]
        i = 7
        tampered = good[:i] + ("A" if good[i] != "A" else "B") + good[i + 1:]
        # made with another key, but stored: refused by the key check
        c = harness.journal(self.root)
        forged = base64.urlsafe_b64encode(b"\1" * 32).rstrip(b"=").decode()
        c.execute("INSERT INTO approval_tokens (hash, run_id, step_idx, approver) VALUES "
                  "(?, ?, 1, 'eve@contoso.com')",
                  (hashlib.sha256(forged.encode()).hexdigest(), run))
        c.commit()
        c.close()
        for bad in (tampered, forged, good[:-1], good + "A", "x" * 43, "", "../../etc/passwd",
                    good.replace(good[3], "%2F", 1), good + "/more"):
            for method, body in (("GET", None), ("POST", "decision=approve")):
                status, h, text = self.page(method, bad, body)
                self.assertEqual(status, 404, (bad, text))
                self.assertNotIn(run, text)
                self.assertNotIn("offboard", text)
                self.assertEqual(h["x-frame-options"], "DENY")
        self.assertEqual(self.decision(run), (None, None, None))
        # a query string is not part of the token
        status, _, _ = self.page("GET", good + "?utm_source=mail")
        self.assertEqual(status, 200)

    def test_expired(self):
        run, tokens = self.request(expires_in=-1000)
        for method, body in (("GET", None), ("POST", "decision=approve")):
            status, _, text = self.page(method, tokens[APPROVERS[0]], body)
            self.assertEqual(status, 410, text)
            self.assertNotIn(run, text)
        self.assertEqual(self.decision(run), (None, None, None))

    def test_bad_forms_and_methods(self):
        run, tokens = self.request()
        tok = tokens[APPROVERS[0]]
        for body, ctype in (("decision=maybe", None), ("", None), ("reason=x", None),
                            ("decision=approve&decision=reject", None),
                            ("decision=approve&extra=1", None), ("decision=%zz", None),
                            ("decision=approve&reason=%00", None),
                            ("decision=approve&reason=%ff", None),
                            ('{"decision": "approve"}', "application/json"),
                            ("decision=approve", "text/plain"),
                            ("decision=approve", "")):
            status, _, text = self.page("POST", tok, body,
                                        ctype if ctype is not None else
                                        "application/x-www-form-urlencoded")
            self.assertEqual(status, 400, (body, ctype, text))
        status, _, _ = self.page("POST", tok, "decision=approve&reason=" + "x" * 5000)
        self.assertEqual(status, 413)
        for method in ("PUT", "DELETE", "PATCH"):
            status, h, _ = self.page(method, tok)
            self.assertEqual(status, 405)
            self.assertEqual(h["allow"], "GET, HEAD, POST")
        self.assertEqual(self.decision(run), (None, None, None))
        # a form with charset, '+' for spaces: fine
        status, _, text = self.page("POST", tok, "decision=approve&reason=all+good",
                                    "application/x-www-form-urlencoded; charset=UTF-8")
        self.assertEqual(status, 200, text)
        self.assertEqual(self.decision(run)[2], "all good")

    def test_webhooks_still_routed(self):
        status, body = self.w.post("/hooks/hr", {"user": "ada"})
        self.assertEqual(status, 202, body)
        status, body = self.w.post("/approvals", {"user": "ada"})  # not under the prefix
        self.assertEqual(status, 404)

    def test_cli(self):
        run, _ = self.request()
        rc, out, err = self.cli(run[:-2] + "*")  # no --as: usage
        self.assertEqual(rc, 2, err)
        rc, out, err = self.cli(run, "--as", "bob@contoso.com", "--reason", "fine")
        self.assertEqual((rc, out), (0, "%s approved by bob@contoso.com\n" % run), err)
        self.assertEqual(self.decision(run), ("approved", "bob@contoso.com", "fine"))
        rc, out, err = self.cli(run, "--reject", "--as", "carol@contoso.com")
        self.assertEqual(rc, 1)
        self.assertIn("already decided (approved)", err)
        run2, _ = self.request()
        rc, out, err = self.cli(run2, "--reject", "--as", "carol@contoso.com")
        self.assertEqual((rc, out), (0, "%s rejected by carol@contoso.com\n" % run2), err)
        self.assertEqual(self.decision(run2), ("rejected", "carol@contoso.com", None))
        run3, _ = self.request(expires_in=-1)
        rc, out, err = self.cli(run3, "--as", "bob@contoso.com")
        self.assertEqual(rc, 1)
        self.assertIn("expired", err)
        rc, out, err = self.cli("run_nosuchrun", "--as", "bob@contoso.com")
        self.assertEqual(rc, 1, err)

    def test_admin_api(self):
        run, _ = self.request()
        for body in ("", "[]", "{", {"as": ""}, {"as": 3}, {"reason": "x"},
                     {"as": "a", "reason": 1}, {"as": "a", "who": "b"}):
            status, o = self.admin(run, "approve", body)
            self.assertEqual(status, 400, (body, o))
        self.assertEqual(self.decision(run), (None, None, None))
        status, o = self.admin(run, "reject", {"as": "dora@contoso.com", "reason": "not now"})
        self.assertEqual(status, 200, o)
        self.assertEqual(o, {"run": run, "step_idx": 1, "decision": "rejected",
                             "by": "dora@contoso.com"})
        self.assertEqual(self.decision(run), ("rejected", "dora@contoso.com", "not now"))
        status, o = self.admin(run, "approve", {"as": "dora@contoso.com"})
        self.assertEqual(status, 409, o)  # decided: the first decision wins
        status, o = self.admin("run_nosuchrun", "approve", {"as": "x"})
        self.assertEqual(status, 404, o)
        run2, tokens = self.request()
        status, o = self.admin(run2, "approve", {"as": "erin@contoso.com", "reason": None})
        self.assertEqual((status, o["decision"]), (200, "approved"))
        status, _, _ = self.page("POST", tokens[APPROVERS[0]], "decision=reject")
        self.assertEqual(status, 409)


if __name__ == "__main__":
    harness.main("WEIR", "GRAPHSIM", "SOURCE")
