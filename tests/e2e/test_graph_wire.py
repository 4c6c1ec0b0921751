#!/usr/bin/env python3
"""End-to-end tests of what weir sends to Graph and how it takes what comes back: the real
`weir run` and the real build/graphsim on loopback ports.

- the wire of every action, as graphsim's request log captured it: method, path, headers
  (Content-Type, client-request-id, User-Agent, Authorization) and body, against GRAPH.md's
  documented requests; a userPrincipalName that begins with '$' addressed as /users('...');
- answers Graph may give that are no usable success (202 with no body, HTML, truncated JSON,
  JSON of another shape, no id) for every Graph call of every action (lookups, lists, SKU and
  licence-state reads, PIM schedules and requests, read-backs, writes): a clear step error
  naming the call, the status, the content type and the first bytes, with the request-id and
  client-request-id, never a crash nor a success;
- the poison-run rule: a run the daemon crashes on three times in a row is parked as failed,
  while kill -9 (no crash) never parks a run;
- national clouds: graph.scope, and graphsim as graph.microsoft.us;
- tenant-wide throttling: no request of the scope before its Retry-After has passed, while
  runs on different paths are in flight.

usage: test_graph_wire.py WEIR_BINARY GRAPHSIM_BINARY SOURCE_DIR
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

DOMAIN = "contoso.onmicrosoft.com"
ADELE = "adele.vance@" + DOMAIN
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
DOLLAR = "$svc.sync@" + DOMAIN
DOLLAR_ID = "7d0c1a52-9f3e-4c1b-8a6d-2e5f4b3c1a90"


def seed_with_dollar_user(root):
    """A copy of the shipped seed with a user whose UPN begins with '$'; its path."""
    with open(os.path.join(harness.SOURCE, "tests/graphsim/seed.json")) as f:
        seed = json.load(f)
    seed["users"].append({"id": DOLLAR_ID, "userPrincipalName": DOLLAR,
                          "displayName": "Sync Service"})
    path = os.path.join(root, "seed.json")
    with open(path, "w") as f:
        json.dump(seed, f)
    return path


def start_weir(root, args=()):
    return harness.Weir(root, args=args, env=harness.SIGNED_ENV, json_only=True)


def add_to_config(root, graph_lines="", top_lines=""):
    """Adds lines to root/weir.yaml: into its graph: mapping, and at the top level."""
    path = os.path.join(root, "weir.yaml")
    with open(path) as f:
        text = f.read()
    anchor = "  client_secret: env:WEIR_GRAPH_SECRET\n"
    text = text.replace(anchor, anchor + graph_lines) + top_lines
    with open(path, "w") as f:
        f.write(text)


def requests_since(sim, seq=0):
    return sim.get("/_sim/requests?since=%d" % seq)["value"]


def last_seq(sim):
    log = requests_since(sim)
    return log[-1]["seq"] if log else 0


def steps(root, run_id):
    c = harness.journal(root)
    rows = c.execute("SELECT idx, step_id, status, attempts, error FROM steps WHERE run_id = ? "
                     "ORDER BY idx", (run_id,)).fetchall()
    c.close()
    return rows


WIRE = """
name: wire
trigger:
  webhook: { path: /hooks/hr }
retry: { attempts: 1 }
steps:
  - id: create
    action: create-user
    set: { userPrincipalName: "wire.user@contoso.onmicrosoft.com", displayName: "Wire User",
           mailNickname: "wire.user", employeeId: "W0001", usageLocation: "US" }
  - id: update
    action: update-user
    user: wire.user@contoso.onmicrosoft.com
    set: { jobTitle: "Wire Tester", department: "QA" }
  - id: license
    action: assign-license
    user: wire.user@contoso.onmicrosoft.com
    add: [SPE_E3]
  - id: group
    action: add-to-group
    user: wire.user@contoso.onmicrosoft.com
    group: Engineering
  - id: manager
    action: set-manager
    user: wire.user@contoso.onmicrosoft.com
    manager: adele.vance@contoso.onmicrosoft.com
  - id: role
    action: set-role
    user: wire.user@contoso.onmicrosoft.com
    role: User Administrator
  - id: revoke
    action: revoke-sessions
    user: wire.user@contoso.onmicrosoft.com
  - id: disable
    action: disable-user
    user: wire.user@contoso.onmicrosoft.com
  - id: ungroup
    action: remove-from-group
    user: wire.user@contoso.onmicrosoft.com
    group: Engineering
  - id: unrole
    action: remove-role
    user: wire.user@contoso.onmicrosoft.com
    role: User Administrator
  - id: unlicense
    action: remove-all-licenses
    user: wire.user@contoso.onmicrosoft.com
  - id: dollar
    action: update-user
    user: "$svc.sync@contoso.onmicrosoft.com"
    set: { jobTitle: "Robot" }
  - id: dollar_revoke
    action: revoke-sessions
    user: "$svc.sync@contoso.onmicrosoft.com"
  - id: delete
    action: delete-user
    user: wire.user@contoso.onmicrosoft.com
