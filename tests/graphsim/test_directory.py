#!/usr/bin/env python3
"""graphsim: what the directory triggers of issue #16 read (date filters, delta queries).

usage: test_directory.py PATH/TO/graphsim PATH/TO/seed.json [unittest options]

Reuses test_graphsim.py's harness (one simulator, reset before every test, clean SIGTERM exit
checked at the end). Each rule of README.md "Directory reads" is checked both ways: what Graph
accepts and what it refuses, with the exact status, code and message.
"""

import base64
import os
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_graphsim as g  # noqa: E402  (reads and removes argv[1:3])

setUpModule = g.setUpModule
tearDownModule = g.tearDownModule

EV = {"ConsistencyLevel": "eventual"}
MISSING_HEADER = ("Operator '%s' is not supported because the 'ConsistencyLevel:eventual' header "
                  "is missing. Refer to https://aka.ms/graph-docs/advanced-queries for more "
                  "information")
MISSING_COUNT = ("Operator '%s' is not supported because the required parameters might be "
                 "missing. Try adding $count=true query parameter and ConsistencyLevel:eventual "
                 "header. Refer to https://aka.ms/graph-docs/advanced-queries for more information")
EXPIRED = ("The sync state generation is not found. The delta token is expired and data must be "
           "synchronized again.")
ADELE = g.USERS["Adele"]["id"]
ALEX = g.USERS["Alex"]["id"]
SALES = g.GROUPS["Sales"]["id"]


def q(text):
    return urllib.parse.quote(text)


class DirTest(g.GraphTest):
    def local(self, link):
        """A returned link as a path on this simulator."""
        prefix = "http://127.0.0.1:%d" % self.s.port
        self.assertTrue(link.startswith(prefix + "/v1.0/"), link)
        return link[len(prefix):]

    def set_user(self, uid, **props):
        st, body = self.s.sim("PATCH", "users/" + uid, props)
        self.assertEqual(st, 204, body)

    def users(self, flt, extra="&$count=true", headers=EV):
        return self.s.get("/v1.0/users?$filter=" + q(flt) + extra, headers=headers)

    def round(self, path, headers=None):
        """Follows nextLinks to the deltaLink; returns (items, deltaLink path, pages)."""
        items, pages = [], 0
        while True:
            st, _, body = self.s.get(path, headers=headers)
            self.assertEqual(st, 200, body)
            pages += 1
            items += body["value"]
            self.assertFalse("@odata.nextLink" in body and "@odata.deltaLink" in body)
            if "@odata.deltaLink" in body:
                return items, self.local(body["@odata.deltaLink"]), pages
            path = self.local(body["@odata.nextLink"])


