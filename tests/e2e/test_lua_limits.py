#!/usr/bin/env python3
"""End-to-end tests of the Lua sandbox's time limits (issue #13 follow-up: no script stalls the
loop for more than a bounded time): weir.yaml's lua.expr_timeout and lua.hook_timeout, through
the real `weir` binary on 127.0.0.1, Python 3 stdlib only.

usage: test_lua_limits.py WEIR_BINARY SOURCE_DIR

Covers:
- the two keys are checked (a duration in range, else an error naming the key);
- `weir map` stops a hook that compares long strings in a loop, inside pcall, with
  lua.hook_timeout's message and the script's line;
- the daemon stops a `when:` that loops on long-string comparisons with lua.expr_timeout's
  message, stores the run as failed with it, and answers the next request.
No timing is asserted beyond the CLI's own bound (a pass takes milliseconds).
"""
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

CLI_TIMEOUT = 60

SPIN_WHEN = """
name: spin
trigger:
  webhook: { path: /hooks/spin }
when: "(function() local a, b = string.rep('x', 1e5), string.rep('x', 1e5) while true do local _ = a == b end end)()"
steps:
  - action: disable-user
    user: "{{ event.email }}"
"""

OK_WF = """
name: ok
trigger:
  webhook: { path: /hooks/ok }
when: event.email ~= nil
steps:
  - action: disable-user
    user: "{{ event.email }}"
"""

SPIN_HOOK = """function map(event, ctx)
  local a, b = string.rep('x', 1e6), string.rep('x', 1e6 - 1) .. 'y'
  while true do pcall(function() while true do local _ = a < b end end) end
end
"""


def weir(root, *args):
    return subprocess.run([harness.WEIR] + list(args), cwd=root, capture_output=True, text=True,
                          timeout=CLI_TIMEOUT, stdin=subprocess.DEVNULL)


def add_lua(root, text):
    with open(os.path.join(root, "weir.yaml"), "a") as f:
        f.write("lua: { %s }\n" % text)


class TimeLimits(unittest.TestCase):
    def setUp(self):
        self.root = harness.setup_root(None, {"spin.yaml": SPIN_WHEN, "ok.yaml": OK_WF},
                                       prefix="weir-lua-")

    def tearDown(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def test_keys_checked(self):
        add_lua(self.root, "expr_timeout: 0s, hook_timeout: 2h")
        out = weir(self.root, "validate", "-c", "weir.yaml")
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("lua.expr_timeout: 0s is out of range 1ms-1m", out.stderr)
        self.assertIn("lua.hook_timeout: 2h is out of range 1ms-1h", out.stderr)
        out = weir(self.root, "help", "config")
        self.assertIn("expr_timeout", out.stdout)
        self.assertIn("hook_timeout", out.stdout)

    def test_hook_stopped(self):
        add_lua(self.root, "hook_timeout: 50ms")
        with open(os.path.join(self.root, "spin.lua"), "w") as f:
            f.write(SPIN_HOOK)
        with open(os.path.join(self.root, "ev.json"), "w") as f:
            f.write("{}\n")
        out = weir(self.root, "map", "-c", "weir.yaml", "spin.lua", "--event", "ev.json")
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("spin.lua:3: time limit of 50ms exceeded (weir.yaml lua.hook_timeout",
                      out.stderr)

    def test_when_stopped_in_the_daemon(self):
        add_lua(self.root, "expr_timeout: 30ms")
        w = harness.Weir(self.root, env=harness.GRAPH_ENV)
        try:
            status, body = w.post("/hooks/spin", {"email": "a@contoso.onmicrosoft.com"})
            self.assertLess(status, 300, body)
            rs = harness.wait_runs(self.root, "workflow = 'spin'")
            self.assertEqual(rs[0][2], "failed")
            self.assertIn("time limit of 30ms exceeded (weir.yaml lua.expr_timeout", rs[0][3])
            # the loop is free again: the next request is answered
            status, body = w.post("/hooks/ok", {"email": "b@contoso.onmicrosoft.com"})
            self.assertLess(status, 300, body)
        finally:
            w.stop()


if __name__ == "__main__":
    harness.main("WEIR", "SOURCE")