"""


class WireTest(unittest.TestCase):
    def test_every_request_on_the_wire(self):
        tmp = tempfile.mkdtemp(prefix="weir-wire-")
        sim = harness.Sim("--seed", seed_with_dollar_user(tmp))
        root = harness.setup_root(sim, {"wire.yaml": WIRE}, prefix="weir-wire-")
        w = start_weir(root)
        try:
            status, body = w.signed_post({"go": True})
            self.assertEqual(status, 202, body)
            rs = harness.wait_final(root, 1)
            self.assertEqual(rs[0][2], "succeeded", (rs, steps(root, rs[0][0])))
            log = requests_since(sim)
            state = sim.get("/_sim/state")
            c = harness.journal(root)
            outputs = {k: json.loads(v) for k, v in c.execute(
                "SELECT step_id, output FROM steps WHERE run_id = ?", (rs[0][0],)).fetchall()}
            c.close()
        finally:
            self.assertEqual(w.stop(), 0)
            sim.stop()
            shutil.rmtree(root)
            shutil.rmtree(tmp)

        # Each step's output keeps the Graph requests it made (GRAPH.md 12, supportability):
        # method, path, status and the ids, as graphsim logged them; together, every Graph
        # request of the run, each in one step.
        ids = {(e["headers"]["client-request-id"], e["request_id"]): e for e in log
               if not e["batch"] and "form" not in e}
        items = [e for e in log if e["batch"] or (e["path"] != "/v1.0/$batch" and
                                                   "form" not in e)]
        listed = 0
        for step, out in outputs.items():
            self.assertTrue(out.get("graph"), (step, out))
            listed += len(out["graph"]) + out.get("graph_omitted", 0)
            for g in out["graph"]:
                self.assertEqual(set(g), {"method", "path", "status", "request_id",
                                          "client_request_id"})
                top = ids.get((g["client_request_id"], g["request_id"]))
                self.assertIsNotNone(top, (step, g))
                if top["path"] != "/v1.0/$batch":
                    self.assertEqual((top["method"], top["path"], top["status"]),
                                     (g["method"], "/v1.0" + g["path"], g["status"]), step)
        self.assertEqual(listed, len(items))

        ua = re.compile(r"^weir/\d+\.\d+\.\d+ \(")
        seen = {}
        crids = {}
        groups = {g["displayName"]: g["id"] for g in state["groups"]}
        roles = {r["displayName"]: r["id"] for r in state["roleDefinitions"]}
        adele_id = [u["id"] for u in state["users"] if u["userPrincipalName"] == ADELE][0]
        wire_id = None
        for e in log:
            h, m, path = e["headers"], e["method"], e["path"]
            if "form" in e:  # the token endpoint
                self.assertEqual((m, path), ("POST", "/%s/oauth2/v2.0/token" % DOMAIN))
                self.assertEqual(h["Content-Type"], "application/x-www-form-urlencoded")
                self.assertRegex(h["User-Agent"], ua)
                self.assertRegex(h["client-request-id"], GUID)
                self.assertEqual(e["form"]["scope"], "https://graph.microsoft.com/.default")
                self.assertEqual(e["form"]["grant_type"], "client_credentials")
                seen["token"] = True
                continue
            if e["batch"]:
                # A $batch item: Content-Type with a body (GRAPH.md section 8), none without.
                self.assertEqual(h["Content-Type"],
                                 "application/json" if e["body"] is not None else None, e)
            else:
                self.assertEqual(h["Authorization"], "Bearer", e)
                self.assertRegex(h["User-Agent"], ua)
                self.assertRegex(h["client-request-id"], GUID)
                self.assertRegex(e["request_id"], GUID)
                # One client-request-id per request: a second use is a retry of the same one.
                prev = crids.setdefault(h["client-request-id"], (m, path))
                self.assertEqual(prev, (m, path), "client-request-id reused: %s" % e)
                # JSON on every POST, PUT and PATCH, bodiless ones too (section 12), and no type
                # where there is no body to type.
                want = "application/json" if m in ("POST", "PUT", "PATCH") else None
                self.assertEqual(h["Content-Type"], want, e)
            # 2xx, or the 404 of a user without a manager (GRAPH.md section 7)
            self.assertTrue(e["status"] < 300 or (m == "GET" and "/manager" in path and
                                                  e["status"] == 404), e)
            body = json.loads(e["body"]) if e["body"] else None
            if m == "POST" and path == "/v1.0/users":
                # section 3: the required properties; a generated password that must change
                self.assertEqual(set(body) >= {"accountEnabled", "displayName", "mailNickname",
                                               "userPrincipalName", "passwordProfile"}, True)
                self.assertIs(body["passwordProfile"]["forceChangePasswordNextSignIn"], True)
                seen["create"] = True
            elif m == "PATCH" and path.startswith("/v1.0/users/"):
                self.assertIsInstance(body, dict)
                self.assertTrue(body)
                if body == {"jobTitle": "Robot"}:
                    self.assertEqual(path, "/v1.0/users/" + DOLLAR_ID)
                    seen["dollar_patch"] = True
                else:
                    wire_id = path.rsplit("/", 1)[1]
                    seen.setdefault("patch", []).append(body)
            elif m == "POST" and path.endswith("/assignLicense"):
                # section 4.1: both arrays, always; disabledPlans on every added license
                self.assertEqual(set(body), {"addLicenses", "removeLicenses"})
                for lic in body["addLicenses"]:
                    self.assertEqual(set(lic), {"skuId", "disabledPlans"})
                seen.setdefault("assign", []).append(body)
            elif m == "POST" and path.endswith("/members/$ref"):
                # section 6: a directoryObjects reference
                self.assertEqual(path, "/v1.0/groups/%s/members/$ref" % groups["Engineering"])
                self.assertEqual(set(body), {"@odata.id"})
                self.assertRegex(body["@odata.id"], r"/v1\.0/directoryObjects/[0-9a-f-]{36}$")
                seen["member"] = True
            elif m == "PUT" and path.endswith("/manager/$ref"):
                # section 7
                self.assertEqual(body, {"@odata.id": "http://127.0.0.1:%d/v1.0/users/%s"
                                                     % (sim.port, adele_id)})
                seen["manager"] = True
            elif m == "POST" and path == "/v1.0/roleManagement/directory/roleAssignments":
                # section 5.1
                self.assertEqual(body["@odata.type"], "#microsoft.graph.unifiedRoleAssignment")
                self.assertEqual(body["roleDefinitionId"], roles["User Administrator"])
                self.assertEqual(body["directoryScopeId"], "/")
                self.assertRegex(body["principalId"], r"^[0-9a-f-]{36}$")
                seen["role"] = True
            elif m == "POST" and path.endswith("/revokeSignInSessions"):
                # section 7: no body, but the JSON type (libcurl's default drew 415)
                self.assertIsNone(e["body"])
                self.assertEqual(e["body_length"], 0)
                seen.setdefault("revoke", []).append(path)
            elif m == "DELETE":
                self.assertIsNone(e["body"])
                if "/members/" in path:
                    self.assertTrue(path.endswith("/$ref"), path)  # never the user itself
                    seen["unmember"] = True
                elif "roleAssignments" in path:
                    seen["unrole"] = True
                else:
                    seen["delete"] = path
            elif m == "GET" and path.startswith("/v1.0/users('"):
                # A UPN beginning with '$' is a key literal, not a /users/$... segment.
                self.assertTrue(path.startswith("/v1.0/users('%24svc.sync%40" + DOMAIN.replace(
                    ".", ".") + "')"), path)
                seen["dollar_get"] = True
            elif m == "POST" and path == "/v1.0/$batch":
                seen["batch"] = True
            else:
                self.assertIn(m, ("GET",), e)
        for k in ("token", "create", "patch", "assign", "member", "manager", "role", "revoke",
                  "unmember", "unrole", "delete", "dollar_get", "dollar_patch"):
            self.assertIn(k, seen, "no %s request on the wire: %s" % (k, sorted(seen)))
        self.assertEqual(seen["delete"], "/v1.0/users/" + wire_id)
        self.assertIn("/v1.0/users/%s/revokeSignInSessions" % DOLLAR_ID, seen["revoke"])
        print("wire: %d requests checked" % len(log))


def one_step(name, action, extra=""):
    return """