class DateFilterTest(DirTest):
    def setUp(self):
        super().setUp()
        self.set_user(ADELE, employeeHireDate="2026-12-03T00:00:00Z")
        self.set_user(ALEX, employeeHireDate="2026-11-20T08:00:00Z",
                      employeeLeaveDateTime="2027-01-31T17:00:00+01:00")

    def ids(self, result):
        st, _, body = result
        self.assertEqual(st, 200, body)
        return [u["id"] for u in body["value"]], body

    def test_operators(self):
        ids, body = self.ids(self.users("employeeHireDate ge 2026-12-01T00:00:00Z"))
        self.assertEqual(ids, [ADELE])
        self.assertEqual(body["@odata.count"], 1)
        ids, _ = self.ids(self.users("employeeHireDate le 2026-12-03T00:00:00Z and "
                                     "employeeHireDate ge 2026-11-20T08:00:00Z"))
        self.assertEqual(sorted(ids), sorted([ADELE, ALEX]))
        ids, _ = self.ids(self.users("employeeHireDate eq 2026-11-20T09:00:00+01:00"))
        self.assertEqual(ids, [ALEX])  # the same instant in another offset
        ids, _ = self.ids(self.users("employeeHireDate in (2026-12-03T00:00:00Z, "
                                     "2020-01-01T00:00:00Z)"))
        self.assertEqual(ids, [ADELE])
        dated = {u["id"] for u in g.SEED["users"] if "employeeHireDate" in u} | {ADELE, ALEX}
        ids, body = self.ids(self.users("employeeHireDate ne null"))
        self.assertEqual(set(ids), dated)
        ids, body = self.ids(self.users("employeeHireDate eq null"))
        self.assertEqual(body["@odata.count"], len(g.SEED["users"]) - len(dated))
        self.assertTrue(dated - {ADELE, ALEX})  # the seed has hire dates of its own
        ids, _ = self.ids(self.users("not(employeeHireDate eq 2026-12-03T00:00:00Z) and "
                                     "employeeHireDate ne null"))
        self.assertEqual(set(ids), dated - {ADELE})
        ids, _ = self.ids(self.users("employeeHireDate ne 2026-12-03T00:00:00Z and "
                                     "employeeHireDate ge 2026-01-01T00:00:00Z"))
        self.assertEqual(ids, [ALEX])
        ids, _ = self.ids(self.users("employeeLeaveDateTime le 2027-01-31T16:00:00Z"))
        self.assertEqual(ids, [ALEX])
        ids, _ = self.ids(self.users("employeeLeaveDateTime le 2027-01-31T15:59:59Z"))
        self.assertEqual(ids, [])
        ids, _ = self.ids(self.users("createdDateTime ge 2000-01-01T00:00:00Z"))
        self.assertEqual(len(ids), len(g.SEED["users"]))
        # with another filter, $select and the count on the first page
        self.set_user(ADELE, department="Sales")
        ids, _ = self.ids(self.users("employeeHireDate ge 2026-01-01T00:00:00Z and "
                                     "department eq 'Sales'",
                                     "&$count=true&$select=id,employeeHireDate"))
        self.assertEqual(ids, [ADELE])

    def test_advanced_query_needs_header_and_count(self):
        flt = "employeeHireDate ge 2026-12-01T00:00:00Z"
        self.assertGraphError(self.users(flt, headers=None), 400, "Request_UnsupportedQuery",
                              MISSING_HEADER % "ge")
        self.assertGraphError(self.users(flt, extra=""), 400, "Request_UnsupportedQuery",
                              MISSING_COUNT % "ge")
        self.assertGraphError(self.users(flt, extra="&$count=false"), 400,
                              "Request_UnsupportedQuery", MISSING_COUNT % "ge")
        self.assertGraphError(self.users("not(employeeHireDate eq 2026-12-03T00:00:00Z)",
                                         headers=None),
                              400, "Request_UnsupportedQuery", MISSING_HEADER % "not")
        self.assertGraphError(self.users(flt, headers={"ConsistencyLevel": "session"}), 400,
                              "Request_UnsupportedQuery", MISSING_HEADER % "ge")
        # $count alone needs the header too; plain eq filters need neither
        self.assertGraphError(self.s.get("/v1.0/users?$count=true"), 400, "Request_BadRequest",
                              "$count is not currently supported.")
        st, _, body = self.s.get("/v1.0/users?$count=true", headers=EV)
        self.assertEqual((st, body["@odata.count"]), (200, len(g.SEED["users"])))
        st, _, body = self.s.get("/v1.0/users?$filter=" + q("department eq 'Sales'"))
        self.assertEqual(st, 200)
        self.assertNotIn("@odata.count", body)

    def test_unsupported_operator_property_literal(self):
        unsupported = ("Unsupported or invalid query filter clause specified for property '%s' "
                       "of resource 'User'.")
        for op in ("gt", "lt"):
            self.assertGraphError(self.users("employeeHireDate %s 2026-12-01T00:00:00Z" % op),
                                  400, "Request_UnsupportedQuery",
                                  unsupported % "employeeHireDate")
        self.assertGraphError(self.users("birthday ge 2026-12-01T00:00:00Z"), 400,
                              "Request_UnsupportedQuery", "Unsupported Query.")
        self.assertGraphError(self.users("department ge 'S'"), 400, "Request_UnsupportedQuery",
                              "Unsupported Query.")
        self.assertGraphError(self.users("employeeHireDate ge '2026-12-01T00:00:00Z'"), 400,
                              "BadRequest",
                              "A binary operator with incompatible types was detected. Found "
                              "operand types 'Edm.DateTimeOffset' and 'Edm.String' for operator "
                              "kind 'GreaterThanOrEqual'.")
        self.assertGraphError(self.users("employeeHireDate ge 2026-13-01T00:00:00Z"), 400,
                              "BadRequest")
        self.assertGraphError(self.users("employeeHireDate ge 2026-12-01"), 400, "BadRequest")
        self.assertGraphError(self.users("employeeHireDate ge null"), 400, "BadRequest")
        self.assertGraphError(self.users("employeeHireDate ge 2026-12-01T00:00:00Z or "
                                         "employeeHireDate le 2026-12-01T00:00:00Z"),
                              400, "Request_UnsupportedQuery", "Unsupported Query.")

    def test_paging_resends_the_header(self):
        for u in g.SEED["users"]:
            self.set_user(u["id"], employeeHireDate="2026-12-05T00:00:00Z")
        st, _, body = self.users("employeeHireDate ge 2026-12-01T00:00:00Z", "&$count=true&$top=4")
        self.assertEqual(st, 200, body)
        self.assertEqual(body["@odata.count"], len(g.SEED["users"]))
        self.assertEqual(len(body["value"]), 4)
        nxt = self.local(body["@odata.nextLink"])
        self.assertIn("$count=true", nxt)
        # the next page without the header is refused, as Graph does not carry headers over
        self.assertGraphError(self.s.get(nxt), 400, "Request_UnsupportedQuery",
                              MISSING_HEADER % "ge")
        seen = [u["id"] for u in body["value"]]
        while nxt:
            st, _, body = self.s.get(nxt, headers=EV)
            self.assertEqual(st, 200, body)
            self.assertNotIn("@odata.count", body)
            seen += [u["id"] for u in body["value"]]
            nxt = body.get("@odata.nextLink") and self.local(body["@odata.nextLink"])
        self.assertEqual(sorted(seen), sorted(u["id"] for u in g.SEED["users"]))


