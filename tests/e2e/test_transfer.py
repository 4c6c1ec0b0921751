#!/usr/bin/env python3
"""`weir export` and `weir import` (issue 21): a journal made by the real daemon against
build/graphsim moves from SQLite into PostgreSQL (tests/pg's throw-away cluster) and back.

- The journal of three runs (two succeeded, one failed on Graph's 404) exports; imported into
  an empty PostgreSQL database and exported again, every row line is the same.
- That export imported into a new SQLite journal reads back through weir itself: `weir runs
  --json` and `weir show` say what they said of the original.
- A target that already holds events, a file cut short, a line that does not read and an
  export of another schema version are refused with the file and line named, and import
  nothing.

usage: test_transfer.py WEIR_BINARY GRAPHSIM_BINARY SOURCE_DIR   (WEIR_PG_URL_FILE in the
environment names the cluster's URL file)
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

RETITLE = """
name: retitle
trigger:
  webhook: { path: /hooks/hr }
retry: { attempts: 1 }
steps:
  - id: patch
    action: update-user
    user: "{{ event.user }}"
    set: { jobTitle: "{{ event.title }}" }
"""

DOMAIN = "@contoso.onmicrosoft.com"


def psql(*sql):
    with open(os.environ["WEIR_PG_URL_FILE"]) as f:
        return harness.psql(f.read().strip(), *sql)


class TransferTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.environ["WEIR_PG_URL_FILE"]) as f:
            cls.url = f.read().strip()
        cls.sim = harness.Sim()
        cls.root = harness.setup_root(cls.sim, {"retitle.yaml": RETITLE}, prefix="weir-transfer-")
        w = harness.Weir(cls.root, env=harness.GRAPH_ENV)
        for user, title in (("adele.vance", "Export"), ("alex.wilber", "Import"),
                            ("nobody.here", "Missing")):
            status, _ = w.post("/hooks/hr", {"user": user + DOMAIN, "title": title})
            assert status == 202, status
        harness.wait_final(cls.root, 3)
        assert w.stop() == 0
        with open(os.path.join(cls.root, "weir.yaml")) as f:
            cls.config = f.read()

    @classmethod
    def tearDownClass(cls):
        cls.sim.stop()
        shutil.rmtree(cls.root)

    def weir(self, *args, config="weir.yaml", stdin=None):
        env = dict(os.environ, **harness.GRAPH_ENV)
        return subprocess.run([harness.WEIR] + list(args) + ["-c", config], cwd=self.root,
                              env=env, capture_output=True, text=True, timeout=120, input=stdin)

    def state_config(self, name, state):
        """A weir.yaml like the daemon's, with another state:."""
        text = self.config.replace("state: ./var/weir.db", "state: %s" % json.dumps(state))
        self.assertNotEqual(text, self.config)
        with open(os.path.join(self.root, name), "w") as f:
            f.write(text)
        return name

    def read(self, name):
        with open(os.path.join(self.root, name)) as f:
            return f.read().splitlines()

    def export(self, config, name):
        r = self.weir("export", "-o", name, config=config)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r"^exported \d+ rows of .* to %s\n$" % name)
        self.assertFalse(os.path.exists(os.path.join(self.root, name + ".tmp")))
        return self.read(name)

    def test_sqlite_to_postgres_and_back(self):
        psql("DROP SCHEMA public CASCADE", "CREATE SCHEMA public")
        a = self.export("weir.yaml", "a.ndjson")
        head = json.loads(a[0])
        self.assertEqual((head["weir_export"], head["schema"], head["kind"]), (1, 9, "sqlite"))
        rows = [json.loads(line) for line in a[1:-1]]
        self.assertEqual(json.loads(a[-1]), {"end": True, "rows": len(rows)})
        tables = [r["table"] for r in rows]
        self.assertEqual(tables.count("events"), 3)
        self.assertEqual(tables.count("runs"), 3)
        self.assertGreaterEqual(tables.count("steps"), 3)
        failed = [r["row"] for r in rows if r["table"] == "runs" and r["row"]["status"] == "failed"]
        self.assertEqual(len(failed), 1)

        pg = self.state_config("pg.yaml", self.url)
        r = self.weir("import", "a.ndjson", config=pg)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "imported %d rows from a.ndjson into %s\n" % (len(rows),
                                                                               self.url))
        self.assertEqual(psql("SELECT count(*) FROM runs WHERE status = 'failed'"), ["1"])
        b = self.export(pg, "b.ndjson")
        self.assertEqual(json.loads(b[0])["kind"], "postgresql")
        self.assertEqual(a[1:], b[1:])  # every row, byte for byte

        # the same rows again: refused, nothing added
        r = self.weir("import", "a.ndjson", config=pg)
        self.assertEqual(r.returncode, 3)
        self.assertIn("the journal already holds 3 events: import only into an empty one",
                      r.stderr)
        self.assertEqual(psql("SELECT count(*) FROM events"), ["3"])

        # and back into SQLite, from standard input: weir reads it as it read the original
        back = self.state_config("back.yaml", "./back/weir.db")
        with open(os.path.join(self.root, "b.ndjson")) as f:
            r = self.weir("import", "-", config=back, stdin=f.read())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("from <stdin>", r.stdout)
        original = self.weir("runs", "--json")
        moved = self.weir("runs", "--json", config=back)
        self.assertEqual(original.returncode, 0, original.stderr)
        self.assertEqual(json.loads(moved.stdout), json.loads(original.stdout))
        run = failed[0]["id"]
        shown = self.weir("show", run, "--json", config=back)
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertEqual(json.loads(shown.stdout), json.loads(self.weir("show", run,
                                                                        "--json").stdout))
        self.assertIn("404", shown.stdout)  # Graph's answer travelled with the step

    def test_bad_files_import_nothing(self):
        a = self.export("weir.yaml", "c.ndjson")

        def attempt(name, lines, message):
            with open(os.path.join(self.root, name), "w") as f:
                f.write("\n".join(lines) + "\n")
            cfg = self.state_config(name + ".yaml", "./%s-db/weir.db" % name)
            r = self.weir("import", name, config=cfg)
            self.assertEqual(r.returncode, 3, r.stdout)
            self.assertIn(message, r.stderr)
            db = sqlite3.connect(os.path.join(self.root, name + "-db", "weir.db"))
            self.assertEqual(db.execute("SELECT count(*) FROM events").fetchone()[0], 0)
            db.close()

        attempt("short", a[:-1], "short:%d: the export ends early (no end line): nothing "
                                 "imported" % (len(a) - 1))
        broken = list(a)
        broken[3] = broken[3][:-5]
        attempt("broken", broken, "broken:4: not a JSON object")
        head = json.loads(a[0])
        head["schema"] = 7
        attempt("older", [json.dumps(head)] + a[1:], "older:1: an export of schema version 7")
        attempt("notes", ["hello"], "notes:1: not a JSON object")
        row = json.loads(a[1])
        row["row"]["surprise"] = 1
        attempt("extra", [a[0], json.dumps(row)] + a[2:], "extra:2: %s: " % row["table"])


if __name__ == "__main__":
    harness.main("WEIR", "GRAPHSIM", "SOURCE")
