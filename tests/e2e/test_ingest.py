#!/usr/bin/env python3
"""End-to-end tests of weir's ingest path: the real `weir run` on loopback, real HTTP,
the real SQLite journal read back after each answer.

usage: test_ingest.py WEIR_BINARY

Covers: 202 only after commit, duplicate deliveries, split, the error codes of the webhook
listener, unmatched events, `weir fire`, the schedule trigger across a restart, and a crash
test that kill -9s weir twenty times under load and checks that every acknowledged event is
in the journal exactly once.
"""
import http.client
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

WORKFLOWS = {
    "hire.yaml": """
name: hire
trigger:
  webhook: { path: /hooks/hr }
when: event.type == "employee.hired"
concurrency_key: "{{ event.employee.id }}"
steps:
  - action: update-user
    user: "{{ event.employee.email }}"
    set: { jobTitle: "{{ event.employee.title }}" }
""",
    "leave.yaml": """
name: leave
trigger:
  webhook: { path: /hooks/hr }
when: event.type == "employee.left"
steps:
  - action: disable-user
    user: "{{ event.employee.email }}"
""",
    "bamboo.yaml": """
name: bamboo
trigger:
  webhook: { path: /hooks/bamboo, split: event.employees, id: "{{ event.id }}" }
steps:
  - action: disable-user
    user: "{{ event.email }}"
""",
    "tick.yaml": """
name: tick
trigger:
  schedule: { every: 1s }
steps:
  - wait: 1s
""",
}


def make_root(prefix, schedule=False):
    """A root with WORKFLOWS (tick.yaml only with schedule) and no Graph."""
    return harness.setup_root(None, {name: text for name, text in WORKFLOWS.items()
                                     if schedule or name != "tick.yaml"}, prefix=prefix)


def start_weir(root):
    """`weir run --ingest-only` with os.environ as it is."""
    return harness.Weir(root, ["--ingest-only"])