class UserCountTest(DirTest):
    """GET /users/$count (issue #17: the tenant's size for the mass-change brake)."""

    def count(self, extra="", headers=EV):
        h = {"Authorization": "Bearer " + self.s.bearer()}
        h.update(headers or {})
        return self.s.raw("GET", "/v1.0/users/$count" + extra, headers=h)

    def test_count_is_text_and_follows_the_tenant(self):
        st, headers, data = self.count()
        self.assertEqual(st, 200, data)
        self.assertTrue(headers["content-type"].startswith("text/plain"), headers)
        self.assertEqual(data.decode(), str(self.stats()["users"]))
        self.assertEqual(int(data), len(g.SEED["users"]))
        st, _ = self.s.sim("DELETE", "users/" + ADELE)
        self.assertEqual(st, 204)
        st, _, data = self.count()
        self.assertEqual((st, int(data)), (200, len(g.SEED["users"]) - 1))

    def test_filter(self):
        disabled = sum(1 for u in g.SEED["users"] if u.get("accountEnabled") is False)
        self.assertFalse(g.SEED["users"][0].get("accountEnabled") is False)
        self.set_user(g.SEED["users"][0]["id"], accountEnabled=False)
        st, _, data = self.count("?$filter=" + q("accountEnabled eq false"))
        self.assertEqual((st, int(data)), (200, disabled + 1))
        st, _, data = self.count("?$filter=" + q("id eq '%s'" % ADELE))
        self.assertEqual((st, data), (200, b"1"))
        st, _, data = self.count("?$filter=" + q("employeeHireDate ge 2026-12-01T00:00:00Z"))
        self.assertEqual((st, data), (200, b"0"))
        self.set_user(ADELE, employeeHireDate="2026-12-03T00:00:00Z")
        st, _, data = self.count("?$filter=" + q("employeeHireDate ge 2026-12-01T00:00:00Z"))
        self.assertEqual((st, data), (200, b"1"))
        st, _, data = self.count("?$filter=" + q("startswith(displayName,'A')"))
        self.assertEqual(st, 400, data)

    def test_needs_the_header(self):
        for headers in ({}, {"ConsistencyLevel": "session"}):
            self.assertGraphError(self.s.get("/v1.0/users/$count", headers=headers), 400,
                                  "Request_BadRequest", "Count is not currently supported.")
        self.assertGraphError(self.s.get("/v1.0/users/$count?$top=5", headers=EV), 400,
                              "BadRequest")
        st, _, _ = self.s.call("POST", "/v1.0/users/$count", body={}, headers=EV)
        self.assertEqual(st, 405)

    def test_in_a_batch(self):
        st, _, body = self.s.call("POST", "/v1.0/$batch", {"requests": [
            {"id": "1", "method": "GET", "url": "/users/$count", "headers": EV}]})
        self.assertEqual(st, 200, body)
        item = body["responses"][0]
        self.assertEqual(item["status"], 200, item)
        self.assertEqual(item["headers"]["Content-Type"], "text/plain")
        self.assertEqual(base64.b64decode(item["body"]).decode(), str(len(g.SEED["users"])))


