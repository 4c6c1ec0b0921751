"""End-to-end tests of the user-change and group-membership triggers (issue #16): the real
`weir run` against the real build/graphsim on loopback ports, with `every: 1s` workflows, the
directory changed behind weir's back through graphsim's /_sim endpoints, and what fired read
back from the journal (events of source "user-change <workflow>" / "group-membership
<workflow>", and their runs).

usage: test_directory_changes.py WEIR_BINARY GRAPHSIM_BINARY SOURCE_DIR
"""
import json
import os
import re
import shutil
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ADELE = "781f9c58-d664-4fa9-a8a8-529f035efa25"
ADELE_UPN = "adele.vance@contoso.onmicrosoft.com"
LEE = "31162427-3bfd-4d33-8d00-38ec42650644"
LEE_UPN = "lee.gu@contoso.onmicrosoft.com"
MEGAN = "795b929e-9a9a-40fd-aa7b-5bf55eb561a4"
MEGAN_UPN = "megan.bowen@contoso.onmicrosoft.com"
PRADEEP = "28ce6f24-1064-4d51-86f8-da3eabe19f58"
ISAIAH = "8a7d43b5-7863-4074-b797-0386fee29476"
SALES = "2257989f-ef82-4c88-b6ce-d90a71d2af72"

MOVER = """name: mover
trigger:
  user-change:
    attributes: [department, manager]
    select: [jobTitle]
    every: 1s
steps:
  - wait: 1s
"""

SALES_WF = """name: sales
trigger:
  group-membership:
    group: Sales
    every: 1s
steps:
  - wait: 1s
"""


