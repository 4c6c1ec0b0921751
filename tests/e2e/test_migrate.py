#!/usr/bin/env python3
"""`weir migrate` on both back ends (issue 21), through the real binary.

- SQLite: a new journal is created at this weir's schema version ("migrated from 0 (new)"), a
  second run changes nothing, and the journal then takes events.
- PostgreSQL (tests/pg's throw-away cluster): an empty database gets the whole schema and one
  version row; three `weir migrate` started at once all succeed and exactly one of them creates
  it (the advisory lock); a second run changes nothing; a database of a newer weir is refused;
  an unreachable server is a runtime failure (exit 3).
- weir.yaml refuses a PostgreSQL URL that carries a password (file, line and field named, the
  password nowhere in the output); `weir runs` and `weir show` on a database without weir's
  schema say to run `weir migrate`.

usage: test_migrate.py WEIR_BINARY PG_URL_FILE
"""
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

WEIR = None
URL = None

CONFIG = """workflows: ./workflows
state: %s
graph:
  tenant: contoso.onmicrosoft.com
  client_id: 00000000-0000-0000-0000-000000000000
  client_secret: env:WEIR_TEST_SECRET
"""

WORKFLOW = """name: hello
trigger:
  webhook: { path: /hooks/hello }
steps:
  - action: disable-user
    user: "{{ event.user }}"
"""


def psql(*sql):
    return harness.psql(URL, *sql)


