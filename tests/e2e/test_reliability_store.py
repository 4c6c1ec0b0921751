#!/usr/bin/env python3
"""End-to-end tests of the journal's reliability (issue #13): the real `weir run`, `weir fire`
and build/graphsim on loopback ports, the real SQLite journal read back.

usage: test_reliability_store.py WEIR_BINARY GRAPHSIM_BINARY SOURCE_DIR

- Scoped idempotency keys: the same key on another webhook path, from another workflow's `id:`
  template, in another header, from `weir fire` for another workflow, or in another workflow's
  folder is another event; an unauthenticated path cannot pre-register a signed path's keys;
  workflows sharing a path share its keys. A journal written with schema 2 (built here from
  that schema's own SQL) is migrated and still recognises the redeliveries of what it stored.
- One daemon per state file: a second `weir run` refuses to start, naming the file and the
  first one's pid, and 30 queued runs each run once (graphsim's request log); `weir fire` still
  works beside a running daemon.
- The journal failing is noticed: its directory removed (503, /readyz says why, one log line,
  a restart recovers and the sender's retry is stored), moved away and back (recovers by
  itself; the admin API's own writes are refused meanwhile), a read-only journal at start
  (refused), a full disk on a 2 MiB tmpfs (503, logged once, commits again once space is
  freed), and the executor waits for the journal instead of picking a run up (and failing, and
  logging) every 200 ms while nothing can be committed.

The tmpfs cases need `mount` (root); without it they are skipped with the reason.
"""
import hashlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def wf_webhook(name, path, extra="", step=None):
    """A workflow on a webhook path whose one step disables event.email (never run here:
    the daemons of the scope tests are --ingest-only)."""
    return ("name: %s\ntrigger:\n  webhook: { path: %s%s }\nsteps:\n%s"
            % (name, path, extra, step or "  - action: disable-user\n"
                                             "    user: \"{{ event.email }}\"\n"))


def wf_file(name, folder):
    return ("name: %s\ntrigger:\n  file: { dir: %s, pattern: \"*.csv\" }\nsteps:\n"
            "  - action: disable-user\n    user: \"{{ event.row.email }}\"\n" % (name, folder))


SCOPE_WORKFLOWS = {
    "a.yaml": wf_webhook("hook-a", "/hooks/a"),
    "b.yaml": wf_webhook("hook-b", "/hooks/b"),
    "ida.yaml": wf_webhook("id-a", "/hooks/ida", ", id: \"{{ event.id }}\""),
    "idb.yaml": wf_webhook("id-b", "/hooks/idb", ", id: \"{{ event.id }}\""),
    "open.yaml": wf_webhook("open", "/hooks/open"),
    "signed.yaml": wf_webhook("signed", "/hooks/signed", ", secret: env:HR_WEBHOOK_SECRET"),
    "shared1.yaml": wf_webhook("shared-one", "/hooks/shared"),
    "shared2.yaml": wf_webhook("shared-two", "/hooks/shared"),
    "fa.yaml": wf_file("folder-a", "in/a"),
    "fb.yaml": wf_file("folder-b", "in/b"),
}

CSV = "email\nann@contoso.com\nbob@contoso.com\n"


def events(root, where="1=1", args=()):
    """(id, source, idem_key, idem_scope) of the events matching where."""
    with harness.journal(root) as c:
        return c.execute("SELECT id, source, idem_key, idem_scope FROM events WHERE " + where
                         + " ORDER BY id", args).fetchall()


def run_count(root, event_id):
    with harness.journal(root) as c:
        return c.execute("SELECT count(*) FROM runs WHERE event_id = ?",
                         (event_id,)).fetchone()[0]


def fire(root, workflow, key, event=None):
    path = os.path.join(root, "ev-%s.json" % workflow)
    with open(path, "w") as f:
        json.dump(event or {"email": "f@contoso.com"}, f)
    return subprocess.run([harness.WEIR, "fire", workflow, "--event", path, "--key", key],
                          cwd=root, capture_output=True, text=True, timeout=60)


