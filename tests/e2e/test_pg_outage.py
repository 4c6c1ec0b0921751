#!/usr/bin/env python3
"""A weir on PostgreSQL while the database goes away and comes back (issue 21): the real
`weir run`, build/graphsim and a PostgreSQL cluster of this test's own (tests/pg/pg_cluster,
paused and resumed: the shared cluster of the other tests must not go down).

- Database up: deliveries are acknowledged (202) and their runs succeed.
- Database stopped: a delivery is answered 503 (the sender retries), nothing is acknowledged,
  /readyz answers 503 naming the journal, one log line says the journal is failing, and the
  instance steps down as the leader.
- Database back: within seconds /readyz is 200 again and the log says the journal recovered
  (db reconnects with backoff, no restart); the delivery the sender retries is acknowledged
  and its run succeeds; the instance leads again; `weir runs` reads it all.

usage: test_pg_outage.py WEIR_BINARY GRAPHSIM_BINARY SOURCE_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

DOMAIN = "@contoso.onmicrosoft.com"

RETITLE = """
name: retitle
trigger:
  webhook: { path: /hooks/hr, secret: env:HR_WEBHOOK_SECRET }
steps:
  - action: update-user
    user: "{{ event.user }}"
    set: { jobTitle: "{{ event.title }}" }
"""


class OutageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tool = os.path.join(harness.SOURCE, "tests/pg/pg_cluster")
        cls.pgdir = tempfile.mkdtemp(prefix="weir-outage-pg-")
        os.rmdir(cls.pgdir)  # pg_cluster makes it
        subprocess.run([cls.tool, "start", cls.pgdir], check=True, capture_output=True,
                       timeout=120)
        with open(os.path.join(cls.pgdir, "url")) as f:
            cls.url = f.read().strip()
        cls.sim = harness.Sim("--generate-users", "20")
        cls.root = harness.setup_root(cls.sim, {"retitle.yaml": RETITLE},
                                      prefix="weir-outage-", admin="127.0.0.1:0")
        path = os.path.join(cls.root, "weir.yaml")
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text.replace("state: ./var/weir.db", "state: %s" % json.dumps(cls.url)))
        cls.w = harness.Weir(cls.root, env=harness.SIGNED_ENV, admin=True)

    @classmethod
    def tearDownClass(cls):
        rc = cls.w.stop() if cls.w.proc.poll() is None else cls.w.proc.returncode
        with open(cls.w.log_path, errors="replace") as f:
            log = f.read()
        cls.sim.stop()
        shutil.rmtree(cls.root)
        subprocess.run([cls.tool, "stop", cls.pgdir], capture_output=True, timeout=120)
        if rc != 0 or "Sanitizer" in log:
            raise AssertionError("weir did not stop cleanly (%s):\n%s" % (rc, log[-3000:]))

    def cluster(self, what):
        r = subprocess.run([self.tool, what, self.pgdir], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)

    def readyz(self):
        status, _, text = self.w.call("GET", "/readyz")
        return status, text

    def deliver(self, i, msg_id):
        return self.w.signed_post({"user": "synth%06d%s" % (i, DOMAIN), "title": "t%d" % i},
                                  msg_id=msg_id)

    def wait_runs(self, n, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            rows = harness.psql(self.url, "SELECT status, count(*) FROM runs GROUP BY status")
            if rows == ["succeeded|%d" % n]:
                return
            time.sleep(0.2)
        self.fail("runs: %s" % rows)

    def test_outage_and_recovery(self):
        w = self.w
        for i in range(1, 4):
            status, body = self.deliver(i, "before-%d" % i)
            self.assertEqual(status, 202, body)
        self.wait_runs(3)
        self.assertEqual(self.readyz()[0], 200)
        w.wait_log(r"msg=\"?leading")

        mark = w.mark()
        self.cluster("pause")
        status, body = self.deliver(4, "during")
        self.assertEqual(status, 503, body)
        self.assertNotIn("postgresql://", json.dumps(body))  # no URL to the sender
        deadline = time.time() + 10
        while time.time() < deadline and self.readyz()[0] != 503:
            time.sleep(0.1)
        status, text = self.readyz()
        self.assertEqual(status, 503, text)
        self.assertIn("journal", text)
        w.wait_log("journal failing", start=mark)
        w.wait_log("no longer the leader", start=mark, timeout=15)
        # once, not at every probe
        time.sleep(3)
        with w.lock:
            failing = sum("journal failing" in line for line in w.lines[mark:])
        self.assertEqual(failing, 1)

        mark = w.mark()
        t0 = time.time()
        self.cluster("resume")
        deadline = time.time() + 20
        while time.time() < deadline and self.readyz()[0] != 200:
            time.sleep(0.1)
        self.assertEqual(self.readyz()[0], 200, self.readyz()[1])
        back = time.time() - t0
        w.wait_log("journal recovered", start=mark)
        status, body = self.deliver(4, "during")  # the sender's retry, same webhook-id
        self.assertEqual(status, 202, body)
        self.wait_runs(4)
        w.wait_log(r"msg=\"?leading", start=mark, timeout=15)
        r = subprocess.run([harness.WEIR, "runs", "--json", "-c", "weir.yaml"], cwd=self.root,
                           capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, **harness.SIGNED_ENV))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(x["status"] for x in json.loads(r.stdout)), ["succeeded"] * 4)
        print("\nready again %.1f s after the database came back" % back, file=sys.stderr)


if __name__ == "__main__":
    harness.main("WEIR", "GRAPHSIM", "SOURCE")