def sim_call(sim, method, path, body=None):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=10)
    c.request(method, path, json.dumps(body) if body is not None else None,
              {"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status >= 300:
        raise AssertionError("graphsim %s %s: %d %s" % (method, path, r.status, data))


def events(root, source):
    """The bodies (parsed) of the events stored from source, oldest first."""
    c = harness.journal(root)
    rows = c.execute("SELECT body FROM events WHERE source = ? ORDER BY received_at, rowid",
                     (source,)).fetchall()
    c.close()
    return [json.loads(r[0]) for r in rows]


def state(root, scope):
    c = harness.journal(root)
    rows = c.execute("SELECT name, value FROM trigger_state WHERE scope = ?", (scope,)).fetchall()
    c.close()
    return dict(rows)


def polls(w, workflow, outcome="ok"):
    status, headers, text = w.call("GET", "/metrics")
    m = re.search(r'weir_trigger_polls_total\{trigger="[^"]+",workflow="%s",outcome="%s"\} (\d+)'
                  % (workflow, outcome), text)
    return int(m.group(1)) if m else 0


def rounds(w, workflow, n=2, outcome="ok", timeout=30):
    """Waits until n more rounds of workflow ended with outcome (one whole round after now)."""
    start = polls(w, workflow, outcome)
    harness.wait_for("%d %s rounds of %s" % (n, outcome, workflow),
                     lambda: polls(w, workflow, outcome) >= start + n, timeout)


class DirectoryChangesTest(unittest.TestCase):
    def setUp(self):
        self.sim = harness.Sim()
        self.root = harness.setup_root(self.sim, {"mover.yaml": MOVER, "sales.yaml": SALES_WF},
                                       prefix="weir-changes-", admin="127.0.0.1:0")
        self.weir = None

    def tearDown(self):
        if self.weir and self.weir.proc.poll() is None:
            self.weir.stop()
        self.sim.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def start(self):
        self.weir = harness.Weir(self.root, env=harness.GRAPH_ENV, admin=True)
        return self.weir

    def test_user_changes(self):
        w = self.start()
        w.wait_log("user-change: baseline recorded", timeout=30)
        rounds(w, "mover")
        self.assertEqual(events(self.root, "user-change mover"), [], "the baseline fires nothing")
        st = state(self.root, "user-change mover")
        self.assertIn("delta", st)
        self.assertEqual(json.loads(st["u:" + ADELE])["department"], "Retail")

        # A department change fires once, with from/to.
        sim_call(self.sim, "PATCH", "/_sim/users/" + ADELE, {"department": "IT"})
        rounds(w, "mover", 3)
        evs = events(self.root, "user-change mover")
        self.assertEqual(len(evs), 1, evs)
        self.assertEqual(evs[0]["changes"], {"department": {"from": "Retail", "to": "IT"}})
        self.assertEqual(evs[0]["user"]["userPrincipalName"], ADELE_UPN)
        self.assertEqual(evs[0]["user"]["jobTitle"], "Retail Manager")
        harness.wait_runs(self.root, "workflow = 'mover'")

        # An unwatched property: nothing fires.
        sim_call(self.sim, "PATCH", "/_sim/users/" + ADELE, {"city": "Oslo", "jobTitle": "Boss"})
        rounds(w, "mover", 3)
        self.assertEqual(len(events(self.root, "user-change mover")), 1)

        # A manager change: from/to as {id, userPrincipalName}.
        sim_call(self.sim, "PATCH", "/_sim/users/" + ADELE, {"manager": LEE})
        rounds(w, "mover", 3)
        evs = events(self.root, "user-change mover")
        self.assertEqual(len(evs), 2, evs)
        self.assertEqual(evs[1]["changes"], {"manager": {
            "from": {"id": MEGAN, "userPrincipalName": MEGAN_UPN},
            "to": {"id": LEE, "userPrincipalName": LEE_UPN}}})
        self.assertEqual(evs[1]["user"]["jobTitle"], "Boss")
        sim_call(self.sim, "PATCH", "/_sim/users/" + ADELE, {"manager": None})
        rounds(w, "mover", 3)
        evs = events(self.root, "user-change mover")
        self.assertEqual(evs[2]["changes"]["manager"], {
            "from": {"id": LEE, "userPrincipalName": LEE_UPN}, "to": None})
        self.assertIsNone(evs[2]["user"]["manager"])

        # An expired token: a full read that reports only the real change, once.
        sim_call(self.sim, "PATCH", "/_sim/users/" + LEE, {"department": "Research"})
        sim_call(self.sim, "POST", "/_sim/faults", {"expire_delta_tokens": True})
        w.wait_log("Graph refused the delta token", timeout=20)
        rounds(w, "mover", 3)
        evs = events(self.root, "user-change mover")
        self.assertEqual(len(evs), 4, evs)
        self.assertEqual(evs[3]["user"]["id"], LEE)
        self.assertEqual(evs[3]["changes"], {"department": {"from": "Engineering",
                                                            "to": "Research"}})

        # A deleted user fires `deleted` with the user as last seen.
        sim_call(self.sim, "DELETE", "/_sim/users/" + PRADEEP)
        rounds(w, "mover", 3)
        evs = events(self.root, "user-change mover")
        self.assertEqual(len(evs), 5, evs)
        self.assertTrue(evs[4]["deleted"])
        self.assertEqual(evs[4]["user"]["department"], "Finance")
        self.assertNotIn("u:" + PRADEEP, state(self.root, "user-change mover"))

        # Across a restart nothing fires twice and a change made while down fires once.
        self.assertEqual(w.stop(), 0)
        sim_call(self.sim, "PATCH", "/_sim/users/" + MEGAN, {"department": "Sales"})
        w = self.start()
        rounds(w, "mover", 3)
        evs = events(self.root, "user-change mover")
        self.assertEqual(len(evs), 6, evs)
        self.assertEqual(evs[5]["user"]["id"], MEGAN)

        # A kill -9 during rounds: the change fires exactly once.
        sim_call(self.sim, "PATCH", "/_sim/users/" + MEGAN, {"department": "Legal"})
        time.sleep(0.6)
        w.kill()
        w = self.start()
        rounds(w, "mover", 3)
        evs = events(self.root, "user-change mover")
        legal = [e for e in evs if e.get("changes", {}).get("department", {}).get("to") == "Legal"]
        self.assertEqual(len(legal), 1, evs)
        self.assertEqual(len(evs), 7, evs)

        # /metrics counts the rounds; a 403 shows in /readyz and fires nothing.
        self.assertGreater(polls(w, "mover"), 0)
        sim_call(self.sim, "POST", "/_sim/faults", {"delta_forbidden": True})
        sim_call(self.sim, "PATCH", "/_sim/users/" + MEGAN, {"department": "Ops"})
        rounds(w, "mover", 2, outcome="failed")
        status, body = w.api("GET", "/readyz")
        check = body["checks"]["polls"]["user-change mover"]
        self.assertIn("403", check)
        self.assertIn("Authorization_RequestDenied", check)
        w.wait_log("user-change poll failed.*403", timeout=5)
        self.assertEqual(len(events(self.root, "user-change mover")), 7)
        sim_call(self.sim, "POST", "/_sim/faults", {"delta_forbidden": False})
        rounds(w, "mover", 2)
        self.assertEqual(w.api("GET", "/readyz")[1]["checks"]["polls"]["user-change mover"], "ok")
        evs = events(self.root, "user-change mover")
        self.assertEqual(len(evs), 8, evs)
        self.assertEqual(evs[7]["changes"]["department"]["to"], "Ops")

    def test_group_membership(self):
        w = self.start()
        w.wait_log("group-membership: baseline recorded", timeout=30)
        rounds(w, "sales")
        self.assertEqual(events(self.root, "group-membership sales"), [])
        st = state(self.root, "group-membership sales")
        self.assertIn("m:" + ISAIAH, st)
        self.assertEqual(json.loads(st["group"]), {"id": SALES, "displayName": "Sales"})

        sim_call(self.sim, "POST", "/_sim/groups/%s/members" % SALES, {"id": ADELE})
        rounds(w, "sales", 3)
        evs = events(self.root, "group-membership sales")
        self.assertEqual(len(evs), 1, evs)
        self.assertEqual(evs[0]["change"], "added")
        self.assertEqual(evs[0]["user"]["userPrincipalName"], ADELE_UPN)
        self.assertEqual(evs[0]["group"], {"id": SALES, "displayName": "Sales"})

        sim_call(self.sim, "DELETE", "/_sim/groups/%s/members/%s" % (SALES, ISAIAH))
        rounds(w, "sales", 3)
        evs = events(self.root, "group-membership sales")
        self.assertEqual(len(evs), 2, evs)
        self.assertEqual((evs[1]["change"], evs[1]["user"]["id"]), ("removed", ISAIAH))

        # Restart: what changed while down fires once, nothing else again.
        self.assertEqual(w.stop(), 0)
        sim_call(self.sim, "DELETE", "/_sim/groups/%s/members/%s" % (SALES, ADELE))
        w = self.start()
        rounds(w, "sales", 3)
        evs = events(self.root, "group-membership sales")
        self.assertEqual(len(evs), 3, evs)
        self.assertEqual((evs[2]["change"], evs[2]["user"]["id"]), ("removed", ADELE))

        # An expired token: the whole membership again, only the real change reported.
        sim_call(self.sim, "POST", "/_sim/groups/%s/members" % SALES, {"id": LEE})
        sim_call(self.sim, "POST", "/_sim/faults", {"expire_delta_tokens": True})
        rounds(w, "sales", 3)
        evs = events(self.root, "group-membership sales")
        self.assertEqual(len(evs), 4, evs)
        self.assertEqual((evs[3]["change"], evs[3]["user"]["id"]), ("added", LEE))
        self.assertEqual(len(harness.runs(self.root, "workflow = 'sales'")), 4)


if __name__ == "__main__":
    harness.main("WEIR", "GRAPHSIM", "SOURCE")