def wait_for(what, fn, timeout=20):
    return harness.wait_for(what, fn, timeout)


def log_count(w, pattern):
    with w.lock:
        return sum(1 for line in w.lines if re.search(pattern, line))


class ScopedKeysTest(unittest.TestCase):
    """Each case was a "duplicate" before keys were scoped (one unique index for all sources)."""

    def setUp(self):
        self.root = harness.setup_root(None, SCOPE_WORKFLOWS, prefix="weir-scope-")
        os.makedirs(os.path.join(self.root, "in", "a"))
        os.makedirs(os.path.join(self.root, "in", "b"))
        self.weir = harness.Weir(self.root, ["--ingest-only"], env=harness.SIGNED_ENV)

    def tearDown(self):
        if self.weir.proc.poll() is None:
            self.assertEqual(self.weir.stop(), 0)
        shutil.rmtree(self.root)

    def test_webhook_id_on_two_paths(self):
        ev = {"email": "a@contoso.com"}
        s1, b1 = self.weir.post("/hooks/a", ev, {"webhook-id": "msg-1"})
        s2, b2 = self.weir.post("/hooks/b", ev, {"webhook-id": "msg-1"})
        self.assertEqual((s1, s2), (202, 202), (b1, b2))
        self.assertNotEqual(b1["event_id"], b2["event_id"])
        self.assertEqual((b1["runs"], b2["runs"]), (1, 1))
        # Within its own path a redelivery is still a duplicate.
        s3, b3 = self.weir.post("/hooks/b", ev, {"webhook-id": "msg-1"})
        self.assertEqual(s3, 200, b3)
        self.assertEqual(b3["event_id"], b2["event_id"])
        rows = events(self.root, "idem_key = 'msg-1'")
        self.assertEqual(sorted(r[3] for r in rows),
                         ["webhook /hooks/a (webhook-id)", "webhook /hooks/b (webhook-id)"])

    def test_id_templates_of_two_workflows(self):
        ev = {"id": "hr-77", "email": "a@contoso.com"}
        s1, b1 = self.weir.post("/hooks/ida", ev)
        s2, b2 = self.weir.post("/hooks/idb", ev)
        self.assertEqual((s1, s2), (202, 202), (b1, b2))
        self.assertEqual(run_count(self.root, b2["event_id"]), 1)
        s3, b3 = self.weir.post("/hooks/idb", ev, {"webhook-id": "whatever"})
        self.assertEqual(s3, 200, b3)  # the template decides, whatever the headers say
        self.assertEqual(b3["event_id"], b2["event_id"])

    def test_request_id_and_github_delivery_of_one_value(self):
        ev = {"email": "a@contoso.com"}
        s1, b1 = self.weir.post("/hooks/a", ev, {"X-Request-Id": "v-1"})
        s2, b2 = self.weir.post("/hooks/a", ev, {"X-GitHub-Delivery": "v-1"})
        s3, b3 = self.weir.post("/hooks/a", ev, {"webhook-id": "v-1"})
        self.assertEqual((s1, s2, s3), (202, 202, 202), (b1, b2, b3))
        s4, b4 = self.weir.post("/hooks/a", ev, {"X-GitHub-Delivery": "v-1"})
        self.assertEqual(s4, 200, b4)
        self.assertEqual(b4["event_id"], b2["event_id"])
        self.assertEqual(sorted(r[3] for r in events(self.root, "idem_key = 'v-1'")),
                         ["webhook /hooks/a (webhook-id)", "webhook /hooks/a (x-github-delivery)",
                          "webhook /hooks/a (x-request-id)"])

    def test_unauthenticated_path_cannot_suppress_a_signed_one(self):
        msg_id = harness.new_msg_id()
        # Anyone may post to /hooks/open; they learn or guess the id the HR system will use.
        s1, b1 = self.weir.post("/hooks/open", {"email": "x@contoso.com"}, {"webhook-id": msg_id})
        self.assertEqual(s1, 202, b1)
        s2, b2 = self.weir.signed_post({"email": "real@contoso.com"}, path="/hooks/signed",
                                       msg_id=msg_id)
        self.assertEqual(s2, 202, b2)
        self.assertEqual(b2["runs"], 1)
        self.assertNotEqual(b2["event_id"], b1["event_id"])

    def test_fire_key(self):
        r1 = fire(self.root, "hook-a", "k-1")
        r2 = fire(self.root, "hook-b", "k-1")
        self.assertEqual((r1.returncode, r2.returncode), (0, 0), r1.stderr + r2.stderr)
        self.assertIn("1 run queued", r1.stdout)
        self.assertIn("1 run queued", r2.stdout)
        r3 = fire(self.root, "hook-b", "k-1")
        self.assertEqual(r3.returncode, 0, r3.stderr)
        self.assertIn("duplicate", r3.stdout)
        # A webhook delivery with that id is not a manual event either.
        s, b = self.weir.post("/hooks/a", {"email": "a@contoso.com"}, {"webhook-id": "k-1"})
        self.assertEqual(s, 202, b)
        self.assertEqual(sorted(r[3] for r in events(self.root, "idem_key = 'k-1'")),
                         ["manual hook-a", "manual hook-b", "webhook /hooks/a (webhook-id)"])

    def test_same_csv_in_two_folders(self):
        for folder in ("a", "b"):
            with open(os.path.join(self.root, "in", folder, "hr.csv.part"), "w") as f:
                f.write(CSV)
            os.rename(os.path.join(self.root, "in", folder, "hr.csv.part"),
                      os.path.join(self.root, "in", folder, "hr.csv"))
            wait_for("in/%s/done/hr.csv" % folder, lambda: os.path.exists(
                os.path.join(self.root, "in", folder, "done", "hr.csv")))
        for folder in ("a", "b"):
            with harness.journal(self.root) as c:
                rows = c.execute("SELECT e.id, count(r.id) FROM events e LEFT JOIN runs r ON "
                                 "r.event_id = e.id WHERE e.source LIKE ? GROUP BY e.id",
                                 ("file %%/in/%s/hr.csv" % folder,)).fetchall()
            self.assertEqual([n for _, n in rows], [1, 1], "folder in/%s: %s" % (folder, rows))
        for folder in ("a", "b"):
            rows = events(self.root, "source LIKE ?", ("file %%/in/%s/hr.csv" % folder,))
            self.assertTrue(all(r[3].endswith("/in/" + folder) for r in rows), rows)
        # The same content again in one folder: duplicates there, nothing new.
        with open(os.path.join(self.root, "in", "a", "again.csv.part"), "w") as f:
            f.write(CSV)
        os.rename(os.path.join(self.root, "in", "a", "again.csv.part"),
                  os.path.join(self.root, "in", "a", "again.csv"))
        wait_for("in/a/done/again.csv", lambda: os.path.exists(
            os.path.join(self.root, "in", "a", "done", "again.csv")))
        self.assertEqual(events(self.root, "source LIKE '%again.csv'"), [])

    def test_workflows_sharing_a_path_share_its_keys(self):
        # One delivery on a shared path is one event with a run for each workflow; its
        # redelivery is a duplicate for all of them.
        s1, b1 = self.weir.post("/hooks/shared", {"email": "s@contoso.com"},
                                {"webhook-id": "shared-1"})
        self.assertEqual(s1, 202, b1)
        self.assertEqual(b1["runs"], 2)
        s2, b2 = self.weir.post("/hooks/shared", {"email": "s@contoso.com"},
                                {"webhook-id": "shared-1"})
        self.assertEqual(s2, 200, b2)
        self.assertEqual(b2["event_id"], b1["event_id"])
        self.assertEqual([r[3] for r in events(self.root, "idem_key = 'shared-1'")],
                         ["webhook /hooks/shared (webhook-id)"])

    def test_show_names_the_scope(self):
        s, b = self.weir.post("/hooks/a", {"email": "a@contoso.com"}, {"webhook-id": "show-1"})
        self.assertEqual(s, 202, b)
        with harness.journal(self.root) as c:
            run = c.execute("SELECT id FROM runs WHERE event_id = ?",
                            (b["event_id"],)).fetchone()[0]
        out = subprocess.run([harness.WEIR, "show", run], cwd=self.root, capture_output=True,
                             text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("key show-1 (scope webhook /hooks/a (webhook-id))", out.stdout)


# The schema of weir's journal before keys were scoped (engine/store/journal.c migrations 1 and 2,
# copied here as they shipped: the test must not follow later edits).
SCHEMA_2 = [
    "CREATE TABLE events ("
    "  id TEXT PRIMARY KEY,"
    "  source TEXT NOT NULL,"
    "  idem_key TEXT,"
    "  received_at INTEGER NOT NULL,"
    "  headers TEXT,"
    "  body TEXT NOT NULL,"
    "  status TEXT NOT NULL"
    ");"
    "CREATE UNIQUE INDEX events_idem_key ON events(idem_key) WHERE idem_key IS NOT NULL;"
    "CREATE INDEX events_received ON events(received_at);"
    "CREATE TABLE runs ("
    "  id TEXT PRIMARY KEY,"
    "  event_id TEXT NOT NULL REFERENCES events(id),"
    "  workflow TEXT NOT NULL,"
    "  workflow_hash TEXT NOT NULL,"
    "  concurrency_key TEXT,"
    "  status TEXT NOT NULL DEFAULT 'queued',"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  next_at INTEGER,"
    "  error TEXT"
    ");"
    "CREATE INDEX runs_status ON runs(status, next_at);"
    "CREATE INDEX runs_event ON runs(event_id);"
    "CREATE TABLE steps ("
    "  run_id TEXT NOT NULL REFERENCES runs(id),"
    "  idx INTEGER NOT NULL,"
    "  step_id TEXT,"
    "  status TEXT NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  started_at INTEGER,"
    "  finished_at INTEGER,"
    "  args TEXT,"
    "  output TEXT,"
    "  error TEXT,"
    "  PRIMARY KEY (run_id, idx)"
    ");",
    "CREATE INDEX runs_ckey ON runs(concurrency_key, status) WHERE concurrency_key IS NOT NULL;",
]


class MigrationTest(unittest.TestCase):
    def test_schema_2_journal_keeps_recognising_its_keys(self):
        root = harness.setup_root(None, SCOPE_WORKFLOWS, prefix="weir-migrate-")
        try:
            os.makedirs(os.path.join(root, "in", "a"))
            os.makedirs(os.path.join(root, "in", "b"))
            os.makedirs(os.path.join(root, "var"))
            folder_a = os.path.realpath(os.path.join(root, "in", "a"))
            sha = hashlib.sha256(CSV.encode()).hexdigest()
            now = int(time.time() * 1000)
            db = sqlite3.connect(os.path.join(root, "var", "weir.db"))
            db.execute("PRAGMA journal_mode=WAL")
            for i, sql in enumerate(SCHEMA_2):
                db.executescript(sql)
                db.execute("PRAGMA user_version = %d" % (i + 1))

            def event(eid, source, key, run=None, at=now - 60000):
                db.execute("INSERT INTO events (id, source, idem_key, received_at, headers, body,"
                           " status) VALUES (?, ?, ?, ?, NULL, '{}', ?)",
                           (eid, source, key, at, "matched" if run else "unmatched"))
                if run:
                    db.execute("INSERT INTO runs (id, event_id, workflow, workflow_hash, status,"
                               " created_at, updated_at) VALUES (?, ?, ?, 'h', 'succeeded', ?, ?)",
                               ("run_" + eid, eid, run, at, at))

            event("ev_old_a", "webhook /hooks/a", "old-1", "hook-a")
            event("ev_old_ida", "webhook /hooks/ida", "hr-9", "id-a")
            event("ev_old_file1", "file %s/hr.csv" % folder_a, "file:%s:1" % sha, "folder-a")
            event("ev_old_file2", "file %s/hr.csv" % folder_a, "file:%s:2" % sha, "folder-a")
            event("ev_old_manual", "manual", "m-1", "hook-b")
            event("ev_old_sched", "schedule tick", "schedule:tick:2026-01-01T00:00:00.000Z")
            event("ev_expired", "webhook /hooks/b", "old-expired", "hook-b",
                  at=now - 8 * 24 * 3600 * 1000)
            db.commit()
            db.close()

            w = harness.Weir(root, ["--ingest-only"], env=harness.SIGNED_ENV)
            try:
                with harness.journal(root) as c:
                    self.assertGreaterEqual(c.execute("PRAGMA user_version").fetchone()[0], 3)
                    scopes = dict(c.execute("SELECT id, idem_scope FROM events"))
                self.assertEqual(scopes["ev_old_a"], "webhook /hooks/a")
                self.assertEqual(scopes["ev_old_file1"], "file " + folder_a)
                self.assertEqual(scopes["ev_old_manual"], "manual hook-b")
                self.assertEqual(scopes["ev_old_sched"], "schedule tick")
                ev = {"id": "hr-9", "email": "a@contoso.com"}
                # Redeliveries of what the old journal stored: still duplicates.
                s, b = w.post("/hooks/a", ev, {"webhook-id": "old-1"})
                self.assertEqual((s, b.get("event_id")), (200, "ev_old_a"), b)
                s, b = w.post("/hooks/ida", ev)
                self.assertEqual((s, b.get("event_id")), (200, "ev_old_ida"), b)
                r = fire(root, "hook-b", "m-1")
                self.assertIn("duplicate", r.stdout, r.stderr)
                with open(os.path.join(root, "in", "a", "again.csv"), "w") as f:
                    f.write(CSV)
                wait_for("in/a/done/again.csv", lambda: os.path.exists(
                    os.path.join(root, "in", "a", "done", "again.csv")))
                self.assertEqual(events(root, "source LIKE '%again.csv'"), [])
                # ... but only within their scope now.
                s, b = w.post("/hooks/b", ev, {"webhook-id": "old-1"})
                self.assertEqual(s, 202, b)
                s, b = w.post("/hooks/idb", ev)
                self.assertEqual(s, 202, b)
                r = fire(root, "hook-a", "m-1")
                self.assertIn("1 run queued", r.stdout, r.stderr)
                with open(os.path.join(root, "in", "b", "hr.csv"), "w") as f:
                    f.write(CSV)
                wait_for("in/b/done/hr.csv", lambda: os.path.exists(
                    os.path.join(root, "in", "b", "done", "hr.csv")))
                self.assertEqual(len(events(root, "source LIKE '%/in/b/hr.csv'")), 2)
                # An old key outside the window is forgotten, as before.
                s, b = w.post("/hooks/b", ev, {"webhook-id": "old-expired"})
                self.assertEqual(s, 202, b)
                # A new key on a migrated path is scoped by its header from now on.
                s, b = w.post("/hooks/a", ev, {"webhook-id": "new-1"})
                self.assertEqual(s, 202, b)
                s, b = w.post("/hooks/a", ev, {"X-Request-Id": "new-1"})
                self.assertEqual(s, 202, b)
            finally:
                self.assertEqual(w.stop(), 0)
        finally:
            shutil.rmtree(root)


UPDATE = """
name: retitle
trigger:
  webhook: { path: /hooks/hr }
retry: { attempts: 8, initial: 100ms, max: 1s }
steps:
  - action: update-user
    user: "{{ event.user }}"
    set: { jobTitle: "{{ event.title }}" }
"""


def graph_requests(sim, since=0):
    """graphsim's log of Graph requests (token requests left out) after seq since."""
    return [r for r in sim.get("/_sim/requests?since=%d" % since)["value"]
            if "/oauth2/" not in r["path"]]


def last_seq(sim):
    v = sim.get("/_sim/requests")["value"]
    return v[-1]["seq"] if v else 0


class OneDaemonTest(unittest.TestCase):
    def test_second_daemon_refuses_and_each_run_runs_once(self):
        sim = harness.Sim("--generate-users", "30", "--latency-ms", "20")
        root = harness.setup_root(sim, {"retitle.yaml": UPDATE}, prefix="weir-2d-")
        procs = []
        try:
            w = harness.Weir(root, ["--ingest-only"])
            for i in range(30):
                status, body = w.post("/hooks/hr", {"user": "synth%06d@contoso.onmicrosoft.com"
                                                    % (i + 1), "title": "twice? %d" % i},
                                      {"webhook-id": "q-%d" % i})
                self.assertEqual(status, 202, body)
            self.assertEqual(w.stop(), 0)
            self.assertEqual(len(harness.runs(root, "status = 'queued'")), 30)
            # Both at once on the same state.
            for _ in range(2):
                procs.append(subprocess.Popen(
                    [harness.WEIR, "run", "-c", "weir.yaml"], cwd=root,
                    env=dict(os.environ, **harness.GRAPH_ENV), stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE, text=True))
            deadline = time.time() + 10
            while time.time() < deadline and all(p.poll() is None for p in procs):
                time.sleep(0.05)
            rs = harness.wait_final(root, 30)
            self.assertEqual([r[2] for r in rs], ["succeeded"] * 30, rs)
            patches = {}
            for r in graph_requests(sim):
                if r["method"] == "PATCH":
                    patches[r["path"]] = patches.get(r["path"], 0) + 1
            self.assertEqual(len(patches), 30, patches)
            twice = sorted(p for p, n in patches.items() if n > 1)
            self.assertEqual(twice, [], "%d of 30 runs executed twice" % len(twice))
            exited = [p for p in procs if p.poll() is not None]
            self.assertEqual(len(exited), 1, "both daemons are running on one state")
            loser, winner = exited[0], [p for p in procs if p is not exited[0]][0]
            err = loser.stderr.read()
            self.assertEqual(loser.returncode, 3, err)
            self.assertIn("var/weir.db is in use by another weir (pid %d)" % winner.pid, err)
            # weir fire beside the running daemon: stored, and run once by it.
            path = os.path.join(root, "ev.json")
            with open(path, "w") as f:
                json.dump({"user": "synth000001@contoso.onmicrosoft.com", "title": "fired"}, f)
            out = subprocess.run([harness.WEIR, "fire", "retitle", "--event", path, "--key",
                                  "f-1"], cwd=root, capture_output=True, text=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stderr)
            rs = harness.wait_final(root, 31)
            self.assertEqual(sim.user("synth000001@contoso.onmicrosoft.com")["jobTitle"], "fired")
            winner.send_signal(signal.SIGTERM)
            self.assertEqual(winner.wait(timeout=60), 0)
            # The lock went with the process: a new daemon starts.
            w = harness.Weir(root, ["--ingest-only"])
            self.assertEqual(w.stop(), 0)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
                p.stderr.close()
            sim.stop()
            shutil.rmtree(root)

    def test_lock_is_dropped_by_kill_9(self):
        root = harness.setup_root(None, {"a.yaml": SCOPE_WORKFLOWS["a.yaml"]}, prefix="weir-k9-")
        try:
            w = harness.Weir(root, ["--ingest-only"])
            w.kill()
            w = harness.Weir(root, ["--ingest-only"])
            self.assertEqual(w.stop(), 0)
        finally:
            shutil.rmtree(root)


try_mount_tmpfs = harness.try_mount_tmpfs
umount = harness.umount


class JournalHealthTest(unittest.TestCase):
    def setUp(self):
        self.root = harness.setup_root(None, {"a.yaml": SCOPE_WORKFLOWS["a.yaml"]},
                                       prefix="weir-health-", admin="127.0.0.1:0")
        self.var = os.path.join(self.root, "var")
        self.mounted = False
        self.weir = None

    def tearDown(self):
        if self.weir and self.weir.proc.poll() is None:
            self.assertEqual(self.weir.stop(), 0)
        if self.mounted:
            umount(self.var)
        shutil.rmtree(self.root)

    def start(self):
        self.weir = harness.Weir(self.root, ["--ingest-only"], admin=True)
        return self.weir

    def post(self, key, size=0):
        return self.weir.post("/hooks/a", {"email": "a@contoso.com", "pad": "x" * size},
                              {"webhook-id": key})

    def readyz(self):
        status, _, text = self.weir.call("GET", "/readyz")
        return status, json.loads(text)

    def failed_commits(self):
        status, _, text = self.weir.call("GET", "/metrics")
        self.assertEqual(status, 200, text)
        m = re.search(r"^weir_journal_failed_commits_total (\d+)", text, re.M)
        return int(m.group(1))

    def stored(self, key):
        return [r[0] for r in events(self.root, "idem_key = ?", (key,))]

    def test_directory_removed_while_running(self):
        w = self.start()
        self.assertEqual(self.post("before")[0], 202)
        self.assertEqual(self.readyz()[0], 200)
        before = harness.runs(self.root)[0][0]
        shutil.rmtree(self.var)
        # The admin API's writes (on its own connection) are refused too, not kept in the
        # removed file and answered 200.
        status, _, text = w.call("POST", "/api/runs/%s/cancel" % before)
        self.assertEqual(status, 503, text)
        for i in range(5):
            status, body = self.post("during")
            self.assertEqual(status, 503, body)
            self.assertIn("was removed while weir was running", body["error"])
        status, body = self.readyz()
        self.assertEqual(status, 503, body)
        self.assertIn("weir.db was removed", body["checks"]["journal"])
        # The journal's own retry probes fail too (the counter passes the requests' count):
        # still one log line for one failure.
        failed = self.failed_commits()
        wait_for("a retry probe", lambda: self.failed_commits() > failed, timeout=15)
        self.assertEqual(log_count(w, r"journal failing"), 1, "".join(w.lines))
        self.assertIn("var/weir.db was removed", w.wait_log("journal failing"))
        self.assertEqual(w.stop(), 0)
        # Nothing was acknowledged into the removed file; a restart makes a new journal and
        # the sender's retry of the refused delivery is stored and gets its run.
        self.start()
        status, body = self.post("during")
        self.assertEqual(status, 202, body)
        self.assertEqual(body["runs"], 1)
        self.assertEqual(self.stored("during"), [body["event_id"]])
        self.assertEqual(self.readyz()[0], 200)

    def test_directory_moved_away_and_back(self):
        w = self.start()
        status, body = self.post("kept")
        self.assertEqual(status, 202, body)
        os.rename(self.var, self.var + ".away")
        status, body = self.post("refused")
        self.assertEqual(status, 503, body)
        self.assertEqual(self.readyz()[0], 503)
        os.rename(self.var + ".away", self.var)
        # The journal notices by itself (its retry probe), then commits again.
        w.wait_log("journal recovered", timeout=10)
        self.assertEqual(self.readyz()[0], 200)
        status, body = self.post("refused")
        self.assertEqual(status, 202, body)
        self.assertEqual(log_count(w, "journal failing"), 1)
        self.assertEqual(log_count(w, "journal recovered"), 1)
        self.assertEqual(len(self.stored("kept")), 1)
        self.assertEqual(self.stored("refused"), [body["event_id"]])

    def test_admin_writes_are_refused_while_the_file_is_away(self):
        w = self.start()
        status, body = self.post("to-cancel")
        self.assertEqual(status, 202, body)
        run = harness.runs(self.root)[0][0]
        os.rename(self.var, self.var + ".away")
        status, _, text = w.call("POST", "/api/runs/%s/cancel" % run)
        self.assertEqual(status, 503, text)
        self.assertIn("weir.db was removed", text)
        os.rename(self.var + ".away", self.var)
        self.assertEqual(harness.runs(self.root)[0][2], "queued")  # nothing went astray
        status, _, text = w.call("POST", "/api/runs/%s/cancel" % run)
        self.assertEqual(status, 200, text)
        self.assertEqual(harness.runs(self.root)[0][2], "cancelled")

    def test_read_only_journal_at_start(self):
        why = try_mount_tmpfs(self.var)
        if why:
            self.skipTest(why)
        self.mounted = True
        self.start()
        self.assertEqual(self.post("first")[0], 202)
        self.assertEqual(self.weir.stop(), 0)
        self.weir = None
        r = subprocess.run(["mount", "-o", "remount,ro", self.var], capture_output=True,
                           text=True, timeout=30)
        if r.returncode != 0:
            self.skipTest("cannot remount read-only: " + r.stderr.strip())
        out = subprocess.run([harness.WEIR, "run", "-c", "weir.yaml", "--ingest-only"],
                             cwd=self.root, capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 3, out.stderr)
        self.assertIn("var/weir.db", out.stderr)
        self.assertIn("Read-only file system", out.stderr)
        self.assertNotIn("listener ready", out.stderr)

    def test_full_disk(self):
        why = try_mount_tmpfs(self.var)
        if why:
            self.skipTest(why)
        self.mounted = True
        w = self.start()
        self.assertEqual(self.post("warm")[0], 202)
        # Fill the file system but for a few pages.
        filler = harness.fill_disk(self.var)
        acked, refused = [], []
        for i in range(400):
            status, body = self.post("full-%d" % i, size=6000)
            if status == 202:
                acked.append("full-%d" % i)
            else:
                self.assertEqual(status, 503, body)
                self.assertIn("full", body["error"])
                refused.append("full-%d" % i)
                if len(refused) >= 5:
                    break
        self.assertTrue(refused, "the disk never filled up")
        self.assertEqual(self.readyz()[0], 503)
        failing = w.wait_log("journal failing")
        self.assertIn("full", failing)
        self.assertEqual(log_count(w, "journal failing"), 1, "".join(w.lines))
        os.unlink(filler)
        status, body = self.post(refused[0])
        self.assertEqual(status, 202, body)
        w.wait_log("journal recovered")
        self.assertEqual(self.readyz()[0], 200)
        # Every acknowledged event is there; of the refused ones only the retried one.
        for key in acked + refused[:1]:
            self.assertEqual(len(self.stored(key)), 1, key)
        for key in refused[1:]:
            self.assertEqual(self.stored(key), [], key)


class ExecutorWhileFailingTest(unittest.TestCase):
    def test_run_is_not_repeated_while_nothing_can_be_stored(self):
        sim = harness.Sim("--latency-ms", "150")
        root = harness.setup_root(sim, {"retitle.yaml": UPDATE}, prefix="weir-exfail-")
        var = os.path.join(root, "var")
        w = harness.Weir(root, env=harness.GRAPH_ENV)
        try:
            user = "alex.wilber@contoso.onmicrosoft.com"
            since = last_seq(sim)
            status, body = w.post("/hooks/hr", {"user": user, "title": "while failing"},
                                  {"webhook-id": "exf-1"})
            self.assertEqual(status, 202, body)
            # As soon as the run talks to Graph, take the journal away for 3 s.
            wait_for("the run's first Graph request", lambda: graph_requests(sim, since))
            os.rename(var, var + ".away")
            mark = w.mark()
            away = last_seq(sim)
            time.sleep(3)
            during = graph_requests(sim, away)
            with w.lock:
                stuck = [x for x in w.lines[mark:] if "run state could not be stored" in x]
            os.rename(var + ".away", var)
            rs = harness.wait_final(root, 1)
            self.assertEqual(rs[0][2], "succeeded", rs)
            self.assertEqual(sim.user(user)["jobTitle"], "while failing")
            # The request in flight completes and its result cannot be stored; the run is not
            # picked up again (and failing again, logging each time) every 200 ms while nothing
            # can be stored: it waits for the journal.
            self.assertLessEqual(len(during), 2, during)
            self.assertLessEqual(len(stuck), 1, "".join(stuck))
        finally:
            if w.proc.poll() is None:
                self.assertEqual(w.stop(), 0)
            sim.stop()
            shutil.rmtree(root)


if __name__ == "__main__":
    harness.main("WEIR", "GRAPHSIM", "SOURCE")
