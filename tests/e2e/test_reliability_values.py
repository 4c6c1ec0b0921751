#!/usr/bin/env python3
"""End-to-end tests of how weir handles values (issue #13): the real `weir run` and
build/graphsim on loopback ports, judged by the HTTP answers, graphsim's resulting state and
request log, and the journal.

usage: test_reliability_values.py WEIR_BINARY GRAPHSIM_BINARY SOURCE_DIR

Covers: a missing event field never clears a Graph property (item 4); numbers are kept
exactly or refused, never clamped (item 6); webhook bodies are strict RFC 8259 JSON objects
and what weir shows of them is JSON (item 12); wait_until refuses impossible times (item 13);
a split delivery answers in one shape whatever its size, a non-string user names its value,
and a 404 names the path that was asked for (item 16).
"""
import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ALEX = "alex.wilber@contoso.onmicrosoft.com"

RETITLE = """
name: retitle
trigger:
  webhook: { path: /hooks/profile }
steps:
  - id: profile
    action: update-user
    user: "{{ event.user }}"
    set:
      jobTitle: "{{ event.title }}"
      officeLocation: "{{ event.office }}"
"""

CLEAR = """
name: clear-office
trigger:
  webhook: { path: /hooks/clear }
steps:
  - action: update-user
    user: "{{ event.user }}"
    set: { officeLocation: "{{ event.office or weir.null }}" }
"""

KEYED = """
name: keyed
trigger:
  webhook: { path: /hooks/keyed, id: "{{ event.employee_id }}" }
steps:
  - action: update-user
    user: isaiah.langer@contoso.onmicrosoft.com
    set: { jobTitle: "E{{ event.employee_id }}" }
"""

SPLIT = """
name: bamboo
trigger:
  webhook: { path: /hooks/bamboo, split: event.employees }
steps:
  - wait: 1h
"""

WAIT = """
name: later
trigger:
  webhook: { path: /hooks/wait }
steps:
  - wait_until: "{{ event.at }}"
"""

BYID = """
name: by-id
trigger:
  webhook: { path: /hooks/byid }
steps:
  - action: disable-user
    user: "{{ event.id }}"
"""


def strict_json(text):
    """json.loads that refuses NaN and Infinity (Python's own parser takes them)."""
    def refuse(name):
        raise ValueError("not JSON: " + name)
    return json.loads(text, parse_constant=refuse)


class ValuesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = harness.Sim()
        cls.root = harness.setup_root(
            cls.sim, {"retitle.yaml": RETITLE, "clear.yaml": CLEAR, "keyed.yaml": KEYED,
                      "split.yaml": SPLIT, "wait.yaml": WAIT, "byid.yaml": BYID,
                      "mover.yaml": open(os.path.join(harness.SOURCE,
                                                      "workflows/mover.yaml")).read()},
            prefix="weir-values-")
        cls.w = harness.Weir(cls.root, env=harness.SIGNED_ENV)

    @classmethod
    def tearDownClass(cls):
        if cls.w.proc.poll() is None:
            cls.w.stop()
        cls.sim.stop()
        shutil.rmtree(cls.root)

    def run_of(self, event_id):
        return harness.wait_runs(self.root, "event_id = '%s' AND status IN "
                                 "('succeeded', 'failed', 'waiting')" % event_id)[0]

    def events(self, where):
        with harness.journal(self.root) as c:
            return c.execute("SELECT id, idem_key, body FROM events WHERE " + where).fetchall()

    # ---- item 4: nil is not "clear this property" ----

    def test_missing_field_fails_the_step_and_leaves_graph_alone(self):
        user = "johanna.lorenz@contoso.onmicrosoft.com"
        before = self.sim.user(user)
        self.assertTrue(before.get("officeLocation"))
        status, body = self.w.post("/hooks/profile", {"user": user, "title": "Engineer"})
        self.assertEqual(status, 202, body)
        run = self.run_of(body["event_id"])
        self.assertEqual(run[2], "failed", run)
        self.assertEqual(run[3], "steps[0].set.officeLocation: template '{{ event.office }}' is "
                         "nil; weir sends no value it was not given (write '{{ event.office or "
                         "weir.null }}' to send null, e.g. to clear a property, on purpose)")
        after = self.sim.user(user)
        self.assertEqual(after.get("officeLocation"), before.get("officeLocation"))
        self.assertEqual(after.get("jobTitle"), before.get("jobTitle"))

    def test_weir_null_clears_on_purpose(self):
        user = "lee.gu@contoso.onmicrosoft.com"
        self.assertTrue(self.sim.user(user).get("officeLocation"))
        status, body = self.w.post("/hooks/clear", {"user": user})
        self.assertEqual(status, 202, body)
        self.assertEqual(self.run_of(body["event_id"])[2], "succeeded")
        self.assertIsNone(self.sim.user(user).get("officeLocation"))

    def test_shipped_mover_sets_only_what_the_event_has(self):
        user = "megan.bowen@contoso.onmicrosoft.com"
        before = self.sim.user(user)
        event = {"type": "employee.changed", "delivery_id": "mv-1",
                 "employee": {"id": "E-mv-1", "work_email": user, "department": "Sales",
                              "job_title": "Account Executive"},
                 "changes": {"department": {"from": "Engineering", "to": "Sales"}}}
        status, body = self.w.signed_post(event)
        self.assertEqual(status, 202, body)
        run = self.run_of(body["event_id"])
        self.assertEqual(run[2], "succeeded", run)
        after = self.sim.user(user)
        self.assertEqual((after["department"], after["jobTitle"]), ("Sales", "Account Executive"))
        self.assertEqual(after.get("officeLocation"), before.get("officeLocation"))

    # ---- item 6: numbers exact or refused ----

    def test_integers_beyond_64_bits_are_refused_not_clamped(self):
        stored = len(self.events("source = 'webhook /hooks/keyed'"))
        for n in ("123456789012345678901234567890", "123456789012345678901234567891",
                  "-9223372036854775809", "18446744073709551615"):
            status, body = self.w.post("/hooks/keyed", '{"employee_id": %s}' % n)
            self.assertEqual(status, 400, body)
            self.assertEqual(body["error"],
                             "invalid JSON at line 1, column 17 (at employee_id): integer out "
                             "of range: %s needs more than 64 bits (as a string it is kept "
                             "exactly)" % n)
        for text in ('{"employee_id": 1e400}', '{"employee_id": 1e-400}'):
            status, body = self.w.post("/hooks/keyed", text)
            self.assertEqual(status, 400, body)
            self.assertIn("number out of range", body["error"])
        self.assertEqual(len(self.events("source = 'webhook /hooks/keyed'")), stored)
        # As strings they are kept exactly: two ids, two keys, two events.
        keys = []
        for n in ("123456789012345678901234567890", "123456789012345678901234567891"):
            status, body = self.w.post("/hooks/keyed", '{"employee_id": "%s"}' % n)
            self.assertEqual(status, 202, body)
            keys.append(self.events("id = '%s'" % body["event_id"])[0][1])
        self.assertEqual(keys, ["123456789012345678901234567890",
                                "123456789012345678901234567891"])

    def test_edge_integers_reach_graph_exactly(self):
        status, body = self.w.post("/hooks/keyed", '{"employee_id": 9223372036854775807}')
        self.assertEqual(status, 202, body)
        self.assertEqual(self.events("id = '%s'" % body["event_id"])[0][1], "9223372036854775807")
        run = self.run_of(body["event_id"])
        self.assertEqual(run[2], "succeeded", run)
        self.assertEqual(self.sim.user("isaiah.langer@contoso.onmicrosoft.com")["jobTitle"],
                         "E9223372036854775807")

    # ---- item 12: strict JSON ----

    def test_bodies_are_strict_json(self):
        cases = [
            ('{"a": NaN}', "line 1, column 7 (at a): NaN and Infinity are not JSON numbers"),
            ('{"a":\n  Infinity}', "line 2, column 3 (at a): NaN and Infinity are not JSON "
                                   "numbers"),
            ("{'a': 1}", "line 1, column 2: a key must be a string in double quotes, not "
                         "single quotes"),
            ('{"a": 1, "a": 2}', 'line 1, column 10 (at a): duplicate key "a"'),
            ('{"a": "x\\u0000y"}', "line 1, column 9 (at a): value contains a NUL byte "
                                   "(\\u0000)"),
            ('{"a": "\\ud800"}', "line 1, column 8 (at a): a lone UTF-16 surrogate (\\ud800) "
                                 "is not a character (a high surrogate needs a low one after "
                                 "it)"),
            ("", "line 1, column 1: no JSON value (the body is empty)"),
            (" \n ", "line 2, column 2: no JSON value (the body is empty)"),
        ]
        for text, want in cases:
            status, body = self.w.post("/hooks/profile", text)
            self.assertEqual(status, 400, (text, body))
            self.assertEqual(body["error"], "invalid JSON at " + want, text)
        for text, kind in (("[1,2,3]", "a list"), ('"hello"', "a string"), ("42", "an integer"),
                           ("null", "null")):
            status, body = self.w.post("/hooks/profile", text)
            self.assertEqual(status, 422, (text, body))
            self.assertEqual(body["error"], "the body must be a JSON object, got " + kind)
        self.assertEqual(self.events("source = 'webhook /hooks/profile' AND body NOT LIKE "
                                     "'{\"user\"%'"), [])

    def test_what_weir_shows_is_json(self):
        status, body = self.w.post("/hooks/profile",
                                   '{"user": "%s", "title": "T", "office": "1", "ratio": 0.1,'
                                   ' "big": 9007199254740993}' % ALEX)
        self.assertEqual(status, 202, body)
        run = self.run_of(body["event_id"])
        out = subprocess.run([harness.WEIR, "show", "--json", run[0]], cwd=self.root,
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        shown = strict_json(out.stdout)
        self.assertEqual(shown["event"]["body"]["big"], 9007199254740993)
        self.assertEqual(shown["event"]["body"]["ratio"], 0.1)

    def test_fire_and_map_read_events_strictly(self):
        path = os.path.join(self.root, "dup.json")
        with open(path, "w") as f:
            f.write('{"user": "a@x",\n "user": "b@x"}')
        out = subprocess.run([harness.WEIR, "fire", "retitle", "--event", path], cwd=self.root,
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 1)
        self.assertIn("dup.json:2:2: user: duplicate key (first defined at line 1)", out.stderr)
        with open(path, "w") as f:
            f.write("[1, 2]")
        out = subprocess.run([harness.WEIR, "fire", "retitle", "--event", path], cwd=self.root,
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 1)
        self.assertIn("an event is a JSON object (a YAML mapping), got a list", out.stderr)

    # ---- item 13: wait_until ----

    def test_wait_until_refuses_impossible_times(self):
        cases = {
            "2099-02-30T00:00:00Z": "day 30 does not exist in 2099-02 (it has 28 days)",
            "2099-01-01T25:61:00Z": "hour 25 is out of range (00-23)",
            "2099-01-01T10:61:00Z": "minute 61 is out of range (00-59)",
            "2099-01-01T10:00:00+99:00": "offset hour 99 is out of range (00-23)",
            "2099-01-01T10:00:60Z": "second 60 (a leap second) is not supported",
        }
        for at, why in cases.items():
            status, body = self.w.post("/hooks/wait", {"at": at})
            self.assertEqual(status, 202, body)
            run = self.run_of(body["event_id"])
            self.assertEqual(run[2], "failed", run)
            self.assertEqual(run[3], "steps[0].wait_until: '%s': %s" % (at, why))
        status, body = self.w.post("/hooks/wait", {"at": "2099-01-01T10:00:00.0005+02:00"})
        run = self.run_of(body["event_id"])
        self.assertEqual(run[2], "waiting", run)
        with harness.journal(self.root) as c:
            next_at = c.execute("SELECT next_at FROM runs WHERE id = ?", (run[0],)).fetchone()[0]
        # 2099-01-01T08:00:00.0005Z, rounded up to the millisecond: never early
        self.assertEqual(next_at, 4070937600001)
        status, body = self.w.post("/hooks/wait", {})
        run = self.run_of(body["event_id"])
        self.assertEqual(run[2], "failed", run)
        self.assertIn("steps[0].wait_until: template '{{ event.at }}' is nil", run[3])

    # ---- item 16 ----

    def test_split_answers_in_one_shape(self):
        for n in (1, 2, 0):
            status, body = self.w.post("/hooks/bamboo", {"employees": [{"n": i, "k": "s%d" % n}
                                                                       for i in range(n)]})
            self.assertEqual(status, 202, body)
            self.assertEqual(sorted(body), ["events", "runs"], body)
            self.assertEqual(len(body["events"]), n)
            self.assertEqual(body["runs"], n)
        status, body = self.w.post("/hooks/bamboo", {"employees": [{"n": 1}, 2]})
        self.assertEqual(status, 422, body)
        self.assertEqual(body["error"], "split: item 1 of 'event.employees' is an integer; "
                                        "each must be a JSON object (one event)")
        # a list at the top is for split: to take apart
        status, body = self.w.post("/hooks/bamboo", [{"n": 1}])
        self.assertEqual(status, 422, body)

    def test_non_string_user_names_its_value(self):
        status, body = self.w.post("/hooks/byid", {"id": 42})
        self.assertEqual(status, 202, body)
        run = self.run_of(body["event_id"])
        self.assertEqual(run[2], "failed", run)
        self.assertEqual(run[3], "steps[0].user: expected a string (object id, userPrincipalName, "
                                 "mail or employeeId:VALUE), got an integer 42 from "
                                 "'{{ event.id }}'")

    def test_help_documents_the_value_rules(self):
        out = subprocess.run([harness.WEIR, "help", "templates"], capture_output=True, text=True,
                             timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        for words in ("weir.null", "{{ event.employee.office or weir.null }}",
                      "fit in 64 bits", "RFC 8259",
                      "2099-02-30", "directory of weir.yaml"):
            self.assertIn(words, out.stdout)

    def test_404_names_the_path_asked_for(self):
        for path in ("//hooks//hr", "/hooks/../hooks/hr", "/hooks/nope?x=1"):
            status, body = self.w.post(path, {})
            self.assertEqual(status, 404, (path, body))
            self.assertEqual(body["error"], "no webhook at " + path.split("?")[0])


if __name__ == "__main__":
    harness.main("WEIR", "GRAPHSIM", "SOURCE")