class UserDeltaTest(DirTest):
    def test_initial_round_pages_and_selects(self):
        st, _ = self.s.sim("POST", "faults", {"delta_page_size": 4})
        self.assertEqual(st, 200)
        items, link, pages = self.round("/v1.0/users/delta?$select=displayName,department")
        self.assertEqual(pages, 3)  # 11 users, 4 a page
        self.assertEqual(sorted(i["id"] for i in items), sorted(u["id"] for u in g.SEED["users"]))
        for i in items:
            self.assertEqual(set(i), {"id", "displayName", "department"})
        self.assertIn("$deltatoken=", link)
        items, _, _ = self.round(link)
        self.assertEqual(items, [])  # nothing changed since

    def test_changes_deletes_and_manager(self):
        _, link, _ = self.round("/v1.0/users/delta?$select=displayName,department,manager")
        self.set_user(ADELE, department="IT")
        self.set_user(ADELE, department="IT")  # the same value is no change
        self.set_user(ALEX, mobilePhone="+1 555 0100")  # not selected: Alex comes, unchanged
        self.set_user(g.USERS["Megan"]["id"], manager=ADELE)
        lee = g.USERS["Lee"]["id"]
        st, _, _ = self.s.call("DELETE", "/v1.0/users/" + lee)
        self.assertEqual(st, 204)
        items, link2, _ = self.round(link)
        by = {i["id"]: i for i in items}
        self.assertEqual(by[ADELE]["department"], "IT")
        self.assertEqual(by[ADELE]["displayName"], "Adele Vance")
        self.assertNotIn("manager@delta", by[ADELE])
        self.assertEqual(by[ALEX]["department"], g.USERS["Alex"].get("department"))
        self.assertEqual(by[g.USERS["Megan"]["id"]]["manager@delta"],
                         [{"@odata.type": "#microsoft.graph.user", "id": ADELE}])
        self.assertEqual(by[lee], {"id": lee, "@removed": {"reason": "changed"}})
        # Lee managed others: their manager went away with him
        managed = [u for u, m in g.SEED["managers"].items()
                   if m in (lee, g.USERS["Lee"]["userPrincipalName"])]
        for key in managed:
            uid = g.USERS[key]["id"] if key in g.USERS else next(
                u["id"] for u in g.SEED["users"] if key in (u["id"], u["userPrincipalName"]))
            self.assertEqual(by[uid]["manager@delta"][0]["@removed"], {"reason": "deleted"})
        self.assertEqual(self.round(link2)[0], [])
        # the old link still gives the same changes (tokens are not consumed)
        self.assertEqual(len(self.round(link)[0]), len(items))

    def test_minimal_and_created(self):
        _, link, _ = self.round("/v1.0/users/delta?$select=displayName,department,jobTitle")
        self.set_user(ADELE, department="IT")
        st, _, body = self.s.call("POST", "/v1.0/users", g.new_user_body("newbie"))
        self.assertEqual(st, 201, body)
        items, _, _ = self.round(link, headers={"Prefer": "return=minimal"})
        by = {i["id"]: i for i in items}
        self.assertEqual(by[ADELE], {"id": ADELE, "department": "IT"})
        self.assertEqual(set(by[body["id"]]), {"id", "displayName", "department", "jobTitle"})

    def test_incremental_round_pages(self):
        _, link, _ = self.round("/v1.0/users/delta?$select=jobTitle")
        for u in g.SEED["users"]:
            self.set_user(u["id"], jobTitle="Changed")
        self.s.sim("POST", "faults", {"delta_page_size": 5})
        items, _, pages = self.round(link)
        self.assertEqual(pages, 3)
        self.assertEqual(len(items), len(g.SEED["users"]))
        self.assertTrue(all(i["jobTitle"] == "Changed" for i in items))

    def test_latest(self):
        items, link, _ = self.round("/v1.0/users/delta?$deltatoken=latest")
        self.assertEqual(items, [])
        self.set_user(ADELE, city="Berlin")
        items, _, _ = self.round(link)
        self.assertEqual([i["id"] for i in items], [ADELE])

    def test_refusals(self):
        self.assertGraphError(self.s.get("/v1.0/users/delta?$select=nope"), 400, "BadRequest",
                              "Could not find a property named 'nope' on type "
                              "'microsoft.graph.user'.")
        self.assertGraphError(self.s.get("/v1.0/users/delta?$top=5"), 400, "BadRequest",
                              "The query parameter '$top' is not supported.")
        self.assertGraphError(self.s.get("/v1.0/users/delta?$deltatoken=garbage"), 400,
                              "Request_BadRequest", "Invalid delta token 'garbage'.")
        self.assertGraphError(self.s.get("/v1.0/users/delta?$skiptoken=garbage"), 400,
                              "Request_BadRequest", "Invalid skip token 'garbage'.")
        self.assertGraphError(self.s.call("POST", "/v1.0/users/delta", {}), 405,
                              "Request_BadRequest")

    def test_expired_tokens(self):
        _, link, _ = self.round("/v1.0/users/delta?$select=department")
        st, faults = self.s.sim("POST", "faults", {"expire_delta_tokens": True})
        self.assertEqual((st, faults["delta_generation"]), (200, 1))
        self.assertGraphError(self.s.get(link), 400, "syncStateNotFound", EXPIRED)
        # a new full round gives a working link again
        _, link, _ = self.round("/v1.0/users/delta?$select=department")
        self.assertEqual(self.round(link)[0], [])
        self.s.sim("POST", "faults", {"delta_expired_status": 410, "expire_delta_tokens": True})
        self.assertGraphError(self.s.get(link), 410, "resyncRequired")
        # a reset tenant knows no earlier token
        _, link, _ = self.round("/v1.0/users/delta")
        self.s.sim("POST", "reset")
        self.assertGraphError(self.s.get(link), 400, "syncStateNotFound", EXPIRED)
        for bad in ({"expire_delta_tokens": 1}, {"delta_expired_status": 404},
                    {"delta_page_size": 1000}, {"link_base": "ftp://x"}, {"link_base": 1}):
            st, body = self.s.sim("POST", "faults", bad)
            self.assertEqual(st, 400, bad)


