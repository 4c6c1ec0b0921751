#!/usr/bin/env python3
"""notify_e2e — `weir run` under a service manager's notification socket (sd_notify(3)), the
way systemd runs it with Type=notify: a Unix datagram socket bound here stands in for systemd.

READY=1 (with STATUS= and MAINPID=) must come only once the webhook and admin listeners accept
connections; a SIGHUP brings RELOADING=1 (with MONOTONIC_USEC=) then READY=1, also when the
new workflows are refused; SIGTERM brings STOPPING=1 and a clean exit. Both address forms (a
path, an @abstract name) are used; without $NOTIFY_SOCKET nothing is sent and nothing logged.
Real processes on 127.0.0.1 only.

usage: test_notify.py WEIR_BINARY GRAPHSIM_BINARY SOURCE_DIR
"""
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import harness  # noqa: E402

HOOK = """
name: retitle
trigger:
  webhook: { path: /hooks/hr }
steps:
  - action: update-user
    user: alex.wilber@contoso.onmicrosoft.com
    set: { jobTitle: "{{ event.title }}" }
"""

SECOND = """
name: second
trigger:
  webhook: { path: /hooks/second }
steps:
  - action: update-user
    user: alex.wilber@contoso.onmicrosoft.com
    set: { department: "{{ event.department }}" }
"""

BROKEN = """
name: broken
trigger:
  webhook: { path: /hooks/broken }
steps:
  - action: asign-license
    user: alex.wilber@contoso.onmicrosoft.com
"""


def parse(datagram):
    """A notification as a dict of its assignments (one per line, VARIABLE=VALUE)."""
    text = datagram.decode()
    out = {}
    for line in text.split("\n"):
        key, sep, value = line.partition("=")
        if not sep:
            raise AssertionError("not an assignment: %r in %r" % (line, text))
        out[key] = value
    return out


