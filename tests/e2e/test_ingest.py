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
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest

WEIR = None

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


def write_config(root, extra="", schedule=False):
    os.makedirs(os.path.join(root, "workflows"), exist_ok=True)
    for name, text in WORKFLOWS.items():
        if name == "tick.yaml" and not schedule:
            continue
        with open(os.path.join(root, "workflows", name), "w") as f:
            f.write(text)
    with open(os.path.join(root, "weir.yaml"), "w") as f:
        f.write(
            "listen: { webhook: 127.0.0.1:0 }\n"
            "workflows: ./workflows\n"
            "state: ./var/weir.db\n"
            "graph:\n"
            "  tenant: contoso.onmicrosoft.com\n"
            "  client_id: 00000000-0000-0000-0000-000000000001\n"
            "  client_secret: env:WEIR_GRAPH_SECRET\n" + extra
        )


class Weir:
    """A `weir run` child process; the port is read from its log."""

    def __init__(self, root):
        self.root = root
        self.log = open(os.path.join(root, "weir.log"), "ab")
        self.proc = subprocess.Popen(
            [WEIR, "run", "-c", "weir.yaml", "--ingest-only"], cwd=root, stdout=self.log, stderr=subprocess.PIPE
        )
        self.port = None
        deadline = time.time() + 20
        while time.time() < deadline:
            line = self.proc.stderr.readline().decode()
            if not line:
                break
            self.log.write(line.encode())
            m = re.search(r"webhook listener ready\"? addr=127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        if not self.port:
            self.kill()
            raise RuntimeError("weir did not start; see " + self.log.name)
        # keep draining stderr so the child never blocks on a full pipe
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()

    def _drain(self):
        for line in self.proc.stderr:
            self.log.write(line)

    def post(self, path, body, headers=None, ctype="application/json", method="POST"):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        h = {"Content-Type": ctype} if ctype else {}
        h.update(headers or {})
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        text = r.read().decode()
        conn.close()
        try:
            return r.status, json.loads(text)
        except ValueError:
            return r.status, text

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=60)
        self.reader.join(timeout=5)
        self.proc.stderr.close()
        self.log.close()
        return rc

    def kill(self):
        self.proc.kill()
        self.proc.wait(timeout=20)
        if getattr(self, "reader", None):
            self.reader.join(timeout=5)
        self.proc.stderr.close()
        self.log.close()


def db(root):
    c = sqlite3.connect(os.path.join(root, "var", "weir.db"), timeout=10)
    return c


class IngestTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="weir-ingest-")
        write_config(self.root)
        self.weir = Weir(self.root)

    def tearDown(self):
        if self.weir.proc.poll() is None:
            self.assertEqual(self.weir.stop(), 0)
        shutil.rmtree(self.root)

    def events(self, where="1=1", args=()):
        with db(self.root) as c:
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
        with db(self.root) as c:
            runs = c.execute("SELECT workflow, status, concurrency_key FROM runs WHERE event_id=?",
                             (body["event_id"],)).fetchall()
        self.assertEqual(runs, [("hire", "queued", "E1")])

    def test_duplicate_delivery(self):
        ev = {"type": "employee.left", "employee": {"email": "b@x"}}
        s1, b1 = self.weir.post("/hooks/hr", ev, {"webhook-id": "dup-1"})
        s2, b2 = self.weir.post("/hooks/hr", ev, {"webhook-id": "dup-1"})
        s3, b3 = self.weir.post("/hooks/hr", ev, {"X-GitHub-Delivery": "dup-1"})
        self.assertEqual((s1, s2, s3), (202, 200, 200))
        self.assertTrue(b2["duplicate"])
        self.assertEqual(b2["event_id"], b1["event_id"])
        self.assertEqual(b3["event_id"], b1["event_id"])
        self.assertEqual(len(self.events("idem_key = 'dup-1'")), 1)
        with db(self.root) as c:
            self.assertEqual(c.execute("SELECT count(*) FROM runs").fetchone()[0], 1)
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
        with db(self.root) as c:
            headers = c.execute("SELECT headers FROM events WHERE id=?",
                                (body["event_id"],)).fetchone()[0]
        self.assertNotIn("hunter2", headers)
        self.assertNotIn("sha256=abc", headers)

    def test_fire(self):
        path = os.path.join(self.root, "ev.json")
        with open(path, "w") as f:
            json.dump({"type": "employee.hired", "employee": {"id": "F1", "email": "f@x"}}, f)
        out = subprocess.run([WEIR, "fire", "hire", "--event", path, "--key", "fire-1"],
                             cwd=self.root, capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("workflow hire matched", out.stdout)
        out = subprocess.run([WEIR, "fire", "hire", "--event", path, "--key", "fire-1"],
                             cwd=self.root, capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("duplicate", out.stdout)
        out = subprocess.run([WEIR, "fire", "hier", "--event", path], cwd=self.root,
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 1)
        self.assertIn("did you mean 'hire'", out.stderr)
        self.assertEqual(len(self.events("idem_key = 'fire-1'")), 1)


class ScheduleTest(unittest.TestCase):
    def test_every_second_across_restart(self):
        root = tempfile.mkdtemp(prefix="weir-sched-")
        try:
            write_config(root, schedule=True)
            w = Weir(root)
            time.sleep(3.2)
            self.assertEqual(w.stop(), 0)
            with db(root) as c:
                first = c.execute("SELECT body FROM events WHERE source='schedule tick'").fetchall()
            self.assertGreaterEqual(len(first), 3)
            for (body,) in first:
                ev = json.loads(body)
                due = ev["scheduled_for"]
                self.assertTrue(due.endswith(".000Z"), due)  # slots on whole seconds
            w = Weir(root)  # restarts within the same second's slot
            time.sleep(1.5)
            self.assertEqual(w.stop(), 0)
            with db(root) as c:
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
        root = tempfile.mkdtemp(prefix="weir-crash-")
        try:
            write_config(root)
            acked = {}  # key -> event id
            lock = threading.Lock()
            state = {"weir": Weir(root), "stop": False, "n": 0}

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
                state["weir"] = Weir(root)
            time.sleep(0.3)
            state["stop"] = True
            for t in threads:
                t.join()
            self.assertEqual(state["weir"].stop(), 0)
            with db(root) as c:
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
            with db(root) as c:
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
        import base64
        self.key = os.urandom(24)
        self.secret = "whsec_" + base64.b64encode(self.key).decode()
        self.root = tempfile.mkdtemp(prefix="weir-auth-")
        write_config(self.root)
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

    def sign(self, msg_id, ts, body, key=None):
        import base64
        import hashlib
        import hmac
        mac = hmac.new(key or self.key, ("%s.%s." % (msg_id, ts)).encode() + body,
                       hashlib.sha256).digest()
        return "v1," + base64.b64encode(mac).decode()

    def headers(self, msg_id, body, ts=None, key=None):
        ts = str(int(time.time()) if ts is None else ts)
        return {"webhook-id": msg_id, "webhook-timestamp": ts,
                "webhook-signature": self.sign(msg_id, ts, body, key)}

    def stored(self, key):
        with db(self.root) as c:
            return c.execute("SELECT count(*) FROM events WHERE idem_key = ?",
                             (key,)).fetchone()[0]

    def test_signed_unsigned_tampered(self):
        self.weir = Weir(self.root)
        for path in ("/hooks/signed", "/hooks/short"):
            tag = path.rsplit("/", 1)[1]
            body = json.dumps({"email": "a@x"}).encode()
            # Signed: accepted and stored.
            status, reply = self.weir.post(path, body, self.headers(tag + "-ok", body))
            self.assertEqual(status, 202, reply)
            self.assertEqual(self.stored(tag + "-ok"), 1)
            # Key rotation: one valid signature among several is enough.
            h = self.headers(tag + "-rot", body)
            h["webhook-signature"] = (self.sign(tag + "-rot", h["webhook-timestamp"], body,
                                                b"old-key") + " " + h["webhook-signature"])
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
        with db(self.root) as c:
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
        out = subprocess.run([WEIR, "run", "-c", "weir.yaml", "--ingest-only"], cwd=self.root,
                             env=env, capture_output=True, text=True, timeout=30)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("HR_WEBHOOK_SECRET", out.stderr)
        self.assertRegex(out.stderr, r"workflow '(signed|short)'")
        self.assertRegex(out.stderr, r"trigger\.webhook\.(auth\.)?secret")


if __name__ == "__main__":
    WEIR = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