class IngestTest(unittest.TestCase):
    def setUp(self):
        self.root = make_root("weir-ingest-")
        self.weir = start_weir(self.root)

    def tearDown(self):
        if self.weir.proc.poll() is None:
            self.assertEqual(self.weir.stop(), 0)
        shutil.rmtree(self.root)

    def events(self, where="1=1", args=()):
        with harness.journal(self.root) as c:
            return c.execute("SELECT id, source, idem_key, body, status FROM events WHERE "
                             + where, args).fetchall()

    def test_accepted_after_commit(self):
        status, body = self.weir.post(
            "/hooks/hr", {"type": "employee.hired",
                          "employee": {"id": "E1", "email": "a@x", "title": "Eng"}},
            {"webhook-id": "msg_1"})
        self.assertEqual(status, 202, body)
        self.assertEqual(body["runs"], 1)
        # The answer came after the commit: a new connection sees the event and its run.
        rows = self.events("id = ?", (body["event_id"],))
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0][2], "msg_1")
        self.assertEqual(rows[0][4], "matched")
        with harness.journal(self.root) as c:
            runs = c.execute("SELECT workflow, status, concurrency_key FROM runs WHERE event_id=?",
                             (body["event_id"],)).fetchall()
        self.assertEqual(runs, [("hire", "queued", "E1")])

    def test_duplicate_delivery(self):
        ev = {"type": "employee.left", "employee": {"email": "b@x"}}
        s1, b1 = self.weir.post("/hooks/hr", ev, {"webhook-id": "dup-1"})
        s2, b2 = self.weir.post("/hooks/hr", ev, {"webhook-id": "dup-1"})
        s3, b3 = self.weir.post("/hooks/hr", ev, {"webhook-id": "dup-1",
                                                  "X-GitHub-Delivery": "other"})
        self.assertEqual((s1, s2, s3), (202, 200, 200))
        self.assertTrue(b2["duplicate"])
        self.assertEqual(b2["event_id"], b1["event_id"])
        self.assertEqual(b3["event_id"], b1["event_id"])
        self.assertEqual(len(self.events("idem_key = 'dup-1'")), 1)
        with harness.journal(self.root) as c:
            self.assertEqual(c.execute("SELECT count(*) FROM runs").fetchone()[0], 1)
        # A key is scoped by the header it came from (tests/e2e/test_reliability_store.py has
        # the other scopes): the same value in X-GitHub-Delivery is another delivery.
        s4, b4 = self.weir.post("/hooks/hr", ev, {"X-GitHub-Delivery": "dup-1"})
        self.assertEqual(s4, 202, b4)
        self.assertNotEqual(b4["event_id"], b1["event_id"])
        # Without any key, nothing can be recognised: two deliveries, two events.
        self.weir.post("/hooks/hr", ev)
        self.weir.post("/hooks/hr", ev)
        self.assertEqual(len(self.events("idem_key IS NULL")), 2)

    def test_split(self):
        delivery = {"employees": [{"id": "a1", "email": "a1@x"}, {"id": "a2", "email": "a2@x"},
                                  {"id": "a3", "email": "a3@x"}]}
        status, body = self.weir.post("/hooks/bamboo", delivery)
        self.assertEqual(status, 202, body)
        self.assertEqual(len(body["events"]), 3)
        self.assertEqual(body["runs"], 3)
        rows = self.events("source = 'webhook /hooks/bamboo' ORDER BY idem_key")
        self.assertEqual([r[2] for r in rows], ["a1", "a2", "a3"])
        self.assertEqual(json.loads(rows[1][3]), {"id": "a2", "email": "a2@x"})
        status, body = self.weir.post("/hooks/bamboo", delivery)
        self.assertEqual(status, 200, body)
        self.assertTrue(body["duplicate"])
        self.assertEqual(len(self.events("source = 'webhook /hooks/bamboo'")), 3)
        status, body = self.weir.post("/hooks/bamboo", {"employees": "nope"})
        self.assertEqual(status, 422, body)
        self.assertIn("not a list", body["error"])

    def test_error_codes(self):
        status, body = self.weir.post("/hooks/hr", '{"type": }')
        self.assertEqual(status, 400)
        self.assertIn("invalid JSON at line 1, column", body["error"])
        status, body = self.weir.post("/hooks/hr", "", method="GET", ctype=None)
        self.assertEqual(status, 405)
        status, body = self.weir.post("/hooks/hr", "{}", ctype="text/plain")
        self.assertEqual(status, 415)
        status, body = self.weir.post("/hooks/hr", "{}", ctype="application/json; charset=utf-8")
        self.assertEqual(status, 202)
        status, body = self.weir.post("/hooks/unknown", "{}")
        self.assertEqual(status, 404)
        status, body = self.weir.post("/hooks/hr", "[1, 2")
        self.assertEqual(status, 400)
        status, body = self.weir.post("/hooks/hr", b'{"a": "\xff"}')
        self.assertEqual(status, 400)
        # None of the refused requests was stored.
        self.assertEqual(len(self.events()), 1)

    def test_unmatched_and_secret_headers(self):
        status, body = self.weir.post("/hooks/hr", {"type": "employee.transferred"},
                                      {"Authorization": "Bearer hunter2",
                                       "X-Hub-Signature-256": "sha256=abc"})
        self.assertEqual(status, 202)
        self.assertEqual(body["runs"], 0)
        rows = self.events("id = ?", (body["event_id"],))
        self.assertEqual(rows[0][4], "unmatched")
        with harness.journal(self.root) as c:
            headers = c.execute("SELECT headers FROM events WHERE id=?",
                                (body["event_id"],)).fetchone()[0]
        self.assertNotIn("hunter2", headers)
        self.assertNotIn("sha256=abc", headers)

    def test_fire(self):
        path = os.path.join(self.root, "ev.json")
        with open(path, "w") as f:
            json.dump({"type": "employee.hired", "employee": {"id": "F1", "email": "f@x"}}, f)
        out = subprocess.run([harness.WEIR, "fire", "hire", "--event", path, "--key", "fire-1"],
                             cwd=self.root, capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("workflow hire matched", out.stdout)
        out = subprocess.run([harness.WEIR, "fire", "hire", "--event", path, "--key", "fire-1"],
                             cwd=self.root, capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("duplicate", out.stdout)
        out = subprocess.run([harness.WEIR, "fire", "hier", "--event", path], cwd=self.root,
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 1)
        self.assertIn("did you mean 'hire'", out.stderr)
        self.assertEqual(len(self.events("idem_key = 'fire-1'")), 1)


class ScheduleTest(unittest.TestCase):
    def test_every_second_across_restart(self):
        root = make_root("weir-sched-", schedule=True)
        try:
            w = start_weir(root)
            time.sleep(3.2)
            self.assertEqual(w.stop(), 0)
            with harness.journal(root) as c:
                first = c.execute("SELECT body FROM events WHERE source='schedule tick'").fetchall()
            self.assertGreaterEqual(len(first), 3)
            for (body,) in first:
                ev = json.loads(body)
                due = ev["scheduled_for"]
                self.assertTrue(due.endswith(".000Z"), due)  # slots on whole seconds
            w = start_weir(root)  # restarts within the same second's slot
            time.sleep(1.5)
            self.assertEqual(w.stop(), 0)
            with harness.journal(root) as c:
                slots = [json.loads(b)["scheduled_for"] for (b,) in
                         c.execute("SELECT body FROM events WHERE source='schedule tick'")]
                late = c.execute("SELECT body FROM events WHERE source='schedule tick'").fetchall()
            self.assertEqual(len(slots), len(set(slots)), "a slot was stored twice")
            self.assertGreater(len(slots), len(first))
            # On time: fired_at within 500 ms of scheduled_for for slots fired live.
            def ms(s):
                t = time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S")
                return (time.mktime(t) - time.timezone) * 1000 + int(s[20:23])
            lateness = sorted(ms(json.loads(b)["fired_at"]) - ms(json.loads(b)["scheduled_for"])
                              for (b,) in late)
            self.assertLess(lateness[len(lateness) // 2], 500, lateness)
        finally:
            shutil.rmtree(root)


class CrashTest(unittest.TestCase):
    KILLS = int(os.environ.get("WEIR_CRASH_KILLS", "20"))

    def test_kill_9_loses_no_acknowledged_event(self):
        root = make_root("weir-crash-")
        try:
            acked = {}  # key -> event id
            lock = threading.Lock()
            state = {"weir": start_weir(root), "stop": False, "n": 0}

            def load():
                while not state["stop"]:
                    w = state["weir"]
                    with lock:
                        state["n"] += 1
                        key = "crash-%d" % state["n"]
                    try:
                        status, body = w.post("/hooks/hr",
                                              {"type": "employee.left", "employee": {"email": key}},
                                              {"webhook-id": key})
                    except (OSError, http.client.HTTPException):
                        continue
                    if status in (200, 202):
                        with lock:
                            acked[key] = body["event_id"]

            threads = [threading.Thread(target=load) for _ in range(4)]
            for t in threads:
                t.start()
            for _ in range(self.KILLS):
                time.sleep(random.uniform(0.15, 0.4))
                state["weir"].kill()
                state["weir"] = start_weir(root)
            time.sleep(0.3)
            state["stop"] = True
            for t in threads:
                t.join()
            self.assertEqual(state["weir"].stop(), 0)
            with harness.journal(root) as c:
                rows = c.execute("SELECT idem_key, id FROM events "
                                 "WHERE idem_key LIKE 'crash-%'").fetchall()
            stored = {}
            for key, eid in rows:
                self.assertNotIn(key, stored, "stored twice: " + key)
                stored[key] = eid
            lost = [k for k in acked if k not in stored]
            wrong = [k for k in acked if k in stored and stored[k] != acked[k]]
            print("crash test: %d acknowledged events, %d kills, %d lost, %d with a different id"
                  % (len(acked), self.KILLS, len(lost), len(wrong)))
            self.assertGreater(len(acked), 50)
            self.assertEqual(lost, [])
            self.assertEqual(wrong, [])
            with harness.journal(root) as c:
                runs = c.execute("SELECT count(*), count(DISTINCT event_id) FROM runs r JOIN "
                                 "events e ON e.id = r.event_id WHERE e.idem_key LIKE 'crash-%'"
                                 ).fetchone()
            self.assertEqual(runs[0], runs[1], "an event got two runs of one workflow")
        finally:
            shutil.rmtree(root)


AUTH_WORKFLOWS = {
    "signed.yaml": """
name: signed
trigger:
  webhook:
    path: /hooks/signed
    auth:
      type: standard-webhooks
      secret: env:HR_WEBHOOK_SECRET
      tolerance: 5m
steps:
  - action: disable-user
    user: "{{ event.email }}"
""",
    "short.yaml": """
name: short
trigger:
  webhook: { path: /hooks/short, secret: env:HR_WEBHOOK_SECRET }
steps:
  - action: disable-user
    user: "{{ event.email }}"
""",
}


class WebhookAuthTest(unittest.TestCase):
    """Signed webhooks: standard-webhooks via `auth:` and the `secret:` shorthand."""

    def setUp(self):
        self.key = os.urandom(24)
        self.secret = harness.whsec(self.key)
        self.root = make_root("weir-auth-")
        for name, text in AUTH_WORKFLOWS.items():
            with open(os.path.join(self.root, "workflows", name), "w") as f:
                f.write(text)
        self.saved = os.environ.get("HR_WEBHOOK_SECRET")
        os.environ["HR_WEBHOOK_SECRET"] = self.secret
        self.weir = None

    def tearDown(self):
        if self.saved is None:
            os.environ.pop("HR_WEBHOOK_SECRET", None)
        else:
            os.environ["HR_WEBHOOK_SECRET"] = self.saved
        if self.weir and self.weir.proc.poll() is None:
            self.assertEqual(self.weir.stop(), 0)
        shutil.rmtree(self.root)

    def headers(self, msg_id, body, ts=None, key=None):
        return harness.signed_headers(body, msg_id, key or self.key, ts)

    def stored(self, key):
        with harness.journal(self.root) as c:
            return c.execute("SELECT count(*) FROM events WHERE idem_key = ?",
                             (key,)).fetchone()[0]

    def test_signed_unsigned_tampered(self):
        self.weir = start_weir(self.root)
        for path in ("/hooks/signed", "/hooks/short"):
            tag = path.rsplit("/", 1)[1]
            body = json.dumps({"email": "a@x"}).encode()
            # Signed: accepted and stored.
            status, reply = self.weir.post(path, body, self.headers(tag + "-ok", body))
            self.assertEqual(status, 202, reply)
            self.assertEqual(self.stored(tag + "-ok"), 1)
            # Key rotation: one valid signature among several is enough.
            h = self.headers(tag + "-rot", body)
            h["webhook-signature"] = (harness.signature(b"old-key", tag + "-rot",
                                                        h["webhook-timestamp"], body)
                                      + " " + h["webhook-signature"])
            status, reply = self.weir.post(path, body, h)
            self.assertEqual(status, 202, reply)
            # Unsigned: 401 with a generic body, and nothing stored.
            status, reply = self.weir.post(path, body, {"webhook-id": tag + "-unsigned"})
            self.assertEqual(status, 401)
            self.assertEqual(reply, {"error": "unauthorized"})
            self.assertEqual(self.stored(tag + "-unsigned"), 0)
            # Tampered body: signed for one body, sent with another.
            h = self.headers(tag + "-tampered", body)
            status, reply = self.weir.post(path, json.dumps({"email": "evil@x"}), h)
            self.assertEqual(status, 401)
            self.assertEqual(reply, {"error": "unauthorized"})
            self.assertEqual(self.stored(tag + "-tampered"), 0)
            # Wrong key, stale timestamp, and a signature made for another id.
            h = self.headers(tag + "-wrongkey", body, key=b"not-the-key")
            self.assertEqual(self.weir.post(path, body, h)[0], 401)
            h = self.headers(tag + "-stale", body, ts=int(time.time()) - 600)
            self.assertEqual(self.weir.post(path, body, h)[0], 401)
            h = self.headers(tag + "-other", body)
            h["webhook-id"] = tag + "-replayed"
            self.assertEqual(self.weir.post(path, body, h)[0], 401)
            # Unauthenticated requests are refused before anything else looks at them.
            self.assertEqual(self.weir.post(path, "{not json", {})[0], 401)
            self.assertEqual(self.weir.post(path, "", method="GET", ctype=None)[0], 401)
        # The unsigned path next to them is unaffected.
        status, reply = self.weir.post("/hooks/hr", {"type": "employee.transferred"})
        self.assertEqual(status, 202, reply)
        with harness.journal(self.root) as c:
            keys = [k for (k,) in c.execute("SELECT idem_key FROM events WHERE source LIKE "
                                            "'webhook /hooks/s%' ORDER BY idem_key")]
        self.assertEqual(keys, ["short-ok", "short-rot", "signed-ok", "signed-rot"])
        self.assertEqual(self.weir.stop(), 0)
        with open(os.path.join(self.root, "weir.log"), "rb") as f:
            log = f.read().decode(errors="replace")
        self.assertIn("webhook request refused", log)
        self.assertNotIn(self.secret, log)
        self.assertNotIn(self.secret[len("whsec_"):], log)
        self.assertNotIn("v1,", log)

    def test_unresolvable_secret_is_a_startup_error(self):
        env = dict(os.environ)
        env.pop("HR_WEBHOOK_SECRET", None)
        out = subprocess.run([harness.WEIR, "run", "-c", "weir.yaml", "--ingest-only"],
                             cwd=self.root, env=env, capture_output=True, text=True, timeout=30)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("HR_WEBHOOK_SECRET", out.stderr)
        self.assertRegex(out.stderr, r"workflow '(signed|short)'")
        self.assertRegex(out.stderr, r"trigger\.webhook\.(auth\.)?secret")


if __name__ == "__main__":
    harness.main("WEIR")