def mono_usec():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def accepts(port):
    """True when a TCP connection to 127.0.0.1:port is accepted (now)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


class Daemon:
    """`weir run` in root with NOTIFY_SOCKET=addr (None: unset), the manager's socket (manager)
    read by next()."""

    def __init__(self, root, manager, addr, prefix=(), extra_env=None):
        self.root = root
        self.manager = manager
        env = dict(os.environ, **harness.GRAPH_ENV)
        env.pop("NOTIFY_SOCKET", None)
        if addr is not None:
            env["NOTIFY_SOCKET"] = addr
        env.update(extra_env or {})
        self.log_path = os.path.join(root, "weir.log")
        self.log = open(self.log_path, "ab")
        # its own process group: kill() must not leave a weir behind its strace
        self.proc = subprocess.Popen(list(prefix) + [harness.WEIR, "run", "-c", "weir.yaml"],
                                     cwd=root, env=env, stdout=self.log, stderr=self.log,
                                     start_new_session=True)

    def next(self, timeout=30):
        """The next notification, parsed; fails when none comes within timeout seconds."""
        self.manager.settimeout(timeout)
        try:
            data = self.manager.recv(65536)
        except socket.timeout:
            raise AssertionError("no notification within %ss; log:\n%s" % (timeout, self.text()))
        return parse(data)

    def nothing(self, wait=0.5):
        """Asserts that no notification arrives within wait seconds."""
        self.manager.settimeout(wait)
        try:
            data = self.manager.recv(65536)
        except socket.timeout:
            return
        raise AssertionError("unexpected notification %r" % data)

    def text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=60)
        self.log.close()
        return rc

    def kill(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.log.close()


class NotifyTest(unittest.TestCase):
    def setUp(self):
        self.sim = harness.Sim()
        self.root = tempfile.mkdtemp(prefix="weir-notify-")
        self.hook_port = harness.free_port()
        self.admin_port = harness.free_port()
        harness.write_config(self.root, {"retitle.yaml": HOOK}, self.sim,
                             admin="127.0.0.1:%d" % self.admin_port)
        # write_config listens on port 0; this test must know the ports before weir says them
        cfg = os.path.join(self.root, "weir.yaml")
        with open(cfg) as f:
            text = f.read()
        with open(cfg, "w") as f:
            f.write(text.replace("webhook: 127.0.0.1:0", "webhook: 127.0.0.1:%d" % self.hook_port))
        self.daemon = None
        self.manager = None

    def tearDown(self):
        if self.daemon:
            self.daemon.kill()
        if self.manager:
            self.manager.close()
        self.sim.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def bind(self, addr):
        """The stand-in for systemd's notification socket at addr ("/path" or "@name")."""
        self.manager = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.manager.bind("\0" + addr[1:] if addr.startswith("@") else addr)

    def ready(self):
        """Waits for READY=1 and checks, at that moment, that both listeners accept."""
        msg = self.daemon.next()
        # Checked before anything else: READY=1 promises the listeners are up *now*.
        hook_up, admin_up = accepts(self.hook_port), accepts(self.admin_port)
        self.assertEqual(msg.get("READY"), "1", msg)
        self.assertTrue(hook_up, "READY=1 before the webhook listener accepts")
        self.assertTrue(admin_up, "READY=1 before the admin listener accepts")
        return msg

    def test_path_socket_lifecycle(self):
        addr = os.path.join(self.root, "notify.sock")
        self.bind(addr)
        self.daemon = Daemon(self.root, self.manager, addr)

        msg = self.ready()
        self.assertEqual(msg["MAINPID"], str(self.daemon.proc.pid))
        self.assertIn("1 workflow;", msg["STATUS"])
        self.assertIn("webhook listener 127.0.0.1:%d" % self.hook_port, msg["STATUS"])
        self.assertIn("admin listener 127.0.0.1:%d" % self.admin_port, msg["STATUS"])
        # the log said so before the manager heard it
        log = self.daemon.text()
        self.assertIn("webhook listener ready", log)
        self.assertIn("admin listener ready", log)
        self.assertNotIn("cannot notify", log)
        # and it serves: a webhook is taken, /healthz answers
        conn = http.client.HTTPConnection("127.0.0.1", self.hook_port, timeout=10)
        conn.request("POST", "/hooks/hr", '{"title": "Engineer"}',
                     {"Content-Type": "application/json"})
        self.assertEqual(conn.getresponse().status, 202)
        conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=10)
        conn.request("GET", "/healthz")
        self.assertEqual(conn.getresponse().status, 200)
        conn.close()
        self.daemon.nothing()

        # SIGHUP with a second workflow: RELOADING=1 at the start, READY=1 once it serves
        with open(os.path.join(self.root, "workflows", "second.yaml"), "w") as f:
            f.write(SECOND)
        before = mono_usec()
        self.daemon.proc.send_signal(signal.SIGHUP)
        msg = self.daemon.next()
        after = mono_usec()
        self.assertEqual(msg.get("RELOADING"), "1", msg)
        self.assertTrue(before <= int(msg["MONOTONIC_USEC"]) <= after, (before, msg, after))
        msg = self.ready()
        self.assertIn("2 workflows;", msg["STATUS"])
        self.assertNotIn("failed", msg["STATUS"])
        self.assertIn("workflows reloaded", self.daemon.text())

        # a broken workflow: the reload is refused, yet the manager hears READY=1 again (the
        # old set is served) and the status says what happened
        with open(os.path.join(self.root, "workflows", "broken.yaml"), "w") as f:
            f.write(BROKEN)
        self.daemon.proc.send_signal(signal.SIGHUP)
        self.assertEqual(self.daemon.next().get("RELOADING"), "1")
        msg = self.ready()
        self.assertIn("2 workflows;", msg["STATUS"])
        self.assertIn("the last reload failed", msg["STATUS"])
        self.daemon.nothing()

        # SIGTERM: STOPPING=1 when the drain starts, then exit 0
        self.daemon.proc.send_signal(signal.SIGTERM)
        msg = self.daemon.next()
        self.assertEqual(msg.get("STOPPING"), "1", msg)
        self.assertEqual(self.daemon.proc.wait(timeout=60), 0)
        self.daemon.log.close()
        self.daemon = None
        self.manager.settimeout(0.2)
        with self.assertRaises(socket.timeout):  # nothing after STOPPING=1
            self.manager.recv(65536)

    def test_ready_with_weir_frozen(self):
        # Deterministic, not a race: strace holds weir for 2 s on the way out of every sendto
        # (READY=1's among them), so what accepts connections while the manager reads READY=1
        # was set up before READY=1 was sent. An early READY=1 fails here.
        addr = os.path.join(self.root, "notify.sock")
        self.bind(addr)
        strace = shutil.which("strace")
        self.assertIsNotNone(strace, "strace is missing (scripts/deps installs it)")
        self.daemon = Daemon(self.root, self.manager, addr,
                             prefix=(strace, "-f", "-qq", "-o", os.devnull, "-e", "trace=sendto",
                                     "-e", "inject=sendto:delay_exit=2000000"),
                             # LeakSanitizer cannot run under a tracer (the sanitizer build)
                             extra_env={"ASAN_OPTIONS": ":".join(
                                 filter(None, [os.environ.get("ASAN_OPTIONS"),
                                               "detect_leaks=0"]))})
        start = time.monotonic()
        msg = self.ready()
        # MAINPID= names weir itself, which strace started as its child
        self.assertNotEqual(msg["MAINPID"], str(self.daemon.proc.pid))
        self.assertTrue(os.path.exists("/proc/%s" % msg["MAINPID"]))
        self.assertLess(time.monotonic() - start, 30)
        self.assertIn("admin listener 127.0.0.1:%d" % self.admin_port, msg["STATUS"])
        os.kill(int(msg["MAINPID"]), signal.SIGTERM)  # as systemd does: to MAINPID
        self.assertEqual(self.daemon.next().get("STOPPING"), "1")
        self.assertEqual(self.daemon.proc.wait(timeout=60), 0)

    def test_abstract_socket(self):
        addr = "@weir-e2e-notify-%d-%d" % (os.getpid(), time.monotonic_ns())
        self.bind(addr)
        self.daemon = Daemon(self.root, self.manager, addr)
        msg = self.ready()
        self.assertEqual(msg["MAINPID"], str(self.daemon.proc.pid))
        self.daemon.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.daemon.next().get("STOPPING"), "1")
        self.assertEqual(self.daemon.proc.wait(timeout=60), 0)

    def test_without_manager(self):
        # unset: weir runs as before, says nothing about notifications
        self.daemon = Daemon(self.root, None, None)
        deadline = time.time() + 30
        while not accepts(self.admin_port) and time.time() < deadline:
            time.sleep(0.05)
        self.assertTrue(accepts(self.hook_port))
        self.assertEqual(self.daemon.stop(), 0)
        self.assertNotIn("notify", self.daemon.text())
        self.daemon = None

    def test_manager_gone(self):
        # a socket nobody listens on: logged as a warning, and weir serves and stops all the same
        addr = os.path.join(self.root, "gone.sock")
        self.daemon = Daemon(self.root, None, addr)
        deadline = time.time() + 30
        while "cannot notify" not in self.daemon.text() and time.time() < deadline:
            time.sleep(0.05)
        self.assertIn("cannot notify the service manager", self.daemon.text())
        self.assertIn("gone.sock", self.daemon.text())
        self.assertTrue(accepts(self.hook_port) and accepts(self.admin_port))
        self.assertEqual(self.daemon.stop(), 0)
        self.daemon = None


if __name__ == "__main__":
    harness.main("WEIR", "GRAPHSIM", "SOURCE")