class MigrateCase(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="weir-migrate-")
        os.makedirs(os.path.join(self.root, "workflows"))
        with open(os.path.join(self.root, "workflows", "hello.yaml"), "w") as f:
            f.write(WORKFLOW)

    def tearDown(self):
        shutil.rmtree(self.root)

    def config(self, state, name="weir.yaml"):
        path = os.path.join(self.root, name)
        with open(path, "w") as f:
            f.write(CONFIG % state)
        return path

    def weir(self, *args, wait=True):
        env = dict(os.environ, WEIR_TEST_SECRET="not-a-real-secret")
        cmd = [WEIR] + list(args)
        if not wait:
            return subprocess.Popen(cmd, cwd=self.root, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
        return subprocess.run(cmd, cwd=self.root, env=env, capture_output=True, text=True,
                              timeout=120)


class SqliteTest(MigrateCase):
    def test_new_journal_then_nothing_to_do(self):
        self.config("./var/weir.db")
        r = self.weir("migrate")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "./var/weir.db (SQLite): schema version 9, migrated from 0 "
                                   "(new)\n")
        db = sqlite3.connect(os.path.join(self.root, "var", "weir.db"))
        self.assertEqual(db.execute("PRAGMA user_version").fetchone()[0], 9)
        db.close()
        r = self.weir("migrate")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "./var/weir.db (SQLite): already at schema version 9\n")
        # the journal it made takes events
        with open(os.path.join(self.root, "event.json"), "w") as f:
            f.write('{"user": "adele.vance@contoso.onmicrosoft.com"}')
        r = self.weir("fire", "hello", "--event", "event.json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("1 run queued", r.stdout)

    def test_usage(self):
        r = self.weir("migrate", "extra")
        self.assertEqual(r.returncode, 2)
        self.assertIn("usage: weir migrate [-c weir.yaml]", r.stderr)
        r = self.weir("help", "migrate")
        self.assertEqual(r.returncode, 0)
        self.assertIn("advisory", r.stdout)
        r = self.weir("migrate", "-c", "missing.yaml")
        self.assertEqual(r.returncode, 1)


class PostgresTest(MigrateCase):
    def setUp(self):
        super().setUp()
        # an empty database: whatever an earlier case or build left is dropped
        psql("DROP SCHEMA public CASCADE", "CREATE SCHEMA public")

    def test_empty_database_concurrently(self):
        self.config('"%s"' % URL)
        procs = [self.weir("migrate", wait=False) for _ in range(3)]
        outs = []
        for p in procs:
            out, err = p.communicate(timeout=120)
            self.assertEqual(p.returncode, 0, err)
            outs.append(out)
        created = [o for o in outs if "schema version 9, migrated from 0 (new)" in o]
        self.assertEqual(len(created), 1, outs)
        self.assertEqual(sum("already at schema version 9" in o for o in outs), 2, outs)
        self.assertTrue(all("(PostgreSQL)" in o for o in outs), outs)
        self.assertEqual(psql("SELECT version FROM weir_schema"), ["9"])
        tables = set(psql("SELECT table_name FROM information_schema.tables "
                          "WHERE table_schema = 'public'"))
        self.assertEqual(tables, {"events", "runs", "steps", "journal_meta", "trigger_state",
                                  "guard_window", "approvals", "approval_tokens",
                                  "weir_schema"})
        # the idempotency promise is the database's: one event per scope and key
        psql("INSERT INTO events (id, source, idem_scope, idem_key, received_at, body, status) "
             "VALUES ('e1', 'webhook /h', 'webhook /h', 'k', 1, '{}', 'stored')")
        r = subprocess.run(["psql", URL, "-X", "-q", "-c",
                            "INSERT INTO events (id, source, idem_scope, idem_key, received_at, "
                            "body, status) VALUES ('e2', 'webhook /h', 'webhook /h', 'k', 1, "
                            "'{}', 'stored')"], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("events_idem", r.stderr)
        r = self.weir("migrate")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("already at schema version 9", r.stdout)

    def test_from_version_8(self):
        """A database made by a weir of schema 8 gets the run leases' columns (9)."""
        self.config('"%s"' % URL)
        self.assertEqual(self.weir("migrate").returncode, 0)
        psql("ALTER TABLE runs DROP COLUMN owner", "ALTER TABLE runs DROP COLUMN lease_until",
             "UPDATE weir_schema SET version = 8")
        r = self.weir("migrate")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("schema version 9, migrated from 8", r.stdout)
        self.assertEqual(psql("SELECT version FROM weir_schema"), ["9"])
        self.assertEqual(psql("SELECT column_name FROM information_schema.columns WHERE "
                              "table_schema = 'public' AND table_name = 'runs' AND "
                              "column_name IN ('owner', 'lease_until') "
                              "ORDER BY 1"), ["lease_until", "owner"])

    def test_newer_database_refused(self):
        self.config('"%s"' % URL)
        self.assertEqual(self.weir("migrate").returncode, 0)
        psql("UPDATE weir_schema SET version = 99")
        r = self.weir("migrate")
        self.assertEqual(r.returncode, 3)
        self.assertIn("written by a newer weir (schema 99; this weir knows up to 9)", r.stderr)

    def test_unreachable_server(self):
        self.config('"postgresql:///weir?host=%s/no-such-dir&port=5432&user=weir&'
                    'connect_timeout=5"' % self.root)
        r = self.weir("migrate")
        self.assertEqual(r.returncode, 3)
        self.assertIn("postgresql: cannot connect", r.stderr)

    def test_short_lease_refused(self):
        """runs.lease under 3s is refused at its line (renewed every third of it)."""
        path = self.config('"%s"' % URL)
        with open(path, "a") as f:
            f.write("runs: { lease: 1s }\n")
        r = self.weir("validate", "-c", path)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertRegex(r.stderr, r"weir\.yaml:\d+:\d+: runs\.lease: at least 3s")

    def test_password_in_url_refused(self):
        for url in ("postgresql://weir:hunter2-secret@localhost/weir",
                    URL + "&password=hunter2-secret"):
            path = self.config('"%s"' % url, "pw.yaml")
            for args in (("validate", "-c", path), ("migrate", "-c", path)):
                r = self.weir(*args)
                self.assertEqual(r.returncode, 1, (args, r.stdout, r.stderr))
                self.assertIn("pw.yaml:2:8: state: the URL carries a password", r.stderr)
                self.assertNotIn("hunter2", r.stdout + r.stderr)

    def test_history_before_migrate(self):
        """A database without weir's schema: the history commands say what to run."""
        self.config('"%s"' % URL)
        for args in (("runs",), ("show", "run_x")):
            r = self.weir(*args)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("state: the database has no weir schema yet (run `weir migrate`)",
                          r.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: test_migrate.py WEIR_BINARY PG_URL_FILE")
    WEIR = os.path.abspath(sys.argv[1])
    with open(sys.argv[2]) as f:
        URL = f.read().strip()
    del sys.argv[1:]
    unittest.main(verbosity=2)