class GroupDeltaTest(DirTest):
    def path(self, select="displayName,members"):
        return "/v1.0/groups/delta?$filter=" + q("id eq '%s'" % SALES) + "&$select=" + select

    def test_membership_rounds(self):
        items, link, _ = self.round(self.path())
        self.assertEqual(len(items), 1)
        self.assertEqual(items[0]["displayName"], "Sales")
        members = g.GROUPS["Sales"]["members"]
        self.assertEqual(len(items[0]["members@delta"]), len(members))
        st, body = self.s.sim("POST", "groups/%s/members" % SALES, {"id": ADELE})
        self.assertEqual(st, 204, body)
        leaving = items[0]["members@delta"][0]["id"]
        st, body = self.s.sim("DELETE", "groups/%s/members/%s" % (SALES, leaving))
        self.assertEqual(st, 204, body)
        items, link2, _ = self.round(link)
        self.assertEqual(items, [{"displayName": "Sales", "id": SALES, "members@delta": [
            {"@odata.type": "#microsoft.graph.user", "id": ADELE},
            {"@odata.type": "#microsoft.graph.user", "id": leaving,
             "@removed": {"reason": "deleted"}}]}])
        self.assertEqual(self.round(link2)[0], [])
        # another group's change does not show in this filtered round
        st, _ = self.s.sim("POST", "groups/%s/members" % g.GROUPS["Engineering"]["id"],
                           {"id": ALEX if ALEX not in g.GROUPS["Engineering"]["members"]
                            else ADELE})
        self.assertEqual(self.round(link2)[0], [])
        # Graph's own $ref writes count too
        st, _, _ = self.s.call("POST", "/v1.0/groups/%s/members/$ref" % SALES, g.ref(ALEX))
        self.assertEqual(st, 204)
        items, _, _ = self.round(link2)
        self.assertEqual(items[0]["members@delta"],
                         [{"@odata.type": "#microsoft.graph.user", "id": ALEX}])

    def test_refusals(self):
        self.assertGraphError(self.s.get("/v1.0/groups/delta?$filter=" +
                                         q("displayName eq 'Sales'")),
                              400, "Request_UnsupportedQuery", "Unsupported Query.")
        self.assertGraphError(self.s.get(self.path("members,nope")), 400, "BadRequest")
        _, link, _ = self.round(self.path())
        self.s.sim("POST", "faults", {"expire_delta_tokens": True})
        self.assertGraphError(self.s.get(link), 400, "syncStateNotFound", EXPIRED)
        self.assertGraphError(self.s.get("/v1.0/groups/delta?$deltatoken=" +
                                         link.split("$deltatoken=")[1].replace("gs2.g", "gs2.u")),
                              400, "Request_BadRequest")