name: %s
trigger:
  webhook: { path: /hooks/%s }
retry: { attempts: 2, initial: 50ms, max: 100ms }
steps:
  - id: act
    action: %s
    user: adele.vance@contoso.onmicrosoft.com
%s""" % (name, name, action, extra)


# Every action, each looking Adele up first (GET /users/adele...).
ACTIONS = {
    "update": one_step("update", "update-user", "    set: { jobTitle: X }\n"),
    "disable": one_step("disable", "disable-user"),
    "enable": one_step("enable", "enable-user"),
    "revoke": one_step("revoke", "revoke-sessions"),
    "delete": one_step("delete", "delete-user"),
    "license": one_step("license", "assign-license", "    add: [SPE_E3]\n"),
    "unlicense": one_step("unlicense", "remove-all-licenses"),
    "group": one_step("group", "add-to-group", "    group: Engineering\n"),
    "ungroup": one_step("ungroup", "remove-from-group", "    group: Engineering\n"),
    "manager": one_step("manager", "set-manager",
                        "    manager: megan.bowen@contoso.onmicrosoft.com\n"),
    "role": one_step("role", "set-role", "    role: User Administrator\n"),
    "unrole": one_step("unrole", "remove-role", "    role: User Administrator\n"),
}

# kind -> (a phrase of the error, attempts made: 2 when retriable, 1 when not)
UNUSABLE = {
    "empty_202": ('expected a user with a string "id", got HTTP 202, no Content-Type, empty body',
                  2),
    "html": ('the answer is not JSON: HTTP 200, Content-Type "text/html; charset=utf-8", 121 '
             'bytes: "<html><head><title>Service Unavailable', 2),
    "truncated": ('the answer is not JSON: HTTP 200, Content-Type "application/json;'
                  'odata.metadata=minimal', 2),
    "no_id": ('expected a user with a string "id", got HTTP 200, Content-Type "application/json;',
              1),
    "wrong_shape": ('expected a user with a string "id", got HTTP 200, Content-Type '
                    '"application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compat'
                    'ible=false;charset=utf-8", 2 bytes: "[]"', 1),
}


# {====== every Graph call of every action, with every unusable shape ======

ROLE_UA = "fe930be7-5e62-47db-91af-98c3a49a38b1"
T_DELETE = ("t.delete@" + DOMAIN, "5d1e0000-0000-4000-8000-00000000de1e")
T_ROLE = ("t.role@" + DOMAIN, "5d1e0000-0000-4000-8000-0000000001e0")


def seed_for_calls(root):
    """The shipped seed, plus a user to delete, one to make User Administrator, and Alex as an
    active User Administrator besides his PIM schedules (so remove-role makes every call)."""
    with open(os.path.join(harness.SOURCE, "tests/graphsim/seed.json")) as f:
        seed = json.load(f)
    for upn, oid in (T_DELETE, T_ROLE):
        seed["users"].append({"id": oid, "userPrincipalName": upn,
                              "displayName": upn.split("@")[0]})
    seed["roleAssignments"].append({"principalId": "alex.wilber@" + DOMAIN,
                                    "roleDefinitionId": ROLE_UA, "directoryScopeId": "/"})
    path = os.path.join(root, "seed.json")
    with open(path, "w") as f:
        json.dump(seed, f)
    return seed, path


def call_cases(seed):
    """name -> (workflow text, [(method, path prefix, query text, context in the error,
    how no_id ends)]): every Graph call the action makes, in order. A user per action, so the
    actions run side by side; paths and queries chosen so that no call of one action matches a
    fault meant for another. no_id ends: "fail", or "ok" where the answer has no id to lose
    (204, revokeSignInSessions' {"value": true}, an empty list); every shape ends "read back"
    for set-role's POST (the assignment is read back instead: GRAPH.md 12)."""
    uid = {u["userPrincipalName"].split("@")[0]: u["id"] for u in seed["users"]}
    gid = {g["displayName"]: g["id"] for g in seed["groups"]}
    upn = {k: "/users/%s%%40%s" % (k, DOMAIN) for k in uid}

    def wf(name, action, user, extra=""):
        return """
name: %s
trigger:
  webhook: { path: /hooks/%s }
retry: { attempts: 1 }
steps:
  - id: act
    action: %s
    user: %s@%s
%s""" % (name, name, action, user, DOMAIN, extra)

    def look(k):
        return ("GET", upn[k], "", "looking up user '%s@%s'" % (k, DOMAIN), "fail")

    def u(k):
        return "/users/" + uid[k]

    skus = ("GET", "/subscribedSkus", "", "reading /subscribedSkus", "fail")
    e5 = ("GET", "/groups/" + gid["E5 Pilot"], "", "looking up group '%s'" % gid["E5 Pilot"],
          "fail")
    roledef = ("GET", "/roleManagement/directory/roleDefinitions", "User%20Administrator",
               "looking up role definition 'User Administrator'", "fail")

    def pim(k, what, req):
        return [("GET", "/roleManagement/directory/" + what, uid[k],
                 "reading /roleManagement/directory/" + what, "fail"),
                ("POST", "/roleManagement/directory/" + req, "",
                 "POST %s (adminRemove) for user %s" % (req, uid[k]), "fail")]

    return {
        "update": (wf("update", "update-user", "adele.vance", "    set: { jobTitle: X }\n"),
                   [look("adele.vance"),
                    ("PATCH", u("adele.vance"), "", "PATCH /users/" + uid["adele.vance"], "ok")]),
        "disable": (wf("disable", "disable-user", "megan.bowen"),
                    [look("megan.bowen"),
                     ("PATCH", u("megan.bowen"), "", "PATCH /users/" + uid["megan.bowen"],
                      "ok")]),
        "enable": (wf("enable", "enable-user", "pradeep.gupta"),
                   [look("pradeep.gupta"),
                    ("PATCH", u("pradeep.gupta"), "", "PATCH /users/" + uid["pradeep.gupta"],
                     "ok")]),
        "revoke": (wf("revoke", "revoke-sessions", "patti.fernandez"),
                   [look("patti.fernandez"),
                    ("POST", u("patti.fernandez"), "",
                     "POST /users/%s/revokeSignInSessions" % uid["patti.fernandez"], "ok")]),
        "delete": (wf("delete", "delete-user", "t.delete"),
                   [look("t.delete"),
                    ("DELETE", u("t.delete"), "", "DELETE /users/" + uid["t.delete"], "ok")]),
        "license": (wf("license", "assign-license", "johanna.lorenz", "    add: [POWER_BI_PRO]\n"),
                    [look("johanna.lorenz"), skus, e5,
                     ("POST", u("johanna.lorenz"), "",
                      "POST /users/%s/assignLicense" % uid["johanna.lorenz"], "fail")]),
        "location": (wf("location", "assign-license", "lee.gu",
                        "    add: [EXCHANGESTANDARD]\n    usage_location: DE\n"),
                     [look("lee.gu"), skus,
                      ("PATCH", u("lee.gu"), "", "setting usageLocation of user " + uid["lee.gu"],
                       "ok"),
                      ("POST", u("lee.gu"), "", "POST /users/%s/assignLicense" % uid["lee.gu"],
                       "fail")]),
        "unlicense": (wf("unlicense", "remove-all-licenses", "isaiah.langer"),
                      [look("isaiah.langer"), skus, e5,
                       ("POST", u("isaiah.langer"), "",
                        "POST /users/%s/assignLicense" % uid["isaiah.langer"], "fail")]),
        "group": (wf("group", "add-to-group", "nestor.wilke", "    group: Sales\n"),
                  [look("nestor.wilke"),
                   ("GET", "/groups", "%27Sales%27", "looking up group 'Sales'", "fail"),
                   ("GET", u("nestor.wilke") + "/memberOf", "",
                    "reading /users/%s/memberOf" % uid["nestor.wilke"], "fail"),
                   ("POST", "/groups/" + gid["Sales"], "",
                    "POST /groups/%s/members/$ref" % gid["Sales"], "ok")]),
        "ungroup": (wf("ungroup", "remove-from-group", "lidia.holloway",
                       "    group: Engineering\n"),
                    [look("lidia.holloway"),
                     ("GET", "/groups", "%27Engineering%27", "looking up group 'Engineering'",
                      "fail"),
                     ("GET", u("lidia.holloway") + "/memberOf", "",
                      "reading /users/%s/memberOf" % uid["lidia.holloway"], "fail"),
                     ("DELETE", "/groups/" + gid["Engineering"], "",
                      "DELETE /groups/%s/members/$ref" % gid["Engineering"], "ok")]),
        "manager": (wf("manager", "set-manager", "miriam.graham",
                       "    manager: %s\n" % uid["megan.bowen"]),
                    [look("miriam.graham"),
                     ("GET", u("megan.bowen"), "", "manager: looking up user '%s'"
                      % uid["megan.bowen"], "fail"),
                     ("GET", u("miriam.graham") + "/manager", "",
                      "reading the manager of user " + uid["miriam.graham"], "fail"),
                     ("PUT", u("miriam.graham") + "/manager", "",
                      "PUT /users/%s/manager/$ref" % uid["miriam.graham"], "ok")]),
        "role": (wf("role", "set-role", "t.role", "    role: User Administrator\n"),
                 [look("t.role"), roledef,
                  # t.role holds no assignment: an empty list has no id to lose.
                  ("GET", "/roleManagement/directory/roleAssignments", uid["t.role"],
                   "reading /roleManagement/directory/roleAssignments", "ok"),
                  ("POST", "/roleManagement/directory/roleAssignments", "",
                   "POST roleAssignments", "read back")]),
        "unrole": (wf("unrole", "remove-role", "alex.wilber", "    role: User Administrator\n"),
                   [look("alex.wilber"), roledef,
                    ("GET", "/roleManagement/directory/roleAssignments", uid["alex.wilber"],
                     "reading /roleManagement/directory/roleAssignments", "fail"),
                    ("DELETE", "/roleManagement/directory/roleAssignments/", "",
                     "DELETE roleAssignments/", "ok")]
                   + pim("alex.wilber", "roleEligibilitySchedules",
                         "roleEligibilityScheduleRequests")
                   + pim("alex.wilber", "roleAssignmentSchedules",
                         "roleAssignmentScheduleRequests")),
    }


# What each shape makes of an answer, as the step's error says it (a regular expression: the
# status is the call's own, 200 or 201, but for empty_202 and html).
SHAPE_PHRASE = {
    "empty_202": r"got HTTP 202, no Content-Type, empty body",
    "html": r'the answer is not JSON: HTTP 200, Content-Type "text/html; charset=utf-8", 121 '
            r'bytes: "<html><head><title>Service Unavailable',
    "truncated": r'the answer is not JSON: HTTP 20[01], Content-Type "application/json;'
                 r'odata\.metadata=minimal',
    "no_id": r'got HTTP 20[01], Content-Type "application/json;odata\.metadata=minimal',
    "wrong_shape": r'got HTTP 200, Content-Type "application/json;.*", 2 bytes: "\[\]"',
}

# }======


class UnusableAnswerTest(unittest.TestCase):
    """Answers that are no usable success, for every action: the run fails (or retries) with
    an error that says what Graph sent; weir never crashes and never calls it success."""

    def test_every_action_every_shape(self):
        sim = harness.Sim()
        root = harness.setup_root(sim, {n + ".yaml": t for n, t in ACTIONS.items()},
                                  prefix="weir-unusable-")
        # One HTTP request per lookup: graphsim makes whole answers (not $batch items) HTML or
        # truncated.
        add_to_config(root, graph_lines="  batch: off\n")
        w = start_weir(root)
        n = 0
        try:
            for kind, (phrase, attempts) in UNUSABLE.items():
                sim.post("/_sim/faults", {"bad_answer": {"kind": kind, "count": 1000,
                                                         "method": "GET",
                                                         "path": "/users/" +
                                                         ADELE.replace("@", "%40")}})
                for name in ACTIONS:
                    status, body = w.signed_post({"kind": kind}, path="/hooks/" + name)
                    self.assertEqual(status, 202, body)
                    n += 1
                rs = harness.wait_final(root, n, timeout=120)
                self.assertIsNone(w.proc.poll(), "weir died: %s" % "".join(w.lines[-20:]))
                for r in rs[-len(ACTIONS):]:
                    self.assertEqual(r[2], "failed", (kind, r))
                    self.assertIn(phrase, r[3], (kind, r[1]))
                    self.assertIn("Graph %d unexpected_answer: " % (
                        202 if kind == "empty_202" else 200), r[3])
                    self.assertRegex(r[3], r"\(request-id [0-9a-f-]{36}, client-request-id "
                                           r"[0-9a-f-]{36}\)$")
                    self.assertIn("looking up user '%s'" % ADELE, r[3])
                    st = steps(root, r[0])
                    self.assertEqual(st[0][3], attempts, (kind, r[1], st))
            # Nothing was changed for Adele by any of them.
            self.assertEqual(sim.get("/_sim/stats")["mutations"], 0)
            # The ids in the message are those graphsim logged for the request.
            r = rs[-1]
            rid = re.search(r"request-id ([0-9a-f-]{36})", r[3]).group(1)
            crid = re.search(r"client-request-id ([0-9a-f-]{36})", r[3]).group(1)
            hits = [e for e in requests_since(sim) if e.get("request_id") == rid]
            self.assertEqual(len(hits), 1)
            self.assertEqual(hits[0]["headers"]["client-request-id"], crid)
            # `weir show` says it too.
            out = subprocess.run([harness.WEIR, "show", r[0], "-c", "weir.yaml"], cwd=root,
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("request-id " + rid, out.stdout)
            # Across a restart: the daemon starts on that journal and stays up; the failed runs
            # stay failed and none is carried out again.
            self.assertEqual(w.stop(), 0)
            seq = last_seq(sim)
            w = start_weir(root)
            time.sleep(1)
            self.assertIsNone(w.proc.poll(), "weir died after a restart: %s" % "".join(w.lines[-20:]))
            after = harness.wait_final(root, n, timeout=30)
            self.assertEqual([r[:3] for r in after], [r[:3] for r in rs])
            self.assertEqual([e for e in requests_since(sim, seq)
                              if not e["path"].startswith("/_sim")
                              and "/token" not in e["path"]], [])
        finally:
            self.assertEqual(w.stop(), 0)
            sim.stop()
            shutil.rmtree(root)

    def test_every_call_every_shape(self):
        """Every Graph call each action makes (lookups, lists, SKU and licence-state reads, PIM
        schedules and schedule requests, read-backs, writes), each answered with every unusable
        shape: the step fails naming the call and what Graph sent, with its ids; the daemon
        stays up. The actions run side by side, the k-th call of each answered unusably in
        round k, on a fresh tenant each round; a fresh weir per shape, so cached reads (SKUs,
        roles, groups) are read again."""
        tmp = tempfile.mkdtemp(prefix="weir-calls-")
        seed, seed_path = seed_for_calls(tmp)
        cases = call_cases(seed)
        sim = harness.Sim("--seed", seed_path)
        checked = {"fail": 0, "ok": 0, "read back": 0}
        try:
            for kind, phrase in SHAPE_PHRASE.items():
                root = harness.setup_root(sim, {n + ".yaml": c[0] for n, c in cases.items()},
                                          prefix="weir-calls-%s-" % kind)
                add_to_config(root, graph_lines="  batch: off\n")
                w = start_weir(root)
                n = 0
                try:
                    for k in range(max(len(c[1]) for c in cases.values())):
                        sim.post("/_sim/reset", {})
                        now = {name: c[1][k] for name, c in cases.items() if k < len(c[1])}
                        targets = sorted({c[:3] for c in now.values()})
                        sim.post("/_sim/faults", {"bad_answer": [
                            {"kind": kind, "count": 1000, "method": m, "path": p, "query": q}
                            for m, p, q in targets]})
                        for name in now:
                            status, body = w.signed_post({"k": k}, path="/hooks/" + name)
                            self.assertEqual(status, 202, body)
                            n += 1
                        rs = harness.wait_final(root, n, timeout=120)
                        self.assertIsNone(w.proc.poll(),
                                          "weir died: %s" % "".join(w.lines[-20:]))
                        last = {r[1]: r for r in rs}
                        for name, (m, p, q, context, no_id) in now.items():
                            r = last[name]
                            what = (kind, name, k, m, p)
                            end = no_id if kind == "no_id" or no_id == "read back" else "fail"
                            checked[end] += 1
                            if end != "fail":
                                self.assertEqual(r[2], "succeeded", (what, r))
                                continue
                            self.assertEqual(r[2], "failed", (what, r))
                            self.assertIn(context, r[3], what)
                            self.assertRegex(r[3], phrase, what)
                            self.assertRegex(r[3], r"Graph 20[012] unexpected_answer: ", what)
                            self.assertRegex(r[3], r"\(request-id [0-9a-f-]{36}, client-request-id "
                                                   r"[0-9a-f-]{36}\)$", what)
                        # Each fault met its call (none went unused).
                        faults = sim.get("/_sim/faults")["bad_answer"]
                        self.assertTrue(all(f["count"] < 1000 for f in faults),
                                        (kind, k, faults))
                finally:
                    self.assertEqual(w.stop(), 0)
                    shutil.rmtree(root)
            print("unusable answers: %d calls failed the step, %d kept their answer (no id "
                  "to lose), %d read back" % (checked["fail"], checked["ok"],
                                              checked["read back"]))
        finally:
            sim.stop()
            shutil.rmtree(tmp)

    def test_licences_of_another_shape(self):
        """assign-license and remove-all-licenses branch on each licence's skuId and
        assignedByGroup: a user whose assignedLicenses or licenseAssignmentStates entries lack
        a skuId fails the step naming the entry, and nothing is sent."""
        sim = harness.Sim()
        wf = {n + ".yaml": one_step(n, a, extra) for n, a, extra in (
            ("license", "assign-license", "    add: [EXCHANGESTANDARD]\n"),
            ("unlicense", "remove-all-licenses", ""))}
        root = harness.setup_root(sim, wf, prefix="weir-states-")
        w = start_weir(root)
        try:
            sim.post("/_sim/faults", {"bad_answer": {
                "kind": "no_id", "count": 10, "method": "GET", "member": "skuId",
                "path": "/users/" + ADELE.replace("@", "%40")}})
            for name in ("license", "unlicense"):
                self.assertEqual(w.signed_post({}, path="/hooks/" + name)[0], 202)
            rs = harness.wait_final(root, 2)
            for r in rs:
                self.assertEqual(r[2], "failed", r)
                self.assertIn("Graph's user has assignedLicenses[0] without a string skuId: "
                              '{"disabledPlans":[]}', r[3])
            self.assertEqual(sim.get("/_sim/stats")["mutations"], 0)
        finally:
            self.assertEqual(w.stop(), 0)
            sim.stop()
            shutil.rmtree(root)

    def test_write_answers_without_an_id(self):
        """create-user and set-role read the id Graph gives back: when their POST's answer is
        unusable in any way (no id, an empty 202, HTML, cut JSON, another shape) they look the
        object up instead of failing or reporting a null id (GRAPH.md section 12); when that
        read is unusable too, the step fails with what the POST got."""
        sim = harness.Sim()
        wf = {"create.yaml": """
name: create
trigger:
  webhook: { path: /hooks/create }
retry: { attempts: 1 }
steps:
  - id: make
    action: create-user
    set: { userPrincipalName: "noid@contoso.onmicrosoft.com", displayName: "No Id",
           mailNickname: "noid" }
  - id: role
    action: set-role
    user: noid@contoso.onmicrosoft.com
    role: User Administrator
"""}
        root = harness.setup_root(sim, wf, prefix="weir-noid-")
        add_to_config(root, graph_lines="  batch: off\n")
        w = start_weir(root)
        n = 0
        try:
            # Every unusable shape, on both POSTs at once (a proxy's page and a cut answer are
            # failed by the client, yet the user was made all the same): each is read back.
            for kind in SHAPE_PHRASE:
                sim.post("/_sim/reset", {})
                sim.post("/_sim/faults", {"bad_answer": [
                    {"kind": kind, "count": 5, "method": "POST", "path": "/users"},
                    {"kind": kind, "count": 5, "method": "POST",
                     "path": "/roleManagement/directory/roleAssignments"}]})
                self.assertEqual(w.signed_post({}, path="/hooks/create")[0], 202)
                n += 1
                rs = harness.wait_final(root, n)
                self.assertEqual(rs[-1][2], "succeeded", (kind, steps(root, rs[-1][0])))
                u = sim.user("noid@contoso.onmicrosoft.com")
                c = harness.journal(root)
                out = dict(c.execute("SELECT step_id, output FROM steps WHERE run_id = ?",
                                     (rs[-1][0],)).fetchall())
                c.close()
                self.assertEqual(json.loads(out["make"])["id"], u["id"], kind)
                self.assertTrue(json.loads(out["make"])["created"], kind)
                self.assertTrue(json.loads(out["role"])["assignmentId"], kind)
                self.assertEqual(sim.get("/_sim/stats")["bad_answers"], 2, kind)
            # The read-back unusable too: the step fails with what the POST got.
            sim.post("/_sim/reset", {})
            sim.post("/_sim/faults", {"bad_answer": [
                {"kind": "empty_202", "count": 5, "method": "POST", "path": "/users"},
                {"kind": "html", "count": 5, "method": "GET",
                 "path": "/users/noid%40contoso.onmicrosoft.com"}]})
            self.assertEqual(w.signed_post({}, path="/hooks/create")[0], 202)
            n += 1
            rs = harness.wait_final(root, n)
            self.assertEqual(rs[-1][2], "failed")
            self.assertIn("POST /users for 'noid@contoso.onmicrosoft.com': Graph 202 "
                          "unexpected_answer: expected the new user with a string \"id\", got "
                          "HTTP 202, no Content-Type, empty body", rs[-1][3])
            self.assertIsNone(w.proc.poll())
        finally:
            self.assertEqual(w.stop(), 0)
            sim.stop()
            shutil.rmtree(root)


POISON = """
name: poison
trigger:
  webhook: { path: /hooks/hr }
retry: { attempts: 50, initial: 100ms, max: 200ms }
steps:
  - id: retitle
    action: update-user
    user: "{{ event.user }}"
    set: { jobTitle: "{{ event.title }}" }
  - id: again
    action: update-user
    user: "{{ event.user }}"
    set: { department: "{{ event.title }}" }
"""


class PoisonRunTest(unittest.TestCase):
    """The daemon dying while a run is in progress, again and again: crashes (a fatal signal)
    park the run after runs.max_crashes; kill -9 never does."""

    def in_flight(self, sim, seq, user):
        """Waits until graphsim received a request for user after seq; its seq."""
        deadline = time.time() + 30
        while time.time() < deadline:
            for e in requests_since(sim, seq):
                if user.replace("@", "%40") in e["path"] or (
                        e["method"] == "PATCH" and e["seq"] > seq):
                    return e["seq"]
            time.sleep(0.02)
        raise AssertionError("no request for %s" % user)

    def die(self, w, sig):
        w.proc.send_signal(sig)
        w.proc.wait(timeout=30)
        w._closed()

    def test_crashes_park_the_run(self):
        # Replies held 3 s: the run is in progress when the daemon dies.
        sim = harness.Sim("--latency-ms", "3000")
        root = harness.setup_root(sim, {"poison.yaml": POISON}, prefix="weir-poison-")  # 3
        user = "lee.gu@" + DOMAIN
        w = start_weir(root)
        try:
            seq = last_seq(sim)
            self.assertEqual(w.signed_post({"user": user, "title": "Crash"})[0], 202)
            for i in range(3):
                seq = self.in_flight(sim, seq, user)
                self.die(w, signal.SIGSEGV)  # a crash: the handler leaves the marker
                self.assertTrue(os.path.exists(os.path.join(root, "var", "weir.db.crashed")))
                w = start_weir(root)
            rs = harness.wait_final(root, 1, timeout=30)
            self.assertEqual(rs[0][2], "failed")
            self.assertIn("the daemon crashed 3 times in a row while this run was in progress "
                          "(at step 'retitle'", rs[0][3])
            self.assertIn("weir show " + rs[0][0], rs[0][3])
            st = steps(root, rs[0][0])
            self.assertEqual(st[0][2], "failed")
            self.assertIn("crashed 3 times", st[0][4])
            w.wait_log("run parked after repeated crashes")
            # weir retry runs it again, from scratch as far as crashes go.
            out = subprocess.run([harness.WEIR, "retry", rs[0][0], "-c", "weir.yaml"], cwd=root,
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stderr)
            w.stop()
            w = start_weir(root)
            rs = harness.wait_final(root, 1, timeout=60)
            self.assertEqual(rs[0][2], "succeeded", rs)
        finally:
            if w.proc.poll() is None:
                self.assertEqual(w.stop(), 0)
            sim.stop()
            shutil.rmtree(root)

    def test_kill_9_never_parks(self):
        sim = harness.Sim("--latency-ms", "1500")
        root = harness.setup_root(sim, {"poison.yaml": POISON}, prefix="weir-kill9-")
        user = "lidia.holloway@" + DOMAIN
        w = start_weir(root)
        try:
            seq = last_seq(sim)
            self.assertEqual(w.signed_post({"user": user, "title": "Killed"})[0], 202)
            for i in range(5):  # more than max_crashes, each in the middle of a step
                seq = self.in_flight(sim, seq, user)
                self.die(w, signal.SIGKILL)
                self.assertFalse(os.path.exists(os.path.join(root, "var", "weir.db.crashed")))
                w = start_weir(root)
            rs = harness.wait_final(root, 1, timeout=60)
            self.assertEqual(rs[0][2], "succeeded", rs)
            self.assertEqual(sim.user(user)["department"], "Killed")
        finally:
            if w.proc.poll() is None:
                self.assertEqual(w.stop(), 0)
            sim.stop()
            shutil.rmtree(root)

    def test_progress_between_crashes_never_parks(self):
        """A crash after each finished step is no crash loop: the count starts again."""
        sim = harness.Sim("--latency-ms", "1000")
        steps_wf = POISON.replace("  - id: again", """  - id: third
    action: update-user
    user: "{{ event.user }}"
    set: { officeLocation: "{{ event.title }}" }
  - id: again""")
        root = harness.setup_root(sim, {"poison.yaml": steps_wf}, prefix="weir-progress-")
        add_to_config(root, top_lines="runs: { max_crashes: 2 }\n")
        user = "pradeep.gupta@" + DOMAIN

        def wait_finished(n):
            deadline = time.time() + 60
            while time.time() < deadline:
                rs = harness.runs(root)
                if len([s for s in steps(root, rs[0][0]) if s[2] == "succeeded"]) >= n:
                    return
                time.sleep(0.05)
            raise AssertionError("step %d did not finish: %s" % (n, harness.runs(root)))

        w = start_weir(root)
        try:
            seq = last_seq(sim)
            self.assertEqual(w.signed_post({"user": user, "title": "Steps"})[0], 202)
            for i in range(3):  # more crashes than max_crashes, a step finished before each
                seq = self.in_flight(sim, seq, user)
                self.die(w, signal.SIGSEGV)
                w = start_weir(root)
                wait_finished(i + 1)  # the interrupted step runs again and finishes
                seq = last_seq(sim)
            rs = harness.wait_final(root, 1, timeout=60)
            self.assertEqual(rs[0][2], "succeeded", (rs, steps(root, rs[0][0])))
        finally:
            if w.proc.poll() is None:
                self.assertEqual(w.stop(), 0)
            sim.stop()
            shutil.rmtree(root)


RETITLE = """
name: retitle
trigger:
  webhook: { path: /hooks/hr }
retry: { attempts: 3, initial: 100ms, max: 200ms }
steps:
  - id: patch
    action: update-user
    user: "{{ event.user }}"
    set: { jobTitle: "{{ event.title }}" }
"""


class NationalCloudTest(unittest.TestCase):
    def test_scope_setting(self):
        sim = harness.Sim("--graph-host", "graph.microsoft.us")
        root = harness.setup_root(sim, {"retitle.yaml": RETITLE}, prefix="weir-cloud-")
        try:
            # Without graph.scope a loopback base_url signs in for the commercial cloud:
            # graphsim as US Gov refuses it, and the run says why.
            w = start_weir(root)
            self.assertEqual(w.signed_post({"user": ADELE, "title": "Gov"})[0], 202)
            rs = harness.wait_final(root, 1, timeout=60)
            self.assertEqual(rs[0][2], "failed")
            self.assertIn("invalid_scope", rs[0][3])
            self.assertIn("AADSTS70011", rs[0][3])
            self.assertEqual(w.stop(), 0)
            add_to_config(root, graph_lines="  scope: https://graph.microsoft.us/.default\n")
            w = start_weir(root)
            self.assertEqual(w.signed_post({"user": ADELE, "title": "Gov"},
                                           msg_id="gov-2")[0], 202)
            rs = harness.wait_final(root, 2, timeout=60)
            self.assertEqual(rs[1][2], "succeeded", rs)
            self.assertEqual(sim.user(ADELE)["jobTitle"], "Gov")
            forms = [e["form"] for e in requests_since(sim) if "form" in e]
            self.assertEqual(forms[-1]["scope"], "https://graph.microsoft.us/.default")
            self.assertEqual(w.stop(), 0)
        finally:
            sim.stop()
            shutil.rmtree(root)

    def test_scope_checked_and_documented(self):
        root = tempfile.mkdtemp(prefix="weir-scope-")
        try:
            harness.write_config(root, {"retitle.yaml": RETITLE})
            add_to_config(root, graph_lines="  scope: https://graph.microsoft.us/\n")
            out = subprocess.run([harness.WEIR, "validate", "-c", "weir.yaml"], cwd=root,
                                 capture_output=True, text=True, timeout=60)
            self.assertNotEqual(out.returncode, 0)
            self.assertIn("graph.scope", out.stderr + out.stdout)
            self.assertIn("does not end in /.default", out.stderr + out.stdout)
            out = subprocess.run([harness.WEIR, "help", "config"], capture_output=True,
                                 text=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("scope", out.stdout)
            self.assertIn("https://graph.microsoft.us/.default", out.stdout)
            self.assertIn("max_crashes", out.stdout)
        finally:
            shutil.rmtree(root)


class TenantThrottleTest(unittest.TestCase):
    def test_no_request_before_retry_after(self):
        # Replies take 30 ms, so that runs are in flight when the 429s come; a request sent
        # within 15 ms of a 429 leaving graphsim is forgiven (weir cannot have read it yet).
        sim = harness.Sim("--latency-ms", "30", "--retry-after", "0.5",
                          "--throttle-grace-ms", "15", "--generate-users", "40")
        root = harness.setup_root(sim, {"retitle.yaml": RETITLE}, prefix="weir-scope-")
        add_to_config(root, graph_lines="  pacing: { writes_per_150s: off }\n")
        w = start_weir(root)
        try:
            # sign in and warm up
            self.assertEqual(w.signed_post({"user": ADELE, "title": "warm"})[0], 202)
            harness.wait_final(root, 1)
            sim.post("/_sim/faults", {"tenant_throttle_for": 2.5})
            for i in range(1, 31):
                user = "synth%06d@%s" % (i, DOMAIN)
                self.assertEqual(w.signed_post({"user": user, "title": "Scoped %d" % i})[0], 202)
                time.sleep(0.03)
            rs = harness.wait_final(root, 31, timeout=120)
            self.assertEqual([r[2] for r in rs], ["succeeded"] * 31, rs)
            st = sim.get("/_sim/stats")
            print("tenant-wide burst, 30 runs: %d Graph requests, %d $batch items, %d throttled, "
                  "%d violations" % (st["graph_requests"], st["batch_items"], st["throttled"],
                                     st["throttle_scope_violations"]))
            self.assertGreater(st["throttled"], 0)
            self.assertEqual(st["throttle_scope_violations"], 0)
            self.assertEqual(st["retry_after_violations"], 0)
        finally:
            self.assertEqual(w.stop(), 0)
            sim.stop()
            shutil.rmtree(root)


if __name__ == "__main__":
    harness.main("WEIR", "GRAPHSIM", "SOURCE")