class SimChangeTest(DirTest):
    def test_patch_user(self):
        self.set_user(ADELE, department="HR", employeeLeaveDateTime="2027-03-31T17:00:00Z",
                      manager=g.USERS["Alex"]["userPrincipalName"])
        st, body = self.s.sim("GET", "users/" + ADELE)
        self.assertEqual((body["department"], body["employeeLeaveDateTime"], body["manager"]),
                         ("HR", "2027-03-31T17:00:00Z", ALEX))
        self.set_user(ADELE, department=None, manager=None)
        st, body = self.s.sim("GET", "users/" + ADELE)
        self.assertNotIn("department", body)
        self.assertIsNone(body["manager"])
        for bad in ({"nope": 1}, {"id": "x"}, {"employeeHireDate": "tomorrow"},
                    {"accountEnabled": "yes"}, {"manager": "nobody@x"}, {"manager": ADELE},
                    {"userPrincipalName": g.USERS["Alex"]["userPrincipalName"]},
                    {"department": "A", "nope": 1}):
            st, body = self.s.sim("PATCH", "users/" + ADELE, bad)
            self.assertEqual(st, 400, bad)
        st, body = self.s.sim("GET", "users/" + ADELE)
        self.assertNotIn("department", body)  # all or nothing
        self.assertEqual(self.s.sim("PATCH", "users/nobody", {"city": "x"})[0], 404)

    def test_members_and_delete(self):
        self.assertEqual(self.s.sim("POST", "groups/%s/members" % SALES, {"id": ADELE})[0], 204)
        self.assertEqual(self.s.sim("POST", "groups/%s/members" % SALES, {"id": ADELE})[0], 409)
        self.assertEqual(self.s.sim("POST", "groups/%s/members" % SALES, {"x": 1})[0], 400)
        self.assertEqual(self.s.sim("POST", "groups/nope/members", {"id": ADELE})[0], 404)
        self.assertEqual(self.s.sim("DELETE", "groups/%s/members/%s" % (SALES, ADELE))[0], 204)
        self.assertEqual(self.s.sim("DELETE", "groups/%s/members/%s" % (SALES, ADELE))[0], 404)
        self.assertEqual(self.s.sim("DELETE", "users/" + ADELE)[0], 204)
        self.assertEqual(self.s.sim("GET", "users/" + ADELE)[0], 404)


class LargeTenantDeltaTest(unittest.TestCase):
    """A 100,000-user tenant: a full users/delta round and a 1 % change round stay fast."""

    def test_full_round(self):
        sim = g.Sim("--generate-users", "100000")
        try:
            t0 = time.monotonic()
            path, n, pages = "/v1.0/users/delta?$select=id,department,manager", 0, 0
            while True:
                st, _, body = sim.get(path)
                self.assertEqual(st, 200, body)
                n += len(body["value"])
                pages += 1
                link = body.get("@odata.nextLink") or body["@odata.deltaLink"]
                path = link[len("http://127.0.0.1:%d" % sim.port):]
                if "@odata.deltaLink" in body:
                    break
            full = time.monotonic() - t0
            self.assertEqual(n, 100000 + len(g.SEED["users"]))
            for i in range(0, 100000, 100):
                st, _ = sim.sim("PATCH", "users/synth%06d@%s" % (i + 1, g.DOMAIN),
                                {"department": "Moved"})
                self.assertEqual(st, 204)
            t1 = time.monotonic()
            st, _, body = sim.get(path)
            changed = time.monotonic() - t1
            self.assertEqual(st, 200)
            self.assertEqual(len(body["value"]), 200)  # the first page of 1,000 changes
            sys.stderr.write("\n100k users/delta: full round %d pages %.2f s; first page of a "
                             "1%% change round %.3f s\n" % (pages, full, changed))
            self.assertLess(full, 60)
        finally:
            g.check_clean_exit(self, sim)


if __name__ == "__main__":
    unittest.main(verbosity=2)
