#!/usr/bin/env python3
"""End-to-end tests for graphsim, the Microsoft Graph tenant simulator.

usage: test_graphsim.py PATH/TO/graphsim PATH/TO/seed.json [unittest options]

Starts the real binary on 127.0.0.1:0 with the seed, reads the port back from its one stdout
line and drives every endpoint over real HTTP (stdlib only). Each simulator is stopped with
SIGTERM and must exit 0 with nothing from AddressSanitizer/UBSan/LeakSanitizer on stderr, so the
same file checks the sanitizer build. Exact status codes, error codes, messages and resulting
state are asserted: a simulator that answered 200 to everything fails here.
"""

import hashlib
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse

if len(sys.argv) < 3:
    sys.exit(__doc__)
BIN = os.path.abspath(sys.argv[1])
SEED_PATH = os.path.abspath(sys.argv[2])
del sys.argv[1:3]

with open(SEED_PATH) as _f:
    SEED = json.load(_f)

TENANT = SEED["tenant"]["id"]
DOMAIN = SEED["tenant"]["domains"][0]
CLIENT_ID = SEED["app"]["client_id"]
SECRET = SEED["app"]["client_secret"]
SCOPE = "https://graph.microsoft.com/.default"
USERS = {u["displayName"].split()[0]: u for u in SEED["users"]}
GROUPS = {g["displayName"]: g for g in SEED["groups"]}
SKUS = {s["skuPartNumber"]: s for s in SEED["subscribedSkus"]}
USER_ADMIN = "fe930be7-5e62-47db-91af-98c3a49a38b1"
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
DEFAULT_USER_KEYS = ["@odata.context", "businessPhones", "displayName", "givenName", "jobTitle",
                     "mail", "mobilePhone", "officeLocation", "preferredLanguage", "surname",
                     "userPrincipalName", "id"]
NOT_FOUND = ("Resource '%s' does not exist or one of its queried reference-property objects are "
             "not present.")
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
SANITIZER = re.compile(r"Sanitizer|runtime error:|LeakSanitizer|ERROR: ")


class Sim:
    """One graphsim process."""

    def __init__(self, *args, seed=None):
        self.proc = subprocess.Popen(
            [BIN, "--listen", "127.0.0.1:0", "--seed", seed or SEED_PATH, *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        m = re.fullmatch(r"graphsim listening on 127\.0\.0\.1:(\d+)\n", line)
        if not m:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise RuntimeError("graphsim did not start: %r %r %r" % (line, out, err))
        self.port = int(m.group(1))
        self._token = None

    def raw(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def token(self, tenant=DOMAIN, **form):
        fields = {"client_id": CLIENT_ID, "client_secret": SECRET,
                  "grant_type": "client_credentials", "scope": SCOPE}
        fields.update(form)
        fields = {k: v for k, v in fields.items() if v is not None}
        status, headers, data = self.raw(
            "POST", "/%s/oauth2/v2.0/token" % tenant, urllib.parse.urlencode(fields),
            {"Content-Type": "application/x-www-form-urlencoded"})
        return status, headers, json.loads(data)

    def bearer(self):
        if self._token is None:
            status, _, body = self.token()
            assert status == 200, body
            self._token = body["access_token"]
        return self._token

    def call(self, method, path, body=None, token=True, headers=None, content_type=True):
        h = dict(headers or {})
        if token is True:
            h["Authorization"] = "Bearer " + self.bearer()
        elif token:
            h["Authorization"] = token
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            if content_type:
                h["Content-Type"] = "application/json"
        status, headers_out, raw = self.raw(method, path, data, h)
        parsed = json.loads(raw) if raw else None
        return status, headers_out, parsed

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def sim(self, method, path, body=None):
        status, _, raw = self.raw(method, "/_sim/" + path,
                                  json.dumps(body) if body is not None else None,
                                  {"Content-Type": "application/json"} if body is not None else {})
        return status, json.loads(raw) if raw else None

    def stop(self):
        """SIGTERM; returns (returncode, stderr)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return self.proc.returncode, err


def check_clean_exit(tc, sim):
    rc, err = sim.stop()
    tc.assertEqual(rc, 0, err)
    tc.assertIsNone(SANITIZER.search(err), err)


SIM = None


def setUpModule():
    global SIM
    SIM = Sim()


def tearDownModule():
    rc, err = SIM.stop()
    if rc != 0 or SANITIZER.search(err):
        raise AssertionError("graphsim exited %d: %s" % (rc, err))


class GraphTest(unittest.TestCase):
    """Base: a reset tenant (tokens survive reset) before every test."""

    def setUp(self):
        self.s = SIM
        status, _ = self.s.sim("POST", "reset")
        self.assertEqual(status, 204)

    def assertGraphError(self, result, status, code, message=None):
        st, _, body = result
        self.assertEqual(st, status, body)
        self.assertEqual(set(body), {"error"})
        err = body["error"]
        self.assertEqual(err["code"], code, err)
        if message is not None:
            self.assertEqual(err["message"], message)
        inner = err["innerError"]
        self.assertRegex(inner["date"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")
        self.assertRegex(inner["request-id"], GUID)
        self.assertIn("client-request-id", inner)
        return err

    def user(self, key, select=None):
        path = "/v1.0/users/" + urllib.parse.quote(key)
        if select:
            path += "?$select=" + select
        st, _, body = self.s.get(path)
        self.assertEqual(st, 200, body)
        return body

    def sku(self, part):
        st, _, body = self.s.get("/v1.0/subscribedSkus")
        self.assertEqual(st, 200)
        return [x for x in body["value"] if x["skuPartNumber"] == part][0]

    def stats(self):
        return self.s.sim("GET", "stats")[1]


# {====== token endpoint and authentication ======


class TokenTest(GraphTest):
    def test_success_shape(self):
        st, headers, body = self.s.token()
        self.assertEqual(st, 200)
        self.assertEqual(set(body), {"token_type", "expires_in", "ext_expires_in", "access_token"})
        self.assertEqual(body["token_type"], "Bearer")
        self.assertEqual(body["expires_in"], 3599)
        self.assertEqual(body["ext_expires_in"], 3599)
        self.assertTrue(body["access_token"].startswith("eyJ"))
        self.assertEqual(body["access_token"].count("."), 2)
        self.assertEqual(headers["content-type"], "application/json; charset=utf-8")

    def test_tenant_by_guid_and_basic_auth(self):
        fields = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": SCOPE})
        import base64
        basic = base64.b64encode(("%s:%s" % (CLIENT_ID, SECRET)).encode()).decode()
        st, _, raw = self.s.raw("POST", "/%s/oauth2/v2.0/token" % TENANT, fields,
                                {"Content-Type": "application/x-www-form-urlencoded",
                                 "Authorization": "Basic " + basic})
        self.assertEqual(st, 200, raw)
        tok = json.loads(raw)["access_token"]
        self.assertEqual(self.s.get("/v1.0/users?$top=1", token="Bearer " + tok)[0], 200)

    def oauth_error(self, result, status, error, code):
        st, _, body = result
        self.assertEqual(st, status, body)
        self.assertEqual(body["error"], error)
        self.assertEqual(body["error_codes"], [code])
        self.assertTrue(body["error_description"].startswith("AADSTS%d: " % code))
        self.assertIn("\r\nTrace ID: ", body["error_description"])
        self.assertRegex(body["trace_id"], GUID)
        self.assertRegex(body["correlation_id"], GUID)
        self.assertRegex(body["timestamp"], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$")
        self.assertEqual(body["error_uri"],
                         "https://login.microsoftonline.com/error?code=%d" % code)
        return body

    def test_bad_secret(self):
        body = self.oauth_error(self.s.token(client_secret="wrong"), 401, "invalid_client",
                                7000215)
        self.assertIn("Invalid client secret provided.", body["error_description"])

    def test_missing_secret(self):
        self.oauth_error(self.s.token(client_secret=None), 401, "invalid_client", 7000218)

    def test_bad_scope(self):
        self.oauth_error(self.s.token(scope="https://graph.microsoft.com/User.Read"), 400,
                         "invalid_scope", 70011)

    def test_bad_grant(self):
        self.oauth_error(self.s.token(grant_type="password"), 400, "unsupported_grant_type",
                         70003)
        self.oauth_error(self.s.token(grant_type=None), 400, "invalid_request", 900144)

    def test_unknown_client_and_tenant(self):
        self.oauth_error(self.s.token(client_id="00000000-0000-0000-0000-000000000009"), 400,
                         "unauthorized_client", 700016)
        self.oauth_error(self.s.token(tenant="fabrikam.onmicrosoft.com"), 400, "invalid_request",
                         90002)

    def test_not_form_encoded(self):
        st, _, raw = self.s.raw("POST", "/%s/oauth2/v2.0/token" % DOMAIN, "{}",
                                {"Content-Type": "application/json"})
        self.assertEqual(st, 400)
        self.assertEqual(json.loads(raw)["error_codes"], [900144])
        st, _, raw = self.s.raw("GET", "/%s/oauth2/v2.0/token" % DOMAIN)
        self.assertEqual(st, 400)
        self.assertEqual(json.loads(raw)["error_codes"], [900561])

    def test_counts_token_requests(self):
        self.s.token()
        self.s.token(client_secret="x")
        st = self.stats()
        self.assertEqual(st["token_requests"], 2)
        self.assertEqual(st["tokens_issued"], 1)


class AuthTest(GraphTest):
    def test_missing_token(self):
        r = self.s.get("/v1.0/users", token=None)
        self.assertGraphError(r, 401, "InvalidAuthenticationToken", "Access token is empty.")
        self.assertIn('error="invalid_token"', r[1]["www-authenticate"])
        self.assertGraphError(self.s.get("/v1.0/users", token="Bearer "), 401,
                              "InvalidAuthenticationToken", "Access token is empty.")

    def test_unknown_token(self):
        self.assertGraphError(self.s.get("/v1.0/users", token="Bearer eyJhbGciOi.x.y"), 401,
                              "InvalidAuthenticationToken", "Access token validation failure.")
        # Authentication comes before routing: even an unknown path gets 401.
        self.assertGraphError(self.s.get("/v1.0/nothing", token=None), 401,
                              "InvalidAuthenticationToken")
        self.assertEqual(self.stats()["unauthorized"], 2)

    def test_client_request_id_echo(self):
        crid = "11111111-2222-3333-4444-555555555555"
        st, headers, body = self.s.get("/v1.0/users/nobody@" + DOMAIN,
                                       headers={"client-request-id": crid})
        self.assertEqual(st, 404)
        self.assertEqual(headers["client-request-id"], crid)
        self.assertEqual(body["error"]["innerError"]["client-request-id"], crid)
        self.assertEqual(body["error"]["innerError"]["request-id"], headers["request-id"])


class TokenExpiryTest(unittest.TestCase):
    def test_expiry(self):
        sim = Sim("--token-lifetime", "1")
        try:
            st, _, body = sim.token()
            self.assertEqual(body["expires_in"], 1)
            tok = "Bearer " + body["access_token"]
            self.assertEqual(sim.get("/v1.0/users?$top=1", token=tok)[0], 200)
            time.sleep(1.2)
            st, _, body = sim.get("/v1.0/users?$top=1", token=tok)
            self.assertEqual(st, 401)
            self.assertEqual(body["error"]["code"], "InvalidAuthenticationToken")
            self.assertEqual(body["error"]["message"],
                             "Access token has expired or is not yet valid.")
            # A fresh token works again.
            sim._token = None
            self.assertEqual(sim.get("/v1.0/users?$top=1")[0], 200)
        finally:
            check_clean_exit(self, sim)


# }======

# {====== users ======


class UserReadTest(GraphTest):
    def test_get_by_id_and_upn(self):
        adele = USERS["Adele"]
        by_id = self.user(adele["id"])
        self.assertEqual(list(by_id), DEFAULT_USER_KEYS)
        self.assertEqual(by_id["@odata.context"],
                         "https://graph.microsoft.com/v1.0/$metadata#users/$entity")
        self.assertEqual(by_id["id"], adele["id"])
        self.assertEqual(by_id["jobTitle"], adele["jobTitle"])
        by_upn = self.user(adele["userPrincipalName"].upper())
        self.assertEqual(by_upn, by_id)
        self.assertNotIn("employeeId", by_id)  # only with $select
        st, _, body = self.s.get("/v1.0/users/" + adele["userPrincipalName"].replace("@", "%40"))
        self.assertEqual(st, 200)
        self.assertEqual(body["id"], adele["id"])

    def test_select(self):
        lee = USERS["Lee"]
        body = self.user(lee["userPrincipalName"], "employeeId,UsageLocation,assignedLicenses")
        self.assertEqual(body, {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users("
                              "employeeId,usageLocation,assignedLicenses)/$entity",
            "employeeId": lee["employeeId"], "usageLocation": None, "assignedLicenses": []})

    def test_select_unknown(self):
        self.assertGraphError(self.s.get("/v1.0/users/%s?$select=shoeSize" % USERS["Lee"]["id"]),
                              400, "BadRequest",
                              "Could not find a property named 'shoeSize' on type "
                              "'microsoft.graph.user'.")

    def test_not_found(self):
        self.assertGraphError(self.s.get("/v1.0/users/ghost@" + DOMAIN), 404,
                              "Request_ResourceNotFound", NOT_FOUND % ("ghost@" + DOMAIN))

    def test_unsupported_options(self):
        self.assertGraphError(self.s.get("/v1.0/users?$orderby=displayName"), 400, "BadRequest",
                              "The query parameter '$orderby' is not supported.")
        self.assertGraphError(self.s.get("/v1.0/users?$top=2&$top=3"), 400, "BadRequest",
                              "Query option '$top' was specified more than once, but it must "
                              "be specified at most once.")

    def test_method_not_allowed(self):
        self.assertGraphError(self.s.call("PUT", "/v1.0/users/" + USERS["Lee"]["id"], {}), 405,
                              "Request_BadRequest",
                              "Specified HTTP method is not allowed for the request target.")


class UserListTest(GraphTest):
    def filter(self, expr, select="id"):
        q = urllib.parse.quote("$filter") + "=" + urllib.parse.quote(expr)
        st, _, body = self.s.get("/v1.0/users?%s&$select=%s" % (q, select))
        self.assertEqual(st, 200, body)
        return [u["id"] for u in body["value"]]

    def test_filters(self):
        adele = USERS["Adele"]
        self.assertEqual(self.filter("id eq '%s'" % adele["id"]), [adele["id"]])
        self.assertEqual(self.filter("userPrincipalName eq '%s'" %
                                     adele["userPrincipalName"].upper()), [adele["id"]])
        self.assertEqual(self.filter("mail eq '%s'" % adele["mail"]), [adele["id"]])
        self.assertEqual(self.filter("employeeId eq '%s'" % adele["employeeId"]), [adele["id"]])
        self.assertEqual(self.filter("displayName eq 'Adele Vance'"), [adele["id"]])
        self.assertEqual(self.filter("displayName eq 'O''Brien'"), [])
        self.assertEqual(self.filter("employeeId eq 'E1004' and displayName eq 'Lee Gu'"), [])
        self.assertEqual(len(self.filter("department eq 'Engineering'")), 3)
        self.assertEqual(self.filter("accountEnabled eq false"), [USERS["Pradeep"]["id"]])

    def test_filter_errors(self):
        def f(expr):
            return self.s.get("/v1.0/users?$filter=" + urllib.parse.quote(expr))
        self.assertGraphError(f("faxNumber eq '1'"), 400, "Request_UnsupportedQuery",
                              "Unsupported or invalid query filter clause specified for property "
                              "'faxNumber' of resource 'User'.")
        self.assertGraphError(f("displayName ne 'x'"), 400, "Request_UnsupportedQuery")
        self.assertGraphError(f("startswith(displayName,'A')"), 400, "Request_UnsupportedQuery")
        self.assertGraphError(f("displayName eq"), 400, "BadRequest")
        self.assertGraphError(f("displayName eq 'open"), 400, "BadRequest")
        self.assertGraphError(f("displayName eq true"), 400, "BadRequest")

    def test_paging(self):
        url = "/v1.0/users?$top=4&$select=id,displayName"
        seen, pages = [], 0
        while url:
            st, _, body = self.s.get(url)
            self.assertEqual(st, 200, body)
            pages += 1
            self.assertLessEqual(len(body["value"]), 4)
            seen += [u["id"] for u in body["value"]]
            link = body.get("@odata.nextLink")
            if link:
                self.assertTrue(link.startswith("http://127.0.0.1:%d/v1.0/users?" % self.s.port))
                self.assertIn("$skiptoken=", link)
                url = link[len("http://127.0.0.1:%d" % self.s.port):]
            else:
                url = None
        self.assertEqual(pages, 3)
        self.assertEqual(seen, [u["id"] for u in SEED["users"]])

    def test_default_page_and_top_limits(self):
        st, _, body = self.s.get("/v1.0/users")
        self.assertEqual(len(body["value"]), len(SEED["users"]))
        self.assertNotIn("@odata.nextLink", body)
        self.assertEqual(body["@odata.context"],
                         "https://graph.microsoft.com/v1.0/$metadata#users")
        for top in ("0", "1000", "x"):
            self.assertGraphError(self.s.get("/v1.0/users?$top=" + top), 400,
                                  "Request_BadRequest",
                                  "Invalid page size specified: '%s'. Must be between 1 and 999 "
                                  "inclusive." % top)
        self.assertGraphError(self.s.get("/v1.0/users?$skiptoken=bogus"), 400,
                              "Request_BadRequest")


NEW_USER = {
    "accountEnabled": True, "displayName": "Nina New", "mailNickname": "nina.new",
    "userPrincipalName": "nina.new@" + DOMAIN,
    "passwordProfile": {"forceChangePasswordNextSignIn": True, "password": "Xy7!long-pass"},
    "usageLocation": "US", "jobTitle": "Analyst", "employeeId": "E2001",
}


class UserCreateTest(GraphTest):
    def test_create(self):
        st, _, body = self.s.call("POST", "/v1.0/users", NEW_USER)
        self.assertEqual(st, 201, body)
        self.assertEqual(list(body), DEFAULT_USER_KEYS)
        self.assertRegex(body["id"], GUID)
        self.assertEqual(body["userPrincipalName"], NEW_USER["userPrincipalName"])
        got = self.user(body["id"], "employeeId,usageLocation,accountEnabled,createdDateTime")
        self.assertEqual(got["employeeId"], "E2001")
        self.assertRegex(got["createdDateTime"], r"Z$")
        self.assertEqual(self.stats()["mutations"], 1)

    def test_duplicate_upn(self):
        dup = dict(NEW_USER, userPrincipalName=USERS["Adele"]["userPrincipalName"].upper())
        self.assertGraphError(self.s.call("POST", "/v1.0/users", dup), 400, "Request_BadRequest",
                              "Another object with the same value for property userPrincipalName "
                              "already exists.")

    def test_required(self):
        for prop in ("accountEnabled", "displayName", "mailNickname", "userPrincipalName",
                     "passwordProfile"):
            body = {k: v for k, v in NEW_USER.items() if k != prop}
            self.assertGraphError(self.s.call("POST", "/v1.0/users", body), 400,
                                  "Request_BadRequest",
                                  "A value is required for property '%s' of resource 'User'."
                                  % prop)
        self.assertEqual(self.stats()["mutations"], 0)

    def test_invalid(self):
        self.assertGraphError(
            self.s.call("POST", "/v1.0/users", dict(NEW_USER, userPrincipalName="n@example.org")),
            400, "Request_BadRequest",
            "The domain portion of the userPrincipalName property is invalid. You must use one of "
            "the verified domain names in your organization.")
        weak = dict(NEW_USER, passwordProfile={"password": "password"})
        self.assertGraphError(self.s.call("POST", "/v1.0/users", weak), 400, "Request_BadRequest",
                              "The specified password does not comply with password complexity "
                              "requirements. Please provide a different password.")
        self.assertGraphError(self.s.call("POST", "/v1.0/users", dict(NEW_USER, id=TENANT)), 400,
                              "Request_BadRequest",
                              "Property 'id' is read-only and cannot be set.")
        self.assertGraphError(self.s.call("POST", "/v1.0/users", dict(NEW_USER, mail=USERS[
            "Lee"]["mail"])), 400, "Request_BadRequest")
        self.assertEqual(len(self.s.get("/v1.0/users")[2]["value"]), len(SEED["users"]))


class UserPatchTest(GraphTest):
    def patch(self, key, body, **kw):
        return self.s.call("PATCH", "/v1.0/users/" + urllib.parse.quote(key), body, **kw)

    def test_privileged_admin_is_protected(self):
        # Patti holds Global Administrator in the seed: an app cannot change her phones,
        # other mails or sign-in state (GRAPH.md section 2), but may change her job title.
        patti = "patti.fernandez@contoso.onmicrosoft.com"
        for body in ({"accountEnabled": False}, {"mobilePhone": "+1 555 0100"},
                     {"businessPhones": ["+1 555 0101"]}, {"otherMails": ["p@example.org"]},
                     {"jobTitle": "CEO", "accountEnabled": False}):
            self.assertGraphError(self.patch(patti, body), 403, "Authorization_RequestDenied",
                                  "Insufficient privileges to complete the operation.")
        st, _, _ = self.patch(patti, {"jobTitle": "Chief Executive"})
        self.assertEqual(st, 204)
        state = self.s.get("/_sim/users/" + patti)[2]
        self.assertTrue(state["accountEnabled"])
        self.assertEqual(state["jobTitle"], "Chief Executive")

    def test_patch(self):
        lee = USERS["Lee"]
        st, headers, body = self.patch(lee["userPrincipalName"], {
            "jobTitle": "VP", "usageLocation": "gb", "businessPhones": ["+44 20 7946 0000"],
            "employeeId": "E" + "9" * 15, "accountEnabled": False,
            "employeeHireDate": "2025-01-06T00:00:00Z", "onPremisesExtensionAttributes":
            {"extensionAttribute1": "x"}, "employeeOrgData": {"division": "R&D"}})
        self.assertEqual(st, 204)
        self.assertIsNone(body)
        self.assertNotIn("content-type", headers)
        got = self.user(lee["id"], "jobTitle,usageLocation,businessPhones,employeeId,"
                                   "accountEnabled,employeeHireDate,employeeOrgData")
        self.assertEqual(got["jobTitle"], "VP")
        self.assertEqual(got["usageLocation"], "GB")
        self.assertEqual(got["businessPhones"], ["+44 20 7946 0000"])
        self.assertEqual(got["employeeId"], "E" + "9" * 15)
        self.assertIs(got["accountEnabled"], False)
        self.assertEqual(got["employeeOrgData"], {"division": "R&D"})
        self.assertEqual(self.stats()["mutations"], 1)

    def test_rejections(self):
        key = USERS["Lee"]["id"]
        cases = [
            ({"shoeSize": 44}, "Property 'shoeSize' does not exist as a declared property or "
                               "extension property."),
            ({"createdDateTime": "2020-01-01T00:00:00Z"},
             "Property 'createdDateTime' is read-only and cannot be set."),
            ({"assignedLicenses": []}, "Property 'assignedLicenses' is read-only and cannot be "
                                       "set."),
            ({"id": key}, "Property 'id' is read-only and cannot be set."),
            ({"aboutMe": "hi"}, "Property 'aboutMe' is read-only and cannot be set."),
            ({"manager": {}}, "Property 'manager' is read-only and cannot be set."),
            ({"accountEnabled": "yes"},
             "Invalid value specified for property 'accountEnabled' of resource 'User'."),
            ({"businessPhones": ["1", "2"]},
             "Invalid value specified for property 'businessPhones' of resource 'User'."),
            ({"businessPhones": "1"},
             "Invalid value specified for property 'businessPhones' of resource 'User'."),
            ({"employeeId": "E" * 17},
             "Invalid value specified for property 'employeeId' of resource 'User'."),
            ({"usageLocation": "USA"},
             "Invalid value specified for property 'usageLocation' of resource 'User'."),
            ({"usageLocation": None},
             "Invalid value specified for property 'usageLocation' of resource 'User'."),
            ({"employeeHireDate": "yesterday"},
             "Invalid value specified for property 'employeeHireDate' of resource 'User'."),
            ({"employeeOrgData": {"team": "x"}},
             "Invalid value specified for property 'team' of resource 'User'."),
            ({"displayName": None},
             "A value is required for property 'displayName' of resource 'User'."),
            ({"displayName": ""},
             "A value is required for property 'displayName' of resource 'User'."),
            ({"userPrincipalName": USERS["Adele"]["userPrincipalName"]},
             "Another object with the same value for property userPrincipalName already "
             "exists."),
            ({"jobTitle": "OK", "city": 7},
             "Invalid value specified for property 'city' of resource 'User'."),
        ]
        for body, msg in cases:
            with self.subTest(body=body):
                self.assertGraphError(self.patch(key, body), 400, "Request_BadRequest", msg)
        # Nothing was applied, not even the valid half of the last case.
        got = self.user(key, "jobTitle,usageLocation,displayName")
        self.assertEqual(got["jobTitle"], USERS["Lee"]["jobTitle"])
        self.assertIsNone(got["usageLocation"])
        st = self.stats()
        self.assertEqual(st["mutations"], 0)
        self.assertEqual(st["bad_requests"], len(cases))

    def test_body_errors(self):
        key = USERS["Lee"]["id"]
        self.assertGraphError(self.patch(key, '{"jobTitle": "x"', ), 400, "BadRequest",
                              "Unable to read JSON request payload. Please ensure Content-Type "
                              "header is set and payload is of valid JSON format.")
        self.assertGraphError(self.patch(key, '{"jobTitle": "x"} trailing'), 400, "BadRequest")
        self.assertGraphError(self.patch(key, '["x"]'), 400, "BadRequest")
        self.assertGraphError(self.patch(key, {"jobTitle": "x"}, content_type=False), 415,
                              "UnsupportedMediaType")
        self.assertGraphError(self.s.call("PATCH", "/v1.0/users/" + key), 400, "BadRequest",
                              "Empty Payload. JSON content expected.")
        self.assertGraphError(self.patch("ghost@" + DOMAIN, {"jobTitle": "x"}), 404,
                              "Request_ResourceNotFound")

    def test_rename_upn(self):
        lee = USERS["Lee"]
        new = "lee.gu2@contoso.com"
        self.assertEqual(self.patch(lee["id"], {"userPrincipalName": new})[0], 204)
        self.assertEqual(self.user(new)["id"], lee["id"])
        self.assertEqual(self.s.get("/v1.0/users/" + lee["userPrincipalName"])[0], 404)


class UserDeleteTest(GraphTest):
    def test_delete_cascades(self):
        nestor = USERS["Nestor"]
        before = self.sku("SPE_E3")["consumedUnits"]
        st, _, body = self.s.call("DELETE", "/v1.0/users/" + nestor["userPrincipalName"])
        self.assertEqual(st, 204)
        self.assertIsNone(body)
        self.assertGraphError(self.s.get("/v1.0/users/" + nestor["id"]), 404,
                              "Request_ResourceNotFound")
        self.assertEqual(self.sku("SPE_E3")["consumedUnits"], before - 1)
        st, _, body = self.s.get("/v1.0/roleManagement/directory/roleAssignments?$filter=" +
                                 urllib.parse.quote("principalId eq '%s'" % nestor["id"]))
        self.assertEqual(body["value"], [])
        st, state = self.s.sim("GET", "state")
        admins = [g for g in state["groups"] if g["displayName"] == "IT Admins"][0]
        self.assertEqual(admins["members"], [])
        self.assertEqual(self.s.call("DELETE", "/v1.0/users/" + nestor["id"])[0], 404)

    def test_delete_clears_manager(self):
        megan = USERS["Megan"]
        self.assertEqual(self.s.call("DELETE", "/v1.0/users/" + megan["id"])[0], 204)
        self.assertGraphError(self.s.get("/v1.0/users/%s/manager" % USERS["Alex"]["id"]), 404,
                              "Request_ResourceNotFound", NOT_FOUND % "manager")

    def test_deleted_items_and_restore(self):
        nestor = USERS["Nestor"]
        nid = nestor["id"]
        st, before = self.s.sim("GET", "users/" + nid)
        self.assertEqual(st, 200)
        e3 = self.sku("SPE_E3")["consumedUnits"]
        self.assertGraphError(self.s.get("/v1.0/directory/deletedItems/" + nid), 404,
                              "Request_ResourceNotFound")
        self.assertEqual(self.s.call("DELETE", "/v1.0/users/" + nid)[0], 204)
        st, _, body = self.s.get("/v1.0/directory/deletedItems/" + nid)
        self.assertEqual(st, 200, body)
        self.assertEqual(body["@odata.type"], "#microsoft.graph.user")
        self.assertEqual(body["userPrincipalName"], nestor["userPrincipalName"])
        self.assertRegex(body["deletedDateTime"], r"^\d{4}-\d\d-\d\dT")
        st, _, body = self.s.get("/v1.0/directory/deletedItems/microsoft.graph.user")
        self.assertEqual(st, 200, body)
        self.assertEqual([u["id"] for u in body["value"]], [nid])
        st, state = self.s.sim("GET", "state")
        self.assertEqual([u["id"] for u in state["deletedUsers"]], [nid])
        # Restored with its groups, roles, PIM schedules, licence seats and manager.
        st, _, body = self.s.call("POST", "/v1.0/directory/deletedItems/%s/restore" % nid)
        self.assertEqual(st, 200, body)
        self.assertEqual(body["id"], nid)
        st, after = self.s.sim("GET", "users/" + nid)
        for key in ("memberOf", "roleAssignments", "assignedLicenses", "manager",
                    "userPrincipalName", "accountEnabled"):
            self.assertEqual(sorted(map(json.dumps, after[key])) if isinstance(after[key], list)
                             else after[key],
                             sorted(map(json.dumps, before[key])) if isinstance(before[key], list)
                             else before[key], key)
        self.assertNotIn("deletedDateTime", after)
        self.assertEqual(self.sku("SPE_E3")["consumedUnits"], e3)
        st, _, body = self.s.get("/v1.0/roleManagement/directory/roleEligibilitySchedules?$filter=" +
                                 urllib.parse.quote("principalId eq '%s'" % nid))
        self.assertEqual(len(body["value"]), 1)
        # Not (or no more) deleted: 404; purged: 404 too.
        self.assertGraphError(
            self.s.call("POST", "/v1.0/directory/deletedItems/%s/restore" % nid), 404,
            "Request_ResourceNotFound")
        self.assertEqual(self.s.call("DELETE", "/v1.0/users/" + nid)[0], 204)
        self.assertEqual(self.s.call("DELETE", "/v1.0/directory/deletedItems/" + nid)[0], 204)
        self.assertGraphError(
            self.s.call("POST", "/v1.0/directory/deletedItems/%s/restore" % nid), 404,
            "Request_ResourceNotFound")
        self.assertEqual(self.s.call("GET", "/v1.0/directory/deletedItems/%s/restore" % nid)[0],
                         405)


# }======

# {====== licenses ======


class LicenseTest(GraphTest):
    def assign(self, key, add, remove, raw=None):
        body = raw if raw is not None else {
            "addLicenses": [{"skuId": s, "disabledPlans": []} for s in add],
            "removeLicenses": remove}
        return self.s.call("POST", "/v1.0/users/%s/assignLicense" % urllib.parse.quote(key),
                           body)

    def test_assign_and_remove(self):
        e5 = SKUS["SPE_E5"]["skuId"]
        alex = USERS["Alex"]
        before = self.sku("SPE_E5")["consumedUnits"]
        st, _, body = self.assign(alex["userPrincipalName"], [e5], [])
        self.assertEqual(st, 200, body)
        self.assertEqual(list(body), DEFAULT_USER_KEYS)
        self.assertEqual(body["id"], alex["id"])
        self.assertEqual(self.sku("SPE_E5")["consumedUnits"], before + 1)
        got = self.user(alex["id"], "assignedLicenses,licenseAssignmentStates")
        self.assertIn({"disabledPlans": [], "skuId": e5}, got["assignedLicenses"])
        self.assertIn(e5, [x["skuId"] for x in got["licenseAssignmentStates"]])
        # Assigning again only updates disabledPlans; no second seat.
        self.assertEqual(self.assign(alex["id"], [e5], [])[0], 200)
        self.assertEqual(self.sku("SPE_E5")["consumedUnits"], before + 1)
        self.assertEqual(self.assign(alex["id"], [], [e5])[0], 200)
        self.assertEqual(self.sku("SPE_E5")["consumedUnits"], before)
        self.assertEqual(self.stats()["mutations"], 3)

    def test_usage_location_required(self):
        e3 = SKUS["SPE_E3"]["skuId"]
        self.assertGraphError(self.assign(USERS["Lee"]["id"], [e3], []), 400,
                              "Request_BadRequest",
                              "License assignment cannot be done for user with invalid usage "
                              "location.")
        st = self.s.call("PATCH", "/v1.0/users/" + USERS["Lee"]["id"], {"usageLocation": "US"})
        self.assertEqual(st[0], 204)
        self.assertEqual(self.assign(USERS["Lee"]["id"], [e3], [])[0], 200)

    def test_seat_exhaustion(self):
        pbi = SKUS["POWER_BI_PRO"]["skuId"]
        sku = self.sku("POWER_BI_PRO")
        self.assertEqual(sku["prepaidUnits"]["enabled"] - sku["consumedUnits"], 1)
        self.assertEqual(self.assign(USERS["Adele"]["id"], [pbi], [])[0], 200)
        self.assertGraphError(self.assign(USERS["Alex"]["id"], [pbi], []), 400,
                              "Request_BadRequest",
                              "Unable to assign this license because the number of allowed "
                              "licenses has been exceeded.")
        self.assertEqual(self.sku("POWER_BI_PRO")["consumedUnits"], 5)

    def test_body_errors(self):
        key = USERS["Alex"]["id"]
        e5 = SKUS["SPE_E5"]["skuId"]
        self.assertGraphError(self.assign(key, None, None, raw={"addLicenses": []}), 400,
                              "Request_BadRequest",
                              "The request is missing the required parameter 'removeLicenses'.")
        self.assertGraphError(self.assign(key, None, None, raw={"removeLicenses": []}), 400,
                              "Request_BadRequest",
                              "The request is missing the required parameter 'addLicenses'.")
        self.assertGraphError(self.assign(key, None, None, raw={
            "addLicenses": [], "removeLicenses": [], "extra": 1}), 400, "BadRequest")
        unknown = "11111111-1111-1111-1111-111111111111"
        self.assertGraphError(self.assign(key, [unknown], []), 400, "Request_BadRequest",
                              "License %s does not correspond to a valid company License."
                              % unknown)
        self.assertGraphError(self.assign(key, [], [e5]), 400, "Request_BadRequest",
                              "User does not have a corresponding license.")
        self.assertGraphError(self.assign(key, None, None, raw={
            "addLicenses": [{"skuId": "not-a-guid"}], "removeLicenses": []}), 400,
            "Request_BadRequest")
        self.assertGraphError(self.assign(key, None, None, raw={
            "addLicenses": [{"skuId": e5, "disabledPlans": [unknown]}], "removeLicenses": []}),
            400, "Request_BadRequest")
        self.assertGraphError(self.assign("ghost@" + DOMAIN, [e5], []), 404,
                              "Request_ResourceNotFound")
        self.assertEqual(self.stats()["mutations"], 0)

    def test_subscribed_skus(self):
        st, _, body = self.s.get("/v1.0/subscribedSkus")
        self.assertEqual(st, 200)
        self.assertEqual(body["@odata.context"],
                         "https://graph.microsoft.com/v1.0/$metadata#subscribedSkus")
        self.assertEqual(sorted(x["skuPartNumber"] for x in body["value"]),
                         sorted(SKUS))
        e3 = [x for x in body["value"] if x["skuPartNumber"] == "SPE_E3"][0]
        self.assertEqual(e3["id"], "%s_%s" % (TENANT, SKUS["SPE_E3"]["skuId"]))
        self.assertEqual(e3["appliesTo"], "User")
        self.assertEqual(e3["capabilityStatus"], "Enabled")
        self.assertEqual(e3["prepaidUnits"]["enabled"], 100)
        self.assertEqual(e3["consumedUnits"], SKUS["SPE_E3"]["consumedUnits"])
        self.assertIn("servicePlans", e3)
        st, _, body = self.s.get("/v1.0/subscribedSkus?$select=skuId,skuPartNumber")
        self.assertEqual(set(body["value"][0]), {"skuId", "skuPartNumber"})
        self.assertGraphError(
            self.s.get("/v1.0/subscribedSkus?$filter=" +
                       urllib.parse.quote("skuPartNumber eq 'SPE_E3'")),
            400, "Request_UnsupportedQuery",
            "Filtered searches against this resource are not supported.")


# }======

# {====== roles ======


class RoleTest(GraphTest):
    BASE = "/v1.0/roleManagement/directory/"

    def test_definitions(self):
        st, _, body = self.s.get(self.BASE + "roleDefinitions")
        self.assertEqual(st, 200)
        self.assertEqual(len(body["value"]), 21)
        ids = {r["displayName"]: r["id"] for r in body["value"]}
        self.assertEqual(ids["Global Administrator"], GLOBAL_ADMIN)
        self.assertEqual(ids["Helpdesk Administrator"], "729827e3-9c14-49f7-bb1b-9608f156bbb8")
        st, _, body = self.s.get(self.BASE + "roleDefinitions?$filter=" +
                                 urllib.parse.quote("displayName eq 'User Administrator'"))
        self.assertEqual(st, 200)
        self.assertEqual(len(body["value"]), 1)
        role = body["value"][0]
        self.assertEqual(role["id"], USER_ADMIN)
        self.assertEqual(role["templateId"], USER_ADMIN)
        self.assertIs(role["isBuiltIn"], True)
        st, _, body = self.s.get(self.BASE + "roleDefinitions/" + USER_ADMIN)
        self.assertEqual(body["displayName"], "User Administrator")
        self.assertGraphError(self.s.get(self.BASE + "roleDefinitions?$filter=" +
                                         urllib.parse.quote("description eq 'x'")),
                              400, "Request_UnsupportedQuery")

    def test_assignments(self):
        lee = USERS["Lee"]
        body = {"@odata.type": "#microsoft.graph.unifiedRoleAssignment",
                "roleDefinitionId": USER_ADMIN, "principalId": lee["id"],
                "directoryScopeId": "/"}
        st, _, created = self.s.call("POST", self.BASE + "roleAssignments", body)
        self.assertEqual(st, 201, created)
        self.assertEqual(created["@odata.context"],
                         "https://graph.microsoft.com/v1.0/$metadata#roleManagement/directory/"
                         "roleAssignments/$entity")
        self.assertEqual(created["roleDefinitionId"], USER_ADMIN)
        self.assertEqual(created["principalId"], lee["id"])
        self.assertEqual(created["directoryScopeId"], "/")
        self.assertRegex(created["id"], r"^[A-Za-z0-9_-]{44}-1$")
        self.assertGraphError(self.s.call("POST", self.BASE + "roleAssignments", body), 400,
                              "Request_BadRequest",
                              "A conflicting object with one or more of the specified property "
                              "values is present in the directory.")

        def find(expr):
            st, _, b = self.s.get(self.BASE + "roleAssignments?$filter=" +
                                  urllib.parse.quote(expr))
            self.assertEqual(st, 200, b)
            return sorted(a["id"] for a in b["value"])
        self.assertEqual(find("principalId eq '%s'" % lee["id"]), [created["id"]])
        self.assertEqual(len(find("roleDefinitionId eq '%s'" % USER_ADMIN)), 2)
        self.assertEqual(find("principalId eq '%s' and roleDefinitionId eq '%s'"
                              % (lee["id"], USER_ADMIN)), [created["id"]])
        self.assertEqual(find("principalId eq '%s' and roleDefinitionId eq '%s'"
                              % (lee["id"], GLOBAL_ADMIN)), [])
        st, _, got = self.s.get(self.BASE + "roleAssignments/" + created["id"])
        self.assertEqual(got["principalId"], lee["id"])
        st, _, gone = self.s.call("DELETE", self.BASE + "roleAssignments/" + created["id"])
        self.assertEqual(st, 204)
        self.assertGraphError(self.s.call("DELETE", self.BASE + "roleAssignments/" +
                                          created["id"]), 404, "Request_ResourceNotFound")
        self.assertEqual(find("principalId eq '%s'" % lee["id"]), [])

    def test_assignment_errors(self):
        lee = USERS["Lee"]
        post = lambda b: self.s.call("POST", self.BASE + "roleAssignments", b)  # noqa: E731
        self.assertGraphError(post({"roleDefinitionId": USER_ADMIN,
                                    "principalId": lee["userPrincipalName"],
                                    "directoryScopeId": "/"}), 400, "Request_BadRequest",
                              "Invalid value specified for property 'principalId' of resource "
                              "'UnifiedRoleAssignment'.")
        self.assertGraphError(post({"roleDefinitionId": USER_ADMIN, "principalId": lee["id"]}),
                              400, "Request_BadRequest")
        self.assertGraphError(post({"principalId": lee["id"], "directoryScopeId": "/"}), 400,
                              "Request_BadRequest")
        self.assertGraphError(post({"roleDefinitionId": TENANT, "principalId": lee["id"],
                                    "directoryScopeId": "/"}), 404, "Request_ResourceNotFound")
        self.assertGraphError(post({"roleDefinitionId": USER_ADMIN, "principalId": TENANT,
                                    "directoryScopeId": "/"}), 404, "Request_ResourceNotFound")
        self.assertEqual(self.stats()["mutations"], 0)


# }======

# {====== groups, manager, sessions ======


def ref(uid):
    return {"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/" + uid}


class GroupTest(GraphTest):
    def test_list_filter(self):
        st, _, body = self.s.get("/v1.0/groups?$filter=" +
                                 urllib.parse.quote("displayName eq 'Engineering'"))
        self.assertEqual(st, 200)
        self.assertEqual([g["id"] for g in body["value"]], [GROUPS["Engineering"]["id"]])
        st, _, body = self.s.get("/v1.0/groups")
        self.assertEqual(len(body["value"]), len(SEED["groups"]))

    def test_member_of_kinds(self):
        nestor = USERS["Nestor"]["id"]
        sel = "id,displayName,groupTypes,onPremisesSyncEnabled,isAssignableToRole"
        st, _, body = self.s.get("/v1.0/users/%s/memberOf?$select=%s" % (nestor, sel))
        self.assertEqual(st, 200, body)
        kinds = {i["displayName"]: i for i in body["value"]}
        self.assertEqual(kinds["User Administrator"]["@odata.type"],
                         "#microsoft.graph.directoryRole")
        self.assertNotIn("groupTypes", kinds["User Administrator"])
        self.assertEqual(kinds["IT Department (dynamic)"]["groupTypes"], ["DynamicMembership"])
        self.assertIs(kinds["VPN Users (on-premises)"]["onPremisesSyncEnabled"], True)
        self.assertIs(kinds["Helpdesk Operators (role-assignable)"]["isAssignableToRole"], True)
        self.assertIsNone(kinds["IT Admins"]["onPremisesSyncEnabled"])
        self.assertNotIn("mailNickname", kinds["IT Admins"])
        self.assertEqual(len(body["value"]), 6)
        # the page-size knob pages it whatever $top asks
        self.assertEqual(self.s.sim("POST", "faults", {"member_of_page_size": 4})[0], 200)
        st, _, body = self.s.get("/v1.0/users/%s/memberOf?$top=999" % nestor)
        self.assertEqual(len(body["value"]), 4)
        self.assertIn("@odata.nextLink", body)
        self.assertGraphError(self.s.get("/v1.0/users/%s/memberOf?$select=owner" % nestor), 400,
                              "BadRequest")
        # Graph's answers to member changes in dynamic and synced groups
        dyn = GROUPS["IT Department (dynamic)"]["id"]
        syn = GROUPS["VPN Users (on-premises)"]["id"]
        self.assertGraphError(self.s.call("DELETE", "/v1.0/groups/%s/members/%s/$ref"
                                          % (dyn, nestor)), 403, "Authorization_RequestDenied")
        self.assertGraphError(self.s.call("POST", "/v1.0/groups/%s/members/$ref" % dyn,
                                          ref(USERS["Adele"]["id"])), 403,
                              "Authorization_RequestDenied")
        self.assertGraphError(self.s.call("DELETE", "/v1.0/groups/%s/members/%s/$ref"
                                          % (syn, nestor)), 400, "Request_BadRequest")

    def test_members(self):
        eng = GROUPS["Engineering"]["id"]
        adele = USERS["Adele"]["id"]
        path = "/v1.0/groups/%s/members/$ref" % eng
        st, _, body = self.s.call("POST", path, ref(adele))
        self.assertEqual(st, 204)
        self.assertIsNone(body)
        self.assertGraphError(self.s.call("POST", path, ref(adele)), 400, "Request_BadRequest",
                              "One or more added object references already exist for the "
                              "following modified properties: 'members'.")
        self.assertGraphError(self.s.call("POST", path, ref(TENANT)), 404,
                              "Request_ResourceNotFound", NOT_FOUND % TENANT)
        self.assertGraphError(self.s.call("POST", path, {"@odata.id": "https://graph.microsoft"
                                                         ".com/v1.0/directoryObjects/adele"}),
                              400, "Request_BadRequest")
        st, _, body = self.s.get("/v1.0/groups/%s/members?$top=2" % eng)
        self.assertEqual(len(body["value"]), 2)
        self.assertEqual(body["value"][0]["@odata.type"], "#microsoft.graph.user")
        self.assertIn("@odata.nextLink", body)
        st, _, body = self.s.get("/v1.0/users/%s/memberOf" % adele)
        self.assertEqual(sorted(g["displayName"] for g in body["value"]),
                         ["All Staff", "Engineering"])
        self.assertEqual(body["value"][0]["@odata.type"], "#microsoft.graph.group")
        st, _, body = self.s.call("DELETE", "/v1.0/groups/%s/members/%s/$ref" % (eng, adele))
        self.assertEqual(st, 204)
        self.assertGraphError(self.s.call("DELETE", "/v1.0/groups/%s/members/%s/$ref"
                                          % (eng, adele)), 404, "Request_ResourceNotFound",
                              NOT_FOUND % adele)
        self.assertGraphError(self.s.call("POST", "/v1.0/groups/%s/members/$ref" % TENANT,
                                          ref(adele)), 404, "Request_ResourceNotFound")
        self.assertEqual(self.stats()["mutations"], 2)

    def test_entity_and_option_errors(self):
        eng = GROUPS["Engineering"]["id"]
        st, _, body = self.s.get("/v1.0/groups/%s?$select=displayName,ID" % eng)
        self.assertEqual(st, 200)
        self.assertEqual(body, {"displayName": "Engineering", "id": eng,
                                "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#"
                                                  "groups/$entity"})
        self.assertGraphError(self.s.get("/v1.0/groups/%s?$select=owner" % eng), 400,
                              "BadRequest", "Could not find a property named 'owner' on type "
                                            "'microsoft.graph.group'.")
        self.assertGraphError(self.s.get("/v1.0/groups/%s?$top=1" % eng), 400, "BadRequest",
                              "The query parameter '$top' is not supported.")
        self.assertGraphError(self.s.get("/v1.0/groups/" + TENANT), 404,
                              "Request_ResourceNotFound", NOT_FOUND % TENANT)
        self.assertGraphError(self.s.call("POST", "/v1.0/groups", {"displayName": "x"}), 405,
                              "Request_BadRequest")
        sku = "%s_%s" % (TENANT, SKUS["SPE_E3"]["skuId"])
        st, _, body = self.s.get("/v1.0/subscribedSkus/" + sku)
        self.assertEqual(body["skuPartNumber"], "SPE_E3")
        self.assertGraphError(self.s.get("/v1.0/subscribedSkus/%s?$select=nope" % sku), 400,
                              "BadRequest")
        self.assertGraphError(self.s.get("/v1.0/roleManagement/directory/roleDefinitions/%s"
                                         "?$select=nope" % USER_ADMIN), 400, "BadRequest")
        self.assertGraphError(self.s.get("/v1.0/roleManagement/directory/roleAssignments/x"
                                         "?$top=1"), 400, "BadRequest")

    def test_delete_member_without_ref_deletes_user(self):
        eng = GROUPS["Engineering"]["id"]
        lidia = USERS["Lidia"]["id"]
        st, _, _ = self.s.call("DELETE", "/v1.0/groups/%s/members/%s" % (eng, lidia))
        self.assertEqual(st, 204)
        self.assertEqual(self.s.get("/v1.0/users/" + lidia)[0], 404)


class ManagerTest(GraphTest):
    def test_manager(self):
        alex, megan, lee = USERS["Alex"], USERS["Megan"], USERS["Lee"]
        st, _, body = self.s.get("/v1.0/users/%s/manager" % alex["userPrincipalName"])
        self.assertEqual(st, 200)
        self.assertEqual(body["id"], megan["id"])
        self.assertEqual(body["@odata.type"], "#microsoft.graph.user")
        st, _, body = self.s.get("/v1.0/users/%s/manager/$ref" % alex["id"])
        self.assertTrue(body["@odata.id"].endswith("/directoryObjects/" + megan["id"]))
        st, _, body = self.s.call("PUT", "/v1.0/users/%s/manager/$ref" % alex["id"],
                                  ref(lee["id"]))
        self.assertEqual(st, 204)
        self.assertEqual(self.s.get("/v1.0/users/%s/manager" % alex["id"])[2]["id"], lee["id"])
        self.assertEqual(self.s.call("DELETE", "/v1.0/users/%s/manager/$ref" % alex["id"])[0],
                         204)
        self.assertGraphError(self.s.get("/v1.0/users/%s/manager" % alex["id"]), 404,
                              "Request_ResourceNotFound", NOT_FOUND % "manager")
        self.assertGraphError(self.s.call("DELETE", "/v1.0/users/%s/manager/$ref" % alex["id"]),
                              404, "Request_ResourceNotFound")
        self.assertGraphError(self.s.call("PUT", "/v1.0/users/%s/manager" % alex["id"],
                                          ref(lee["id"])), 405, "Request_BadRequest")
        self.assertGraphError(self.s.call("PUT", "/v1.0/users/%s/manager/$ref" % alex["id"],
                                          ref(TENANT)), 404, "Request_ResourceNotFound")
        self.assertEqual(self.stats()["mutations"], 2)


class RevokeTest(GraphTest):
    def test_revoke(self):
        key = USERS["Adele"]["userPrincipalName"]
        st, _, body = self.s.call("POST", "/v1.0/users/%s/revokeSignInSessions" % key)
        self.assertEqual(st, 200)
        self.assertEqual(body, {"@odata.context":
                                "https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean",
                                "value": True})
        got = self.user(key, "signInSessionsValidFromDateTime")
        self.assertRegex(got["signInSessionsValidFromDateTime"], r"^\d{4}-.*Z$")
        self.assertGraphError(self.s.get("/v1.0/users/%s/revokeSignInSessions" % key), 405,
                              "Request_BadRequest")
        self.assertGraphError(self.s.call("POST", "/v1.0/users/ghost@%s/revokeSignInSessions"
                                          % DOMAIN), 404, "Request_ResourceNotFound")


# }======

# {====== $batch ======


class BatchTest(GraphTest):
    def batch(self, requests, raw=None):
        return self.s.call("POST", "/v1.0/$batch", raw if raw is not None else
                           {"requests": requests})

    def test_order_and_shapes(self):
        reqs = [{"id": str(i), "method": "GET", "url": "/users/" + u["id"] + "?$select=id"}
                for i, u in enumerate(SEED["users"][:5], 1)]
        reqs.append({"id": "6", "method": "GET", "url": "users/ghost@" + DOMAIN})
        st, _, body = self.batch(reqs)
        self.assertEqual(st, 200, body)
        ids = [r["id"] for r in body["responses"]]
        self.assertEqual(sorted(ids), ["1", "2", "3", "4", "5", "6"])
        self.assertNotEqual(ids, ["1", "2", "3", "4", "5", "6"])
        by_id = {r["id"]: r for r in body["responses"]}
        self.assertEqual(by_id["1"]["status"], 200)
        self.assertEqual(by_id["1"]["body"]["id"], SEED["users"][0]["id"])
        self.assertIn("Content-Type", by_id["1"]["headers"])
        self.assertEqual(by_id["6"]["status"], 404)
        self.assertEqual(by_id["6"]["body"]["error"]["code"], "Request_ResourceNotFound")

    def test_depends_on(self):
        alex = USERS["Alex"]
        reqs = [
            {"id": "a", "method": "PATCH", "url": "/users/ghost@" + DOMAIN,
             "headers": {"Content-Type": "application/json"}, "body": {"jobTitle": "x"}},
            {"id": "b", "method": "PATCH", "url": "/users/" + alex["id"], "dependsOn": ["a"],
             "headers": {"Content-Type": "application/json"}, "body": {"jobTitle": "x"}},
            {"id": "c", "method": "GET", "url": "/users/" + alex["id"], "dependsOn": ["b"]},
            {"id": "d", "method": "PATCH", "url": "/users/" + alex["id"],
             "headers": {"content-type": "application/json"}, "body": {"jobTitle": "Lead"}},
            {"id": "e", "method": "GET", "url": "/users/%s?$select=jobTitle" % alex["id"],
             "dependsOn": ["d"]},
        ]
        st, _, body = self.batch(reqs)
        self.assertEqual(st, 200, body)
        by_id = {r["id"]: r for r in body["responses"]}
        self.assertEqual(by_id["a"]["status"], 404)
        self.assertEqual(by_id["b"]["status"], 424)
        self.assertEqual(by_id["c"]["status"], 424)
        self.assertEqual(by_id["d"]["status"], 204)
        self.assertNotIn("body", by_id["d"])
        self.assertEqual(by_id["e"]["status"], 200)
        self.assertEqual(by_id["e"]["body"]["jobTitle"], "Lead")
        self.assertEqual(self.user(alex["id"], "jobTitle")["jobTitle"], "Lead")
        st = self.stats()
        self.assertEqual(st["mutations"], 1)
        self.assertEqual(st["batch_items"], 5)
        log = self.s.sim("GET", "requests")[1]["value"]
        envelope = [e for e in log if e["path"] == "/v1.0/$batch"][0]
        items = [e for e in log if e["batch"]]
        self.assertEqual(len(items), 5)
        self.assertTrue(all(e["batch_parent"] == envelope["seq"] for e in items))
        self.assertEqual(sorted(e["batch_id"] for e in items), list("abcde"))
        d = [e for e in items if e["batch_id"] == "d"][0]
        self.assertEqual(d["method"], "PATCH")
        self.assertEqual(d["path"], "/v1.0/users/" + alex["id"])
        self.assertEqual(d["body_sha256"],
                         hashlib.sha256(b'{"jobTitle":"Lead"}').hexdigest())

    def test_envelope_errors(self):
        get = {"method": "GET", "url": "/users"}
        self.assertGraphError(self.batch([dict(get, id=str(i)) for i in range(21)]), 400,
                              "BadRequest")
        self.assertGraphError(self.batch([]), 400, "BadRequest")
        self.assertGraphError(self.batch([dict(get, id="1"), dict(get, id="1")]), 400,
                              "BadRequest")
        self.assertGraphError(self.batch([{"id": "1", "method": "PATCH", "url": "/users/x",
                                           "body": {"a": 1}}]), 400, "BadRequest",
                              "Write request id : 1 does not contain Content-Type header or "
                              "body.")
        self.assertGraphError(self.batch([dict(get, id="1", dependsOn=["9"])]), 400,
                              "BadRequest")
        self.assertGraphError(self.batch([dict(get, id="1", dependsOn=["2"]),
                                          dict(get, id="2", dependsOn=["1"])]), 400,
                              "BadRequest")
        self.assertGraphError(self.batch([dict(get, id="1",
                                               url="https://graph.microsoft.com/v1.0/users")]),
                              400, "BadRequest")
        self.assertGraphError(self.batch(None, raw={"requests": "x"}), 400, "BadRequest")
        self.assertEqual(self.stats()["batch_items"], 0)

    def test_twenty_creates(self):
        reqs = [{"id": str(i), "method": "POST", "url": "/users",
                 "headers": {"Content-Type": "application/json"},
                 "body": dict(NEW_USER, userPrincipalName="b%d@%s" % (i, DOMAIN),
                              mailNickname="b%d" % i, employeeId="B%d" % i)}
                for i in range(20)]
        st, _, body = self.batch(reqs)
        self.assertEqual(st, 200)
        self.assertEqual([r["status"] for r in body["responses"]], [201] * 20)
        self.assertEqual(self.stats()["mutations"], 20)


# }======

# {====== real-service behaviours (GRAPH.md section 12) ======


def new_user_body(alias, **extra):
    body = {"accountEnabled": True, "displayName": alias.title(), "mailNickname": alias,
            "userPrincipalName": "%s@%s" % (alias, DOMAIN),
            "passwordProfile": {"password": "Sim-Pass-2026!"}}
    body.update(extra)
    return body


class ReplicaLagTest(GraphTest):
    """--replica-lag / {"replica_lag": S}: a new user is missing from the replica that answers
    for S seconds; a usageLocation change is not seen by assignLicense for S seconds."""

    def test_new_user_is_404_until_the_lag_has_passed(self):
        self.assertEqual(self.s.sim("POST", "faults", {"replica_lag": 4})[0], 200)
        t0 = time.monotonic()
        st, _, u = self.s.call("POST", "/v1.0/users",
                               new_user_body("lagged", employeeId="E7001", usageLocation="DE"))
        self.assertEqual(st, 201, u)
        uid, upn = u["id"], u["userPrincipalName"]
        e3 = SKUS["SPE_E3"]["skuId"]
        eng = GROUPS["Engineering"]["id"]
        checks = [
            ("GET", "/v1.0/users/" + uid, None, uid),
            ("GET", "/v1.0/users/" + urllib.parse.quote(upn), None, upn),
            ("PATCH", "/v1.0/users/" + uid, {"jobTitle": "X"}, uid),
            ("POST", "/v1.0/users/%s/assignLicense" % uid,
             {"addLicenses": [{"skuId": e3, "disabledPlans": []}], "removeLicenses": []}, uid),
            ("POST", "/v1.0/users/%s/revokeSignInSessions" % uid, None, uid),
            ("GET", "/v1.0/users/%s/memberOf" % uid, None, uid),
            ("PUT", "/v1.0/users/%s/manager/$ref" % uid, ref(USERS["Megan"]["id"]), uid),
            ("PUT", "/v1.0/users/%s/manager/$ref" % USERS["Adele"]["id"], ref(uid), uid),
            ("POST", "/v1.0/groups/%s/members/$ref" % eng, ref(uid), uid),
            ("POST", "/v1.0/roleManagement/directory/roleAssignments",
             {"roleDefinitionId": USER_ADMIN, "principalId": uid, "directoryScopeId": "/"}, uid),
            ("POST", "/v1.0/roleManagement/directory/roleEligibilityScheduleRequests",
             {"action": "adminAssign", "principalId": uid, "roleDefinitionId": USER_ADMIN,
              "directoryScopeId": "/", "scheduleInfo": {"startDateTime": "2026-12-01T00:00:00Z"}},
             uid),
            ("DELETE", "/v1.0/users/" + uid, None, uid),
        ]
        for method, path, body, what in checks:
            self.assertGraphError(self.s.call(method, path, body), 404, "Request_ResourceNotFound",
                                  NOT_FOUND % what)
        # Lists and filters do not have it either, but the UPN is taken on the primary.
        st, _, body = self.s.get("/v1.0/users?$filter=" +
                                 urllib.parse.quote("employeeId eq 'E7001'"))
        self.assertEqual((st, body["value"]), (200, []))
        self.assertGraphError(self.s.call("POST", "/v1.0/users", new_user_body("lagged")), 400,
                              "Request_BadRequest",
                              "Another object with the same value for property "
                              "userPrincipalName already exists.")
        if time.monotonic() - t0 >= 4:
            self.skipTest("the checks above took longer than the lag; their 404s prove nothing")
        time.sleep(max(0, 4.1 - (time.monotonic() - t0)))
        self.assertEqual(self.user(upn)["id"], uid)
        st, _, body = self.s.get("/v1.0/users?$filter=" +
                                 urllib.parse.quote("employeeId eq 'E7001'"))
        self.assertEqual([x["id"] for x in body["value"]], [uid])
        self.assertEqual(self.s.call("POST", "/v1.0/groups/%s/members/$ref" % eng, ref(uid))[0],
                         204)
        # Seeded users never lag.
        self.assertEqual(self.user(USERS["Adele"]["id"])["id"], USERS["Adele"]["id"])

    def test_usage_location_lags_for_assign_license(self):
        e3 = SKUS["SPE_E3"]["skuId"]
        lee = USERS["Lee"]["id"]
        body = {"addLicenses": [{"skuId": e3, "disabledPlans": []}], "removeLicenses": []}
        self.assertEqual(self.s.sim("POST", "faults", {"replica_lag": 2})[0], 200)
        t0 = time.monotonic()
        self.assertEqual(self.s.call("PATCH", "/v1.0/users/" + lee, {"usageLocation": "DE"})[0],
                         204)
        self.assertGraphError(self.s.call("POST", "/v1.0/users/%s/assignLicense" % lee, body),
                              400, "Request_BadRequest",
                              "License assignment cannot be done for user with invalid usage "
                              "location.")
        self.assertEqual(self.user(lee, "usageLocation")["usageLocation"], "DE")
        if time.monotonic() - t0 >= 2:
            self.skipTest("the checks above took longer than the lag")
        time.sleep(max(0, 2.1 - (time.monotonic() - t0)))
        self.assertEqual(self.s.call("POST", "/v1.0/users/%s/assignLicense" % lee, body)[0], 200)
        # Writing the same location again is no change: no new lag.
        self.assertEqual(self.s.call("PATCH", "/v1.0/users/" + lee, {"usageLocation": "de"})[0],
                         204)
        self.assertEqual(self.s.call("POST", "/v1.0/users/%s/assignLicense" % lee, body)[0], 200)

    def test_flag(self):
        sim = Sim("--replica-lag", "30s")
        try:
            st, _, u = sim.call("POST", "/v1.0/users", new_user_body("flagged"))
            self.assertEqual(st, 201)
            self.assertEqual(sim.get("/v1.0/users/" + u["id"])[0], 404)
            self.assertEqual(sim.sim("GET", "faults")[1]["replica_lag"], 30)
            # /_sim sees the tenant as it is; a reset keeps the command line's lag.
            self.assertEqual(sim.sim("GET", "users/" + u["id"])[0], 200)
            self.assertEqual(sim.sim("POST", "faults", {"replica_lag": 0})[0], 200)
            self.assertEqual(sim.get("/v1.0/users/" + u["id"])[0], 200)
            sim.sim("POST", "reset")
            self.assertEqual(sim.sim("GET", "faults")[1]["replica_lag"], 30)
        finally:
            check_clean_exit(self, sim)


class GroupLicenseTest(GraphTest):
    """Group-based licensing: the seed's "E5 Pilot" gives its members SPE_E5 and
    EXCHANGESTANDARD (Johanna: E3 direct; Isaiah: EXCHANGESTANDARD direct as well)."""

    def states(self, key):
        return self.user(key, "assignedLicenses,licenseAssignmentStates")

    def assign(self, key, add, remove):
        return self.s.call("POST", "/v1.0/users/%s/assignLicense" % key,
                           {"addLicenses": [{"skuId": s, "disabledPlans": []} for s in add],
                            "removeLicenses": remove})

    def test_members_inherit(self):
        pilot = GROUPS["E5 Pilot"]["id"]
        e3, e5, ex = (SKUS[p]["skuId"] for p in ("SPE_E3", "SPE_E5", "EXCHANGESTANDARD"))
        got = self.states(USERS["Johanna"]["id"])
        self.assertEqual(sorted(x["skuId"] for x in got["assignedLicenses"]), sorted([e3, e5, ex]))
        by = {(x["skuId"], x["assignedByGroup"]) for x in got["licenseAssignmentStates"]}
        self.assertEqual(by, {(e3, None), (e5, pilot), (ex, pilot)})
        for x in got["licenseAssignmentStates"]:
            self.assertEqual((x["state"], x["error"]), ("Active", "None"))
            self.assertEqual(set(x), {"assignedByGroup", "disabledPlans", "error",
                                      "lastUpdatedDateTime", "skuId", "state"})
        # Isaiah holds EXCHANGESTANDARD both ways: one assignedLicenses entry, two states.
        got = self.states(USERS["Isaiah"]["id"])
        self.assertEqual([x["skuId"] for x in got["assignedLicenses"]].count(ex), 1)
        self.assertEqual({x["assignedByGroup"] for x in got["licenseAssignmentStates"]
                          if x["skuId"] == ex}, {None, pilot})
        st, state = self.s.sim("GET", "state")
        g = [x for x in state["groups"] if x["id"] == pilot][0]
        self.assertEqual([x["skuId"] for x in g["assignedLicenses"]], [e5, ex])

    def test_inherited_only_cannot_be_removed(self):
        jo = USERS["Johanna"]["id"]
        e3, e5 = SKUS["SPE_E3"]["skuId"], SKUS["SPE_E5"]["skuId"]
        before = self.sku("SPE_E5")["consumedUnits"]
        self.assertGraphError(self.assign(jo, [], [e5]), 400, "Request_BadRequest",
                              "User license is inherited from a group membership and it cannot be "
                              "removed directly from the user.")
        # A direct licence on top of the inherited one takes no seat; removing it leaves the
        # inherited one.
        self.assertEqual(self.assign(jo, [e5], [])[0], 200)
        self.assertEqual(self.sku("SPE_E5")["consumedUnits"], before)
        self.assertIn((e5, None), {(x["skuId"], x["assignedByGroup"])
                                   for x in self.states(jo)["licenseAssignmentStates"]})
        self.assertEqual(self.assign(jo, [], [e5])[0], 200)
        got = self.states(jo)
        self.assertIn(e5, [x["skuId"] for x in got["assignedLicenses"]])
        self.assertNotIn((e5, None), {(x["skuId"], x["assignedByGroup"])
                                      for x in got["licenseAssignmentStates"]})
        self.assertEqual(self.sku("SPE_E5")["consumedUnits"], before)
        # The direct E3 goes as before, and frees its seat.
        e3_before = self.sku("SPE_E3")["consumedUnits"]
        self.assertEqual(self.assign(jo, [], [e3])[0], 200)
        self.assertEqual(self.sku("SPE_E3")["consumedUnits"], e3_before - 1)

    def test_membership_changes_licences(self):
        pilot = GROUPS["E5 Pilot"]["id"]
        e5, ex = SKUS["SPE_E5"]["skuId"], SKUS["EXCHANGESTANDARD"]["skuId"]
        jo, isaiah, adele = USERS["Johanna"]["id"], USERS["Isaiah"]["id"], USERS["Adele"]["id"]
        e5_before = self.sku("SPE_E5")["consumedUnits"]
        ex_before = self.sku("EXCHANGESTANDARD")["consumedUnits"]
        self.assertEqual(self.s.call("DELETE", "/v1.0/groups/%s/members/%s/$ref"
                                     % (pilot, jo))[0], 204)
        got = self.states(jo)
        self.assertNotIn(e5, [x["skuId"] for x in got["assignedLicenses"]])
        self.assertEqual(self.sku("SPE_E5")["consumedUnits"], e5_before - 1)
        self.assertEqual(self.sku("EXCHANGESTANDARD")["consumedUnits"], ex_before - 1)
        # Isaiah keeps his direct EXCHANGESTANDARD (and its seat) when he leaves.
        self.assertEqual(self.s.call("DELETE", "/v1.0/groups/%s/members/%s/$ref"
                                     % (pilot, isaiah))[0], 204)
        self.assertEqual([x["skuId"] for x in self.states(isaiah)["assignedLicenses"]], [ex])
        self.assertEqual(self.sku("EXCHANGESTANDARD")["consumedUnits"], ex_before - 1)
        # Joining gives the licences and takes seats.
        self.assertEqual(self.s.call("POST", "/v1.0/groups/%s/members/$ref" % pilot,
                                     ref(adele))[0], 204)
        got = self.states(adele)
        self.assertIn((e5, pilot), {(x["skuId"], x["assignedByGroup"])
                                    for x in got["licenseAssignmentStates"]})
        self.assertEqual(self.sku("SPE_E5")["consumedUnits"], e5_before - 2 + 1)

    def test_no_seat_is_a_count_violation(self):
        pbi = SKUS["POWER_BI_PRO"]["skuId"]
        seed = json.loads(json.dumps(SEED))
        g = [x for x in seed["groups"] if x["displayName"] == "E5 Pilot"][0]
        g["assignedLicenses"] = [{"skuId": pbi}]
        path = os.path.join(os.path.dirname(SEED_PATH), ".seed-pbi-%d.json" % os.getpid())
        with open(path, "w") as f:
            json.dump(seed, f)
        sim = Sim(seed=path)
        try:
            os.unlink(path)
            # 5 seats, 4 used: Adele joins and gets the last one, Lee joins and gets none.
            for who in ("Adele", "Lee"):
                self.assertEqual(sim.call("POST", "/v1.0/groups/%s/members/$ref" % g["id"],
                                          ref(USERS[who]["id"]))[0], 204)
            st, _, lee = sim.get("/v1.0/users/%s?$select=assignedLicenses,"
                                 "licenseAssignmentStates" % USERS["Lee"]["id"])
            self.assertEqual(lee["assignedLicenses"], [])
            self.assertEqual([(x["state"], x["error"]) for x in lee["licenseAssignmentStates"]],
                             [("Error", "CountViolation")])
            st, _, skus = sim.get("/v1.0/subscribedSkus")
            self.assertEqual([x["consumedUnits"] for x in skus["value"]
                              if x["skuId"] == pbi], [5])
        finally:
            check_clean_exit(self, sim)

    def test_seed_errors(self):
        for mutate, msg in (
                (lambda s: s["groups"][0].update(assignedLicenses=[{"skuId": TENANT}]),
                 "groups[0]: assignedLicenses[0] names an unknown skuId"),
                (lambda s: s["users"][0].update(licenseAssignmentStates=[]),
                 "licenseAssignmentStates\" is computed"),
                (lambda s: s.update(roleEligibilitySchedules=[{"principalId": "nobody"}]),
                 "roleEligibilitySchedules[0]: needs a known \"principalId\""),
                (lambda s: s.update(roleAssignmentSchedules=[{
                    "principalId": USERS["Lee"]["id"], "roleDefinitionId": USER_ADMIN,
                    "endDateTime": "soon"}]), "roleAssignmentSchedules[0]: \"id\" must be")):
            seed = json.loads(json.dumps(SEED))
            mutate(seed)
            path = os.path.join(os.path.dirname(SEED_PATH), ".seed-bad-%d.json" % os.getpid())
            with open(path, "w") as f:
                json.dump(seed, f)
            try:
                p = subprocess.run([BIN, "--seed", path], capture_output=True, text=True,
                                   timeout=30)
            finally:
                os.unlink(path)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn(msg, p.stderr)


PIM = "/v1.0/roleManagement/directory/"


class PimTest(GraphTest):
    """PIM: eligible (roleEligibilitySchedules) and time-bound (roleAssignmentSchedules) role
    assignments, removed with adminRemove schedule requests."""

    def q(self, path, flt):
        return self.s.get(PIM + path + "?$filter=" + urllib.parse.quote(flt))

    def test_lists_and_filters(self):
        alex = USERS["Alex"]["id"]
        elig = SEED["roleEligibilitySchedules"]
        st, _, body = self.s.get(PIM + "roleEligibilitySchedules")
        self.assertEqual(st, 200)
        self.assertEqual(body["@odata.context"], "https://graph.microsoft.com/v1.0/$metadata#"
                         "roleManagement/directory/roleEligibilitySchedules")
        self.assertEqual([x["id"] for x in body["value"]], [x["id"] for x in elig])
        first = body["value"][0]
        self.assertEqual(first["principalId"], alex)
        self.assertEqual((first["status"], first["memberType"], first["appScopeId"]),
                         ("Provisioned", "Direct", None))
        self.assertEqual(first["scheduleInfo"]["expiration"],
                         {"type": "afterDateTime", "endDateTime": "2027-06-30T00:00:00Z",
                          "duration": None})
        st, _, body = self.q("roleEligibilitySchedules",
                             "principalId eq '%s' and roleDefinitionId eq '%s'" % (alex,
                                                                                   USER_ADMIN))
        self.assertEqual([x["id"] for x in body["value"]], [elig[0]["id"]])
        st, _, body = self.q("roleAssignmentSchedules", "principalId eq '%s'" % alex)
        self.assertEqual([x["assignmentType"] for x in body["value"]], ["Assigned"])
        st, _, body = self.s.get(PIM + "roleEligibilitySchedules/" + elig[1]["id"])
        self.assertEqual((st, body["id"]), (200, elig[1]["id"]))
        self.assertEqual(body["scheduleInfo"]["expiration"]["type"], "noExpiration")
        self.assertGraphError(self.s.get(PIM + "roleEligibilitySchedules/" + TENANT), 404,
                              "Request_ResourceNotFound")
        self.assertGraphError(self.q("roleEligibilitySchedules", "status eq 'x'"), 400,
                              "Request_UnsupportedQuery")
        self.assertGraphError(self.s.call("DELETE", PIM + "roleEligibilitySchedules/" +
                                          elig[1]["id"]), 405, "Request_BadRequest")
        # Not active assignments: roleAssignments does not list them.
        st, _, body = self.s.get(PIM + "roleAssignments?$filter=" +
                                 urllib.parse.quote("principalId eq '%s'" % alex))
        self.assertEqual(body["value"], [])

    def test_admin_remove(self):
        alex = USERS["Alex"]["id"]
        for kind in ("roleEligibility", "roleAssignment"):
            req = {"action": "adminRemove", "principalId": alex, "roleDefinitionId": USER_ADMIN,
                   "directoryScopeId": "/"}
            st, _, body = self.s.call("POST", PIM + kind + "ScheduleRequests", req)
            self.assertEqual(st, 201, body)
            self.assertEqual(body["@odata.context"], "https://graph.microsoft.com/v1.0/$metadata#"
                             "roleManagement/directory/%sScheduleRequests/$entity" % kind)
            self.assertRegex(body["id"], GUID)
            self.assertEqual((body["status"], body["action"], body["principalId"],
                              body["targetScheduleId"]), ("Revoked", "adminRemove", alex, None))
            st, _, body = self.q(kind + "Schedules", "principalId eq '%s'" % alex)
            self.assertEqual(body["value"], [])
            self.assertGraphError(self.s.call("POST", PIM + kind + "ScheduleRequests", req), 400,
                                  "RoleAssignmentDoesNotExist")
            st, _, body = self.s.get(PIM + kind + "ScheduleRequests")
            self.assertEqual([x["action"] for x in body["value"]], ["adminRemove"])
        self.assertEqual(self.stats()["mutations"], 2)

    def test_admin_assign(self):
        lee = USERS["Lee"]["id"]
        req = {"action": "adminAssign", "principalId": lee, "roleDefinitionId": "Global Reader",
               "directoryScopeId": "/"}
        req["roleDefinitionId"] = "f2ef992c-3afb-46b9-b7cf-a126ee74c451"
        req["scheduleInfo"] = {"startDateTime": "2026-12-01T00:00:00Z",
                               "expiration": {"type": "afterDateTime",
                                              "endDateTime": "2027-12-01T00:00:00Z"}}
        st, _, body = self.s.call("POST", PIM + "roleEligibilityScheduleRequests", req)
        self.assertEqual((st, body["status"]), (201, "Provisioned"))
        st, _, body = self.q("roleEligibilitySchedules", "principalId eq '%s'" % lee)
        self.assertEqual(len(body["value"]), 1)
        self.assertGraphError(self.s.call("POST", PIM + "roleEligibilityScheduleRequests", req),
                              400, "RoleAssignmentExists")

    def test_request_shape(self):
        alex = USERS["Alex"]["id"]
        good = {"action": "adminRemove", "principalId": alex, "roleDefinitionId": USER_ADMIN,
                "directoryScopeId": "/"}
        path = PIM + "roleEligibilityScheduleRequests"
        for change, code in (
                ({"action": None}, "Request_BadRequest"),
                ({"action": "adminDelete"}, "Request_BadRequest"),
                ({"principalId": USERS["Alex"]["userPrincipalName"]}, "Request_BadRequest"),
                ({"roleDefinitionId": None}, "Request_BadRequest"),
                ({"directoryScopeId": None}, "Request_BadRequest"),
                ({"appScopeId": "/"}, "Request_BadRequest"),
                ({"reason": "offboarding"}, "Request_BadRequest"),
                ({"isValidationOnly": "yes"}, "Request_BadRequest"),
                ({"principalId": "00000000-1111-4222-8333-444444444444"},
                 "Request_ResourceNotFound"),
                ({"roleDefinitionId": "00000000-1111-4222-8333-444444444444"},
                 "Request_ResourceNotFound")):
            body = dict(good)
            body.update(change)
            body = {k: v for k, v in body.items() if v is not None}
            st, _, out = self.s.call("POST", path, body)
            self.assertEqual(out["error"]["code"], code, (change, out))
            self.assertIn(st, (400, 404))
        self.assertGraphError(self.s.call("POST", path, "x"), 400, "BadRequest")
        # isValidationOnly checks without removing; the template id names the role too.
        st, _, out = self.s.call("POST", path, dict(good, isValidationOnly=True,
                                                    justification="leaver"))
        self.assertEqual((st, out["isValidationOnly"], out["justification"]),
                         (201, True, "leaver"))
        st, _, body = self.q("roleEligibilitySchedules", "principalId eq '%s'" % alex)
        self.assertEqual(len(body["value"]), 1)

    def test_forbidden(self):
        alex = USERS["Alex"]["id"]
        self.assertEqual(self.s.sim("POST", "faults", {"pim_forbidden": "eligibility"})[0], 200)
        req = {"action": "adminRemove", "principalId": alex, "roleDefinitionId": USER_ADMIN,
               "directoryScopeId": "/"}
        self.assertGraphError(self.s.get(PIM + "roleEligibilitySchedules"), 403,
                              "Authorization_RequestDenied",
                              "Insufficient privileges to complete the operation.")
        self.assertGraphError(self.s.call("POST", PIM + "roleEligibilityScheduleRequests", req),
                              403, "Authorization_RequestDenied")
        self.assertEqual(self.s.get(PIM + "roleAssignmentSchedules")[0], 200)
        self.assertEqual(self.s.call("POST", PIM + "roleAssignmentScheduleRequests", req)[0], 201)
        self.assertEqual(self.s.sim("POST", "faults", {"pim_forbidden": "all"})[0], 200)
        self.assertEqual(self.s.get(PIM + "roleAssignmentSchedules")[0], 403)
        self.assertEqual(self.s.sim("POST", "faults", {"pim_forbidden": "none"})[0], 200)
        self.assertEqual(self.s.get(PIM + "roleEligibilitySchedules")[0], 200)

    def test_delete_user_removes_schedules(self):
        alex = USERS["Alex"]["id"]
        self.assertEqual(self.s.call("DELETE", "/v1.0/users/" + alex)[0], 204)
        st, state = self.s.sim("GET", "state")
        self.assertEqual([x for x in state["roleEligibilitySchedules"]
                          if x["principalId"] == alex], [])
        self.assertEqual(state["roleAssignmentSchedules"], [])


class CreateTimeoutTest(GraphTest):
    """{"timeout_next_create": S}: the next create is applied and its answer held S seconds."""

    def test_applied_then_late(self):
        self.assertEqual(self.s.sim("POST", "faults", {"timeout_next_create": 6})[0], 200)
        conn = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=0.5)
        body = json.dumps(new_user_body("late", employeeId="E7002"))
        conn.request("POST", "/v1.0/users", body=body,
                     headers={"Authorization": "Bearer " + self.s.bearer(),
                              "Content-Type": "application/json"})
        with self.assertRaises(TimeoutError):
            conn.getresponse()
        conn.close()
        # It landed: the client's retry meets it.
        self.assertEqual(self.user("late@" + DOMAIN)["displayName"], "Late")
        self.assertGraphError(self.s.call("POST", "/v1.0/users", new_user_body("late")), 400,
                              "Request_BadRequest")
        # One-shot: the next create answers at once.
        self.assertEqual(self.s.sim("GET", "faults")[1]["timeout_next_create"], 0)
        t0 = time.monotonic()
        self.assertEqual(self.s.call("POST", "/v1.0/users", new_user_body("prompt"))[0], 201)
        self.assertLess(time.monotonic() - t0, 5, "held like the first")
        self.assertEqual(self.stats()["mutations"], 2)

    def test_inside_a_batch(self):
        self.assertEqual(self.s.sim("POST", "faults", {"timeout_next_create": 0.5})[0], 200)
        t0 = time.monotonic()
        st, _, body = self.s.call("POST", "/v1.0/$batch", {"requests": [
            {"id": "1", "method": "POST", "url": "/users", "body": new_user_body("inbatch"),
             "headers": {"Content-Type": "application/json"}}]})
        self.assertEqual((st, body["responses"][0]["status"]), (200, 201))
        self.assertGreaterEqual(time.monotonic() - t0, 0.45)


# }======

# {====== faults ======


class FaultTest(GraphTest):
    def tearDown(self):
        self.s.sim("POST", "faults", {"throttle_every": 0, "fail_every": 0, "latency_ms": 0,
                                      "retry_after": 1.25})

    def test_throttle_and_violations(self):
        st, faults = self.s.sim("POST", "faults", {"throttle_every": 3, "retry_after": 0.4})
        self.assertEqual(st, 200)
        self.assertEqual(faults["throttle_every"], 3)
        users = [u["id"] for u in SEED["users"]]

        def patch(i):
            return self.s.call("PATCH", "/v1.0/users/" + users[i], {"jobTitle": "T%d" % i})
        self.assertEqual(patch(0)[0], 204)
        self.assertEqual(self.s.get("/v1.0/users/" + users[0])[0], 200)  # reads never throttle
        self.assertEqual(patch(1)[0], 204)
        r = patch(2)
        err = self.assertGraphError(r, 429, "TooManyRequests", "Please retry again later.")
        self.assertEqual(r[1]["retry-after"], "0.400")
        self.assertEqual(err["innerError"]["status"], "429")
        # Not applied.
        self.assertEqual(self.user(users[2], "jobTitle")["jobTitle"],
                         SEED["users"][2]["jobTitle"])
        # Retrying at once violates Retry-After: 429 again, counted.
        r = patch(2)
        self.assertEqual(r[0], 429)
        self.assertLessEqual(float(r[1]["retry-after"]), 0.4)
        self.assertGreater(float(r[1]["retry-after"]), 0.0)
        st = self.stats()
        self.assertEqual(st["retry_after_violations"], 1)
        self.assertEqual(st["throttled"], 2)
        time.sleep(0.45)
        self.assertEqual(patch(2)[0], 204)  # 4th mutation attempt
        self.assertEqual(patch(3)[0], 204)  # 5th
        self.assertEqual(patch(4)[0], 429)  # 6th
        st = self.stats()
        self.assertEqual(st["retry_after_violations"], 1)
        self.assertEqual(st["throttled"], 3)
        self.assertEqual(st["mutations"], 4)

    def test_retry_after_counts_from_the_written_429(self):
        # The 429 leaves after the latency; its Retry-After runs from then, not from when it
        # was decided. A retry 0.5 s after the PATCH went out came 0.2 s after the 429 arrived:
        # a violation (with the wait counted from the decision it would have passed unseen).
        self.s.sim("POST", "faults", {"throttle_every": 1, "retry_after": 0.4,
                                      "latency_ms": 300})
        path = "/v1.0/users/" + USERS["Lee"]["id"]
        self.assertEqual(self.s.call("PATCH", path, {"jobTitle": "W"})[0], 429)
        time.sleep(0.2)
        self.assertEqual(self.s.call("PATCH", path, {"jobTitle": "W"})[0], 429)
        self.assertEqual(self.stats()["retry_after_violations"], 1)
        log = self.s.sim("GET", "requests")[1]["value"]
        self.assertGreaterEqual(log[-1]["answered_ms"], 290)

    def test_throttled_batch_items(self):
        self.s.sim("POST", "faults", {"throttle_every": 2, "retry_after": 0.3})
        users = [u["id"] for u in SEED["users"]]
        reqs = [{"id": str(i), "method": "PATCH", "url": "/users/" + users[i],
                 "headers": {"Content-Type": "application/json"}, "body": {"jobTitle": "B"}}
                for i in range(4)]
        st, _, body = self.s.call("POST", "/v1.0/$batch", {"requests": reqs})
        self.assertEqual(st, 200)
        by_id = {r["id"]: r for r in body["responses"]}
        self.assertEqual([by_id[str(i)]["status"] for i in range(4)], [204, 429, 204, 429])
        self.assertEqual(by_id["1"]["headers"]["Retry-After"], "0.300")
        self.assertEqual(by_id["1"]["body"]["error"]["code"], "TooManyRequests")
        # The item's path is throttled for direct calls too.
        r = self.s.call("PATCH", "/v1.0/users/" + users[1], {"jobTitle": "B"})
        self.assertEqual(r[0], 429)
        self.assertEqual(self.stats()["retry_after_violations"], 1)
        self.assertEqual(self.stats()["mutations"], 2)

    def test_fail_every(self):
        self.s.sim("POST", "faults", {"fail_every": 2})
        path = "/v1.0/users/" + USERS["Lee"]["id"]
        self.assertEqual(self.s.get(path)[0], 200)
        self.assertGraphError(self.s.get(path), 503, "serviceNotAvailable")
        self.assertEqual(self.s.get(path)[0], 200)
        self.assertEqual(self.stats()["injected_failures"], 1)

    def test_latency(self):
        self.s.sim("POST", "faults", {"latency_ms": 300})
        t0 = time.monotonic()
        self.assertEqual(self.s.get("/v1.0/users/" + USERS["Lee"]["id"])[0], 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.29)
        t0 = time.monotonic()
        self.assertEqual(self.s.sim("GET", "stats")[0], 200)  # /_sim is never delayed
        self.assertLess(time.monotonic() - t0, 0.25)

    def test_bad_settings(self):
        for body in ({"throttle_every": -1}, {"retry_after": 0}, {"latency": 5},
                     {"fail_every": "2"}, {"replica_lag": -1}, {"replica_lag": "3s"},
                     {"pim_forbidden": "some"}, {"pim_forbidden": True},
                     {"timeout_next_create": 7200}, {"timeout_next_send": 7200},
                     {"replica_lag": 1, "nope": 1}):
            st, err = self.s.sim("POST", "faults", body)
            self.assertEqual(st, 400, body)
            self.assertEqual(err["error"]["code"], "BadRequest")
        self.assertEqual(self.s.sim("GET", "faults")[1],
                         {"throttle_every": 0, "retry_after": 1.25, "fail_every": 0,
                          "latency_ms": 0, "throttle_scope": "ReadWrite",
                          "throttle_grace_ms": 0,
                          "tenant_throttle_left": 0,
                          "bad_answer": {"kind": "none", "count": 0, "method": "", "path": "",
                                         "query": ""},
                          "graph_host": "graph.microsoft.com",
                          "replica_lag": 0, "pim_forbidden": "none",
                          "timeout_next_create": 0, "delta_generation": 0,
                          "delta_page_size": 0, "delta_expired_status": 400,
                          "delta_forbidden": False, "link_base": "",
                          "member_of_page_size": 0,
                          "timeout_next_send": 0,
                          # issue 18's action kit (kit.c)
                          "tap_policy": {"state": "enabled", "minimumLifetimeInMinutes": 60,
                                         "maximumLifetimeInMinutes": 480,
                                         "defaultLifetimeInMinutes": 60, "isUsableOnce": False,
                                         "excludeUsers": []},
                          "no_onedrive": [], "onedrive_forbidden": False})


class FaultFlagTest(unittest.TestCase):
    def test_flags(self):
        sim = Sim("--throttle-every", "2", "--retry-after", "0.25", "--fail-every", "4",
                  "--latency-ms", "20", "--replica-lag", "1500ms", "--pim-forbidden",
                  "eligibility")
        try:
            st, faults = sim.sim("GET", "faults")
            self.assertEqual({k: faults[k] for k in ("throttle_every", "retry_after",
                                                     "fail_every", "latency_ms", "replica_lag",
                                                     "pim_forbidden", "timeout_next_create")},
                             {"throttle_every": 2, "retry_after": 0.25, "fail_every": 4,
                              "latency_ms": 20, "replica_lag": 1.5,
                              "pim_forbidden": "eligibility", "timeout_next_create": 0})
            uids = [u["id"] for u in SEED["users"]]
            codes = [sim.call("PATCH", "/v1.0/users/" + uids[0], {"city": "C"})[0],
                     sim.call("PATCH", "/v1.0/users/" + uids[1], {"city": "C"})[0],
                     sim.call("PATCH", "/v1.0/users/" + uids[1], {"city": "C"})[0],
                     sim.call("PATCH", "/v1.0/users/" + uids[2], {"city": "C"})[0],
                     sim.get("/v1.0/users/" + uids[0])[0]]
            # Graph request 1 (mutation 1) passes, 2 (mutation 2) is throttled, the immediate
            # retry violates Retry-After (which advances no counter), request 3 (mutation 3)
            # passes and request 4 gets the injected 503.
            self.assertEqual(codes, [204, 429, 429, 204, 503])
            st, stats = sim.sim("GET", "stats")
            self.assertEqual(stats["retry_after_violations"], 1)
            self.assertEqual(stats["injected_failures"], 1)
        finally:
            check_clean_exit(self, sim)

    def test_shutdown_with_delayed_reply(self):
        sim = Sim("--latency-ms", "1500")
        result = {}
        try:
            sim.bearer()  # issued after the delay, too

            def call():
                result["status"] = sim.get("/v1.0/users?$top=1")[0]
            t = threading.Thread(target=call)
            t.start()
            time.sleep(0.3)
        finally:
            check_clean_exit(self, sim)
        t.join(10)
        self.assertEqual(result.get("status"), 200)


# }======

# {====== introspection, unknown paths, command line ======


class SimTest(GraphTest):
    def test_state(self):
        st, state = self.s.sim("GET", "state")
        self.assertEqual(st, 200)
        self.assertEqual(state["tenant"]["id"], TENANT)
        self.assertEqual(len(state["users"]), len(SEED["users"]))
        self.assertEqual(len(state["roleDefinitions"]), 21)
        self.assertEqual(len(state["roleAssignments"]), 2)
        self.assertEqual(len(state["subscribedSkus"]), 4)
        staff = [g for g in state["groups"] if g["displayName"] == "All Staff"][0]
        self.assertEqual(len(staff["members"]), len(SEED["users"]))
        alex = [u for u in state["users"] if u["id"] == USERS["Alex"]["id"]][0]
        self.assertEqual(alex["manager"], USERS["Megan"]["id"])
        self.assertNotIn("passwordProfile", alex)
        st, user = self.s.sim("GET", "users/" + USERS["Nestor"]["userPrincipalName"])
        self.assertEqual(len(user["roleAssignments"]), 1)
        self.assertIn(GROUPS["IT Admins"]["id"], user["memberOf"])
        self.assertEqual(self.s.sim("GET", "users/nobody")[0], 404)

    def test_reset(self):
        lee = USERS["Lee"]
        self.s.call("PATCH", "/v1.0/users/" + lee["id"], {"jobTitle": "Changed"})
        self.s.call("DELETE", "/v1.0/users/" + USERS["Adele"]["id"])
        self.s.sim("POST", "faults", {"throttle_every": 5})
        self.assertGreater(self.stats()["requests"], 0)
        self.assertEqual(self.s.sim("POST", "reset")[0], 204)
        self.assertEqual(self.user(lee["id"], "jobTitle")["jobTitle"], lee["jobTitle"])
        self.assertEqual(self.user(USERS["Adele"]["id"])["id"], USERS["Adele"]["id"])
        self.assertEqual(self.s.sim("GET", "faults")[1]["throttle_every"], 0)
        self.s.sim("POST", "reset")
        st = self.stats()
        self.assertEqual(st["requests"], 0)
        self.assertEqual(st["mutations"], 0)
        self.assertEqual(self.s.sim("GET", "requests")[1]["value"], [])

    def test_request_log(self):
        body = json.dumps({"jobTitle": "Logged"})
        self.s.call("PATCH", "/v1.0/users/" + USERS["Lee"]["id"], body)
        self.s.get("/v1.0/users?$top=1&$select=id")
        st, log = self.s.sim("GET", "requests")
        self.assertEqual(st, 200)
        entries = log["value"]
        self.assertEqual([e["method"] for e in entries], ["PATCH", "GET"])
        self.assertEqual(entries[0]["path"], "/v1.0/users/" + USERS["Lee"]["id"])
        self.assertEqual(entries[0]["status"], 204)
        self.assertEqual(entries[0]["body_sha256"], hashlib.sha256(body.encode()).hexdigest())
        self.assertEqual(entries[1]["path"], "/v1.0/users?$top=1&$select=id")
        self.assertEqual(entries[1]["body_sha256"], hashlib.sha256(b"").hexdigest())
        self.assertFalse(entries[0]["batch"])
        st, log = self.s.sim("GET", "requests?since=%d" % entries[0]["seq"])
        self.assertEqual(len(log["value"]), 1)

    def test_stats_keys(self):
        self.assertEqual(set(self.stats()), {
            "requests", "graph_requests", "batch_items", "mutations", "token_requests",
            "tokens_issued", "throttled", "retry_after_violations", "injected_failures",
            "unauthorized", "unknown_paths", "bad_requests", "log_entries", "log_dropped",
            "users", "throttle_scope_violations", "bad_answers"})

    def test_unknown_paths(self):
        self.assertGraphError(self.s.get("/v1.0/contacts"), 400, "BadRequest",
                              "Resource not found for the segment 'contacts'.")
        self.assertGraphError(self.s.get("/v1.0/users/%s/photos" % USERS["Lee"]["id"]), 400,
                              "BadRequest", "Resource not found for the segment 'photos'.")
        self.assertGraphError(self.s.get("/beta/users"), 400, "BadRequest",
                              "Invalid version: beta")
        self.assertEqual(self.s.sim("GET", "nothing")[0], 404)
        st = self.stats()
        self.assertEqual(st["unknown_paths"], 4)
        self.assertEqual(st["bad_requests"], 0)


class GeneratedUsersTest(unittest.TestCase):
    def test_generated(self):
        sim = Sim("--generate-users", "3000")
        try:
            st, stats = sim.sim("GET", "stats")
            self.assertEqual(stats["users"], len(SEED["users"]) + 3000)
            st, _, body = sim.get("/v1.0/users/SYNTH002999@" + DOMAIN.upper())
            self.assertEqual(st, 200)
            self.assertEqual(body["displayName"], "Synthetic User 002999")
            st, _, body = sim.get("/v1.0/users?$filter=" +
                                  urllib.parse.quote("employeeId eq 'S0001234'"))
            self.assertEqual([u["userPrincipalName"] for u in body["value"]],
                             ["synth001234@" + DOMAIN])
            st, _, body = sim.get("/v1.0/users?$top=999&$select=id")
            self.assertEqual(len(body["value"]), 999)
            self.assertIn("@odata.nextLink", body)
        finally:
            check_clean_exit(self, sim)


# {====== certificate credentials (JWT client assertions) ======


def b64url(data):
    import base64
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_cert(directory, name):
    """An RSA key and a self-signed certificate from the openssl tool; returns (key, cert PEM,
    DER)."""
    key, crt = os.path.join(directory, name + ".key"), os.path.join(directory, name + ".pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=" + name, "-keyout", key, "-out", crt],
                   check=True, capture_output=True)
    der = subprocess.run(["openssl", "x509", "-in", crt, "-outform", "DER"], check=True,
                         capture_output=True).stdout
    with open(crt) as f:
        return key, f.read(), der


def sign_jwt(key, header, claims, pss=None):
    """A JWT signed with key: RSASSA-PSS (32-byte salt) when pss, else PKCS#1 v1.5; pss None
    follows the header's alg."""
    signing = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    if pss is None:
        pss = header.get("alg") == "PS256"
    opts = ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"] if pss else []
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key] + opts,
                         input=signing.encode(), check=True, capture_output=True).stdout
    return signing + "." + b64url(sig)


class CertTokenTest(unittest.TestCase):
    """The token endpoint with certificate credentials: a seed copy registers certificate A;
    B is a stranger."""

    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.tmp = tempfile.TemporaryDirectory()
        cls.key_a, cls.pem_a, der_a = make_cert(cls.tmp.name, "a")
        cls.key_b, cls.pem_b, der_b = make_cert(cls.tmp.name, "b")
        cls.x5t_a = b64url(hashlib.sha1(der_a).digest())
        cls.s256_a = b64url(hashlib.sha256(der_a).digest())
        cls.x5t_b = b64url(hashlib.sha1(der_b).digest())
        seed = json.loads(json.dumps(SEED))
        seed["app"]["certificates"] = [cls.pem_a]
        cls.seed = os.path.join(cls.tmp.name, "seed.json")
        with open(cls.seed, "w") as f:
            json.dump(seed, f)
        cls.sim = Sim(seed=cls.seed)

    @classmethod
    def tearDownClass(cls):
        rc, err = cls.sim.stop()
        cls.tmp.cleanup()
        if rc != 0 or SANITIZER.search(err):
            raise AssertionError("graphsim exited %d: %s" % (rc, err))

    def url(self, tenant=DOMAIN):
        return "http://127.0.0.1:%d/%s/oauth2/v2.0/token" % (self.sim.port, tenant)

    def jwt(self, key=None, header=None, **claims):
        now = int(time.time())
        c = {"aud": self.url(), "iss": CLIENT_ID, "sub": CLIENT_ID,
             "jti": "6f1c1d52-7a4b-4c1e-9a57-2f3d0c5b8e11", "nbf": now, "iat": now,
             "exp": now + 600}
        c.update(claims)
        c = {k: v for k, v in c.items() if v is not None}
        h = header if header is not None else {"alg": "RS256", "typ": "JWT", "x5t": self.x5t_a}
        return sign_jwt(key or self.key_a, h, c)

    def token(self, assertion, tenant=DOMAIN, **form):
        fields = {"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:"
                  "jwt-bearer", "client_assertion": assertion, "client_secret": None}
        fields.update(form)
        return self.sim.token(tenant=tenant, **fields)

    def refused(self, result, status, error, code, text=None):
        st, _, body = result
        self.assertEqual(st, status, body)
        self.assertEqual(body["error"], error, body)
        self.assertEqual(body["error_codes"], [code], body)
        self.assertTrue(body["error_description"].startswith("AADSTS%d: " % code), body)
        self.assertEqual(body["error_uri"],
                         "https://login.microsoftonline.com/error?code=%d" % code)
        if text is not None:
            self.assertIn(text, body["error_description"])
        return body

    def test_success_with_x5t_and_x5t_s256(self):
        for header in ({"alg": "RS256", "typ": "JWT", "x5t": self.x5t_a},
                       {"alg": "RS256", "typ": "JWT", "x5t#S256": self.s256_a},
                       {"alg": "RS256", "typ": "JWT", "x5t": self.x5t_a,
                        "x5t#S256": self.s256_a}):
            st, _, body = self.token(self.jwt(header=header))
            self.assertEqual(st, 200, body)
            self.assertEqual(body["token_type"], "Bearer")
            tok = body["access_token"]
            self.assertEqual(self.sim.get("/v1.0/users?$top=1", token="Bearer " + tok)[0], 200)
        # The tenant GUID works as well as the domain; aud follows what was called.
        st, _, body = self.token(self.jwt(aud=self.url(TENANT)), tenant=TENANT)
        self.assertEqual(st, 200, body)
        # Scheme and host compare without regard to case.
        aud = self.url().replace("http://", "HTTP://")
        self.assertEqual(self.token(self.jwt(aud=aud))[0], 200)

    def test_ps256(self):
        # Microsoft's current page: PS256 with x5t#S256. Verified with RSA-PSS.
        st, _, body = self.token(self.jwt(header={"alg": "PS256", "typ": "JWT",
                                                  "x5t#S256": self.s256_a}))
        self.assertEqual(st, 200, body)
        # A PKCS#1 v1.5 signature labelled PS256 (or a PSS one labelled RS256) does not verify.
        h = {"alg": "PS256", "typ": "JWT", "x5t#S256": self.s256_a}
        now = int(time.time())
        claims = {"aud": self.url(), "iss": CLIENT_ID, "sub": CLIENT_ID, "jti": "j",
                  "nbf": now, "exp": now + 600}
        self.refused(self.token(sign_jwt(self.key_a, h, claims, pss=False)), 401,
                     "invalid_client", 700027, "The provided signature value did not match")
        h["alg"] = "RS256"
        self.refused(self.token(sign_jwt(self.key_a, h, claims, pss=True)), 401,
                     "invalid_client", 700027, "The provided signature value did not match")
        # The request log keeps the assertion's header, never the assertion.
        st, log = self.sim.sim("GET", "requests")
        forms = [e["form"] for e in log["value"] if "form" in e]
        self.assertTrue(any((f.get("client_assertion_header") or {}).get("alg") == "PS256"
                            for f in forms), forms)
        self.assertNotIn("client_assertion", [k for f in forms for k in f])
        self.assertTrue(all(e["body"] is None for e in log["value"] if "form" in e))

    def test_unknown_certificate(self):
        body = self.refused(self.token(self.jwt(key=self.key_b, header={
            "alg": "RS256", "typ": "JWT", "x5t": self.x5t_b})), 401, "invalid_client", 700027,
            "The key was not found.")
        self.assertIn("Thumbprint of key used by client: '%s'" %
                      base64_decode_url(self.x5t_b).hex().upper(), body["error_description"])
        # x5t of A with an x5t#S256 of nothing registered: the two must name one certificate.
        self.refused(self.token(self.jwt(header={"alg": "RS256", "x5t": self.x5t_a,
                                                 "x5t#S256": b64url(b"\0" * 32)})),
                     401, "invalid_client", 700027, "The key was not found.")

    def test_bad_signature(self):
        # A's thumbprint, B's key.
        self.refused(self.token(self.jwt(key=self.key_b)), 401, "invalid_client", 700027,
                     "The provided signature value did not match")
        # A valid assertion with its claims changed after signing.
        h, c, sig = self.jwt().split(".")
        claims = json.loads(base64_decode_url(c))
        claims["exp"] += 60
        forged = ".".join([h, b64url(json.dumps(claims).encode()), sig])
        self.refused(self.token(forged), 401, "invalid_client", 700027,
                     "The provided signature value did not match")

    def test_time_range(self):
        now = int(time.time())
        for claims in ({"exp": now - 5, "nbf": now - 700, "iat": now - 700},
                       {"exp": now + 2 * 86400},
                       {"nbf": now + 3600, "exp": now + 4000}):
            self.refused(self.token(self.jwt(**claims)), 401, "invalid_client", 700024,
                         "Client assertion is not within its valid time range.")
        # Inside the five-minute skew, and without nbf at all: accepted.
        self.assertEqual(self.token(self.jwt(nbf=now + 120))[0], 200)
        self.assertEqual(self.token(self.jwt(nbf=None, iat=None))[0], 200)

    def test_audience(self):
        wrong = [self.url().replace("http://", "https://"),
                 self.url().replace(":%d/" % self.sim.port, ":%d/" % (self.sim.port + 1)),
                 "http://127.0.0.1:%d/%s/oauth2/v2.0/token" % (self.sim.port, TENANT),
                 "http://127.0.0.2:%d/%s/oauth2/v2.0/token" % (self.sim.port, DOMAIN),
                 self.url() + "/", "https://graph.microsoft.com", "not a url"]
        for aud in wrong:
            self.refused(self.token(self.jwt(aud=aud)), 401, "invalid_client", 50027,
                         "JWT token is invalid or malformed.")

    def test_issuer_and_subject(self):
        other = "00000000-0000-0000-0000-000000000009"
        self.refused(self.token(self.jwt(iss=other)), 401, "invalid_client", 700021)
        self.refused(self.token(self.jwt(sub=other)), 401, "invalid_client", 700021)

    def test_malformed(self):
        for bad in ("abc", "a.b", "a.b.c.d", "!!.??.xx", b64url(b"[]") + "." + b64url(b"{}") + ".x",
                    self.jwt().rsplit(".", 1)[0] + ".",
                    self.jwt(header={"alg": "HS256", "x5t": self.x5t_a}),
                    self.jwt(header={"alg": "none", "x5t": self.x5t_a}),
                    self.jwt(header={"alg": "RS256", "typ": "JWT"}),
                    self.jwt(jti=None), self.jwt(exp=None), self.jwt(aud=None)):
            self.refused(self.token(bad), 401, "invalid_client", 50027,
                         "JWT token is invalid or malformed.")

    def test_request_shape(self):
        # A secret and an assertion together.
        self.refused(self.token(self.jwt(), client_secret=SECRET), 400, "invalid_request",
                     9002313)
        self.refused(self.token(self.jwt(), client_assertion_type="urn:example:other"), 400,
                     "invalid_request", 9002313)
        self.refused(self.token(self.jwt(), client_assertion_type=None), 400, "invalid_request",
                     900144, "'client_assertion_type'")
        self.refused(self.token(None, client_assertion_type=None), 401, "invalid_client",
                     7000218)
        # The secret still works on its own for this app.
        self.assertEqual(self.sim.token()[0], 200)

    def test_state_lists_thumbprints(self):
        st, state = self.sim.sim("GET", "state")
        self.assertEqual(st, 200)
        self.assertEqual(state["app"]["certificates"],
                         [{"x5t": self.x5t_a, "x5t#S256": self.s256_a}])
        self.assertNotIn("BEGIN", json.dumps(state["app"]))

    def test_certificate_only_app_and_bad_seeds(self):
        import tempfile
        seed = json.loads(json.dumps(SEED))
        seed["app"] = {"client_id": CLIENT_ID, "certificates": [self.pem_a]}
        path = os.path.join(self.tmp.name, "certonly.json")
        with open(path, "w") as f:
            json.dump(seed, f)
        sim = Sim(seed=path)
        try:
            self.refused(sim.token(), 401, "invalid_client", 7000215)
            now = int(time.time())
            aud = "http://127.0.0.1:%d/%s/oauth2/v2.0/token" % (sim.port, DOMAIN)
            st, _, body = sim.token(
                client_secret=None, client_assertion=sign_jwt(
                    self.key_a, {"alg": "RS256", "x5t": self.x5t_a},
                    {"aud": aud, "iss": CLIENT_ID, "sub": CLIENT_ID, "jti": "j", "nbf": now,
                     "exp": now + 60}),
                client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            self.assertEqual(st, 200, body)
        finally:
            check_clean_exit(self, sim)
        for app, message in (({"client_id": CLIENT_ID}, "\"client_secret\" (or \"certificates\")"),
                             ({"client_id": CLIENT_ID, "certificates": ["nope"]},
                              "certificates[0] is not a PEM certificate"),
                             ({"client_id": CLIENT_ID, "certificates": [1]},
                              "certificates[0] is not a string"),
                             ({"client_id": CLIENT_ID, "client_secret": "s", "cert": []},
                              "app: unknown key \"cert\"")):
            seed["app"] = app
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
                json.dump(seed, f)
            try:
                r = subprocess.run([BIN, "--seed", f.name], capture_output=True, text=True,
                                   timeout=20)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn(message, r.stderr)
                self.assertIsNone(SANITIZER.search(r.stderr), r.stderr)
            finally:
                os.unlink(f.name)


def base64_decode_url(s):
    import base64
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


# }======


class CommandLineTest(unittest.TestCase):
    def run_bin(self, *args):
        return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=20)

    def test_help(self):
        r = self.run_bin("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("usage: graphsim", r.stdout)
        self.assertIn("--throttle-every", r.stdout)

    def test_rejects(self):
        self.assertEqual(self.run_bin("--seed", SEED_PATH, "--listen", "0.0.0.0:0").returncode,
                         2)
        self.assertEqual(self.run_bin("--seed", SEED_PATH, "--listen", "localhost:0")
                         .returncode, 2)
        self.assertEqual(self.run_bin("--listen", "127.0.0.1:0").returncode, 2)
        self.assertEqual(self.run_bin("--seed", SEED_PATH, "--retry-after", "x").returncode, 2)
        r = self.run_bin("--seed", "/nonexistent.json")
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot open seed", r.stderr)

    def test_bad_seed(self):
        import tempfile
        bad = dict(SEED, users=[dict(SEED["users"][0], shoeSize=44)])
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(bad, f)
        try:
            r = self.run_bin("--seed", f.name)
            self.assertEqual(r.returncode, 1)
            self.assertIn("\"shoeSize\" is not a property of microsoft.graph.user", r.stderr)
            self.assertIsNone(SANITIZER.search(r.stderr), r.stderr)
        finally:
            os.unlink(f.name)


# {====== the wire: content types, ids, the log of what clients sent ======


class WireTest(GraphTest):
    def tearDown(self):
        self.s.sim("POST", "faults", {"bad_answer": None, "graph_host": "graph.microsoft.com"})

    def test_non_json_content_type_is_415(self):
        adele = USERS["Adele"]["id"]
        revoke = "/v1.0/users/%s/revokeSignInSessions" % adele
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        # libcurl's default for a bodiless POST: Graph answers 415, bodiless or not.
        err = self.assertGraphError(self.s.call("POST", revoke, headers=form), 415,
                                    "UnsupportedMediaType")
        self.assertIn("application/x-www-form-urlencoded", err["message"])
        self.assertGraphError(self.s.call("PATCH", "/v1.0/users/" + adele, "a=b",
                                          content_type=False, headers=form), 415,
                              "UnsupportedMediaType")
        self.assertGraphError(self.s.call("PATCH", "/v1.0/users/" + adele, '{"city":"X"}',
                                          content_type=False,
                                          headers={"Content-Type": "text/plain"}), 415,
                              "UnsupportedMediaType")
        # JSON, or no type at all without a body: fine.
        self.assertEqual(self.s.call("POST", revoke,
                                     headers={"Content-Type": "application/json"})[0], 200)
        self.assertEqual(self.s.call("POST", revoke)[0], 200)
        self.assertEqual(self.s.call("POST", revoke, headers={
            "Content-Type": "application/json; charset=utf-8"})[0], 200)
        # GET and DELETE are not judged by a type they need not send.
        self.assertEqual(self.s.get("/v1.0/users/" + adele, headers=form)[0], 200)
        # Inside $batch: an item's Content-Type is checked the same way.
        st, _, body = self.s.call("POST", "/v1.0/$batch", {"requests": [
            {"id": "1", "method": "POST", "url": "/users/%s/revokeSignInSessions" % adele,
             "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
            {"id": "2", "method": "POST", "url": "/users/%s/revokeSignInSessions" % adele}]})
        self.assertEqual(st, 200)
        by_id = {r["id"]: r for r in body["responses"]}
        self.assertEqual(by_id["1"]["status"], 415)
        self.assertEqual(by_id["2"]["status"], 200)
        self.assertEqual(self.stats()["bad_requests"], 4)

    def test_ids_on_every_answer(self):
        crid = "0f8fad5b-d9cb-469f-a165-70867728950e"
        st, h, _ = self.s.get("/v1.0/users/" + USERS["Adele"]["id"],
                              headers={"client-request-id": crid})
        self.assertEqual(st, 200)
        self.assertEqual(h["client-request-id"], crid)
        self.assertRegex(h["request-id"], GUID)
        # Without one, the client-request-id is the request-id.
        st, h, _ = self.s.get("/v1.0/users/" + USERS["Adele"]["id"])
        self.assertEqual(h["client-request-id"], h["request-id"])
        st, h, body = self.s.token()
        self.assertRegex(h["request-id"], GUID)

    def test_request_log_keeps_what_was_sent(self):
        crid = "9b2e2bd5-6f1e-4a3c-8f0e-3c7d1a6b2e44"
        adele = USERS["Adele"]["id"]
        self.s.call("PATCH", "/v1.0/users/" + adele, {"city": "Oslo"},
                    headers={"client-request-id": crid, "User-Agent": "weir/9 (test)"})
        self.s.call("POST", "/v1.0/$batch", {"requests": [
            {"id": "1", "method": "PATCH", "url": "/users/" + adele,
             "headers": {"Content-Type": "application/json"}, "body": {"city": "Bergen"}}]})
        self.s.token()
        log = self.s.sim("GET", "requests")[1]["value"]
        patch = [e for e in log if e["method"] == "PATCH" and not e["batch"]][-1]
        self.assertEqual(patch["headers"], {"Content-Type": "application/json",
                                            "client-request-id": crid,
                                            "User-Agent": "weir/9 (test)",
                                            "Authorization": "Bearer"})
        self.assertEqual(json.loads(patch["body"]), {"city": "Oslo"})
        self.assertEqual(patch["body_length"], len(json.dumps({"city": "Oslo"})))
        self.assertRegex(patch["request_id"], GUID)
        item = [e for e in log if e["batch"]][-1]
        self.assertEqual(item["headers"], {"Content-Type": "application/json"})
        self.assertEqual(json.loads(item["body"]), {"city": "Bergen"})
        token = [e for e in log if "form" in e][-1]
        self.assertEqual(token["form"], {"client_id": CLIENT_ID, "grant_type":
                                         "client_credentials", "scope": SCOPE,
                                         "client_secret": True})
        self.assertIsNone(token["body"])  # the form holds the secret
        self.assertNotIn(SECRET, json.dumps(log))
        self.assertNotIn(self.s.bearer(), json.dumps(log))

    def test_user_key_literal(self):
        adele = USERS["Adele"]
        st, _, body = self.s.get("/v1.0/users('%s')" % adele["userPrincipalName"])
        self.assertEqual(st, 200, body)
        self.assertEqual(body["id"], adele["id"])
        st, _, body = self.s.get("/v1.0/users(%%27%s%%27)/manager" % adele["id"])
        self.assertIn(st, (200, 404))
        # Quotes are doubled inside the literal.
        self.assertGraphError(self.s.get("/v1.0/users('o''brien@%s')" % DOMAIN), 404,
                              "Request_ResourceNotFound", NOT_FOUND % ("o'brien@" + DOMAIN))
        self.assertGraphError(self.s.get("/v1.0/users('a'b@%s')" % DOMAIN), 400, "BadRequest")
        self.assertGraphError(self.s.get("/v1.0/users('')"), 400, "BadRequest")
        self.assertGraphError(self.s.get("/v1.0/users(adele)"), 400, "BadRequest")
        # A '$' segment is an OData system segment: Graph asks for the key literal instead.
        err = self.assertGraphError(self.s.get("/v1.0/users/$adele@" + DOMAIN), 400,
                                    "BadRequest")
        self.assertIn("/users('$adele@%s')" % DOMAIN, err["message"])
        self.assertGraphError(self.s.get("/v1.0/users/%24adele@" + DOMAIN), 400, "BadRequest")

    def test_dollar_upn_user(self):
        import tempfile
        seed = json.loads(json.dumps(SEED))
        seed["users"].append({"id": "7d0c1a52-9f3e-4c1b-8a6d-2e5f4b3c1a90",
                              "userPrincipalName": "$svc.sync@" + DOMAIN,
                              "displayName": "Sync Service"})
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(seed, f)
        sim = Sim(seed=f.name)
        try:
            st, _, body = sim.get("/v1.0/users('%24svc.sync%40" + DOMAIN + "')")
            self.assertEqual(st, 200, body)
            self.assertEqual(body["displayName"], "Sync Service")
            st, _, _ = sim.call("PATCH", "/v1.0/users('$svc.sync@%s')" % DOMAIN,
                                {"jobTitle": "Robot"})
            self.assertEqual(st, 204)
            self.assertEqual(sim.get("/v1.0/users('$svc.sync@%s')?$select=jobTitle"
                                     % DOMAIN)[2]["jobTitle"], "Robot")
            self.assertEqual(sim.get("/v1.0/users/$svc.sync@" + DOMAIN)[0], 400)
        finally:
            check_clean_exit(self, sim)
            os.unlink(f.name)

    def test_graph_host(self):
        st, faults = self.s.sim("POST", "faults", {"graph_host": "graph.microsoft.us"})
        self.assertEqual(faults["graph_host"], "graph.microsoft.us")
        # Only that cloud's scope.
        st, _, body = self.s.token()
        self.assertEqual(st, 400)
        self.assertEqual(body["error"], "invalid_scope")
        self.assertEqual(body["error_codes"], [70011])
        st, _, body = self.s.token(scope="https://graph.microsoft.us/.default")
        self.assertEqual(st, 200, body)
        claims = json.loads(base64_decode_url(body["access_token"].split(".")[1]))
        self.assertEqual(claims["aud"], "https://graph.microsoft.us")
        # Entities and references name that host; paging stays on the address called.
        tok = "Bearer " + body["access_token"]
        st, _, u = self.s.get("/v1.0/users/" + USERS["Adele"]["id"], token=tok)
        self.assertEqual(u["@odata.context"],
                         "https://graph.microsoft.us/v1.0/$metadata#users/$entity")
        st, _, page = self.s.get("/v1.0/users?$top=2", token=tok)
        self.assertTrue(page["@odata.context"].startswith("https://graph.microsoft.us/"))
        self.assertTrue(page["@odata.nextLink"].startswith(
            "http://127.0.0.1:%d/v1.0/" % self.s.port))
        st, _, mgr = self.s.get("/v1.0/users/%s/manager/$ref" % USERS["Adele"]["id"], token=tok)
        if st == 200:
            self.assertTrue(mgr["@odata.id"].startswith("https://graph.microsoft.us/v1.0/"))
        self.assertEqual(self.s.sim("POST", "faults", {"graph_host": "a b"})[0], 400)
        # reset restores the command line's host
        self.s.sim("POST", "reset")
        self.assertEqual(self.s.sim("GET", "faults")[1]["graph_host"], "graph.microsoft.com")


class BadAnswerTest(GraphTest):
    def tearDown(self):
        self.s.sim("POST", "faults", {"bad_answer": None})

    def bad(self, kind, count=1, method="GET", path="/users"):
        st, f = self.s.sim("POST", "faults", {"bad_answer": {
            "kind": kind, "count": count, "method": method, "path": path}})
        self.assertEqual(st, 200, f)
        return f

    def test_kinds(self):
        adele = "/v1.0/users/" + USERS["Adele"]["id"]
        self.bad("empty_202")
        st, h, raw = self.s.raw("GET", adele, headers={"Authorization": "Bearer " +
                                                          self.s.bearer()})
        self.assertEqual((st, raw), (202, b""))
        self.assertNotIn("content-type", h)
        self.assertEqual(self.s.get(adele)[0], 200)  # spent
        self.bad("html")
        st, h, raw = self.s.raw("GET", adele, headers={"Authorization": "Bearer " +
                                                          self.s.bearer()})
        self.assertEqual(st, 200)
        self.assertTrue(h["content-type"].startswith("text/html"))
        self.assertTrue(raw.startswith(b"<html>"))
        self.bad("truncated")
        st, h, raw = self.s.raw("GET", adele, headers={"Authorization": "Bearer " +
                                                          self.s.bearer()})
        self.assertEqual(st, 200)
        self.assertTrue(h["content-type"].startswith("application/json"))
        self.assertTrue(raw.startswith(b'{"@odata.context"'))
        self.assertRaises(ValueError, json.loads, raw)
        self.bad("no_id")
        st, _, body = self.s.get(adele)
        self.assertEqual(st, 200)
        self.assertNotIn("id", body)
        self.assertEqual(body["displayName"], USERS["Adele"]["displayName"])
        self.bad("no_id")
        st, _, body = self.s.get("/v1.0/users?$top=3")
        self.assertTrue(all("id" not in u for u in body["value"]))
        self.bad("wrong_shape")
        st, _, body = self.s.get(adele)
        self.assertEqual((st, body), (200, []))
        self.assertEqual(self.stats()["bad_answers"], 6)

    def test_matching_and_writes(self):
        adele = USERS["Adele"]["id"]
        # Only POSTs under /users/{id}/revokeSignInSessions; the GET passes untouched.
        self.bad("empty_202", count=2, method="POST", path="/users/" + adele)
        self.assertEqual(self.s.get("/v1.0/users/" + adele)[0], 200)
        st, _, body = self.s.call("POST", "/v1.0/users/%s/revokeSignInSessions" % adele)
        self.assertEqual((st, body), (202, None))
        # The request was carried out all the same.
        self.assertIn("signInSessionsValidFromDateTime", self.s.sim("GET", "users/" + adele)[1])
        # In $batch, as an item (html and truncated are for whole answers only).
        st, _, body = self.s.call("POST", "/v1.0/$batch", {"requests": [
            {"id": "1", "method": "POST", "url": "/users/%s/revokeSignInSessions" % adele}]})
        self.assertEqual(body["responses"][0]["status"], 202)
        self.assertNotIn("body", body["responses"][0])
        self.assertEqual(self.s.sim("GET", "faults")[1]["bad_answer"]["count"], 0)
        self.bad("html", method="*")
        st, _, body = self.s.call("POST", "/v1.0/$batch", {"requests": [
            {"id": "1", "method": "GET", "url": "/users/" + adele}]})
        self.assertEqual(body["responses"][0]["status"], 200)
        self.assertEqual(self.s.sim("GET", "faults")[1]["bad_answer"]["count"], 1)

    def test_query_and_lists(self):
        # A query substring narrows a fault to one read of a path; a list sets several at once.
        adele = "/v1.0/users/" + USERS["Adele"]["id"]
        st, f = self.s.sim("POST", "faults", {"bad_answer": [
            {"kind": "empty_202", "count": 5, "method": "GET", "path": "/users/",
             "query": "ASSIGNEDLICENSES"},
            {"kind": "wrong_shape", "count": 5, "method": "GET", "path": "/groups",
             "query": "%27Sales%27"}]})
        self.assertEqual(st, 200, f)
        self.assertEqual([b["query"] for b in f["bad_answer"]], ["ASSIGNEDLICENSES", "%27Sales%27"])
        self.assertEqual(self.s.get(adele)[0], 200)
        self.assertEqual(self.s.get(adele + "?$select=id,displayName")[0], 200)
        self.assertEqual(self.s.get(adele + "?$select=id,assignedLicenses")[0], 202)
        sales = "/v1.0/groups?$filter=displayName%20eq%20%27Sales%27"
        self.assertEqual(self.s.get(sales)[2], [])
        self.assertEqual(self.s.get("/v1.0/groups?$filter=displayName%20eq%20%27IT%27")[0], 200)
        counts = [b["count"] for b in self.s.sim("GET", "faults")[1]["bad_answer"]]
        self.assertEqual(counts, [4, 4])
        # no_id with a member drops it at every depth.
        self.s.sim("POST", "faults", {"bad_answer": {
            "kind": "no_id", "count": 1, "method": "GET", "path": "/users", "member": "skuId"}})
        body = self.s.get(adele + "?$select=id,assignedLicenses,licenseAssignmentStates")[2]
        self.assertEqual(body["id"], USERS["Adele"]["id"])
        self.assertTrue(body["assignedLicenses"])
        self.assertFalse([e for e in body["assignedLicenses"] + body["licenseAssignmentStates"]
                          if "skuId" in e])
        self.assertEqual(self.s.sim("POST", "faults", {"bad_answer": {
            "kind": "html", "count": 1, "member": "id"}})[0], 400)
        self.assertEqual(self.s.sim("POST", "faults", {"bad_answer": [{"kind": "html"}]})[0],
                         400)
        self.assertEqual(self.s.sim("POST", "faults", {"bad_answer": [
            {"kind": "html", "count": 1}] * 33})[0], 400)

    def test_bad_settings_and_flag(self):
        for b in ({"kind": "nope", "count": 1}, {"kind": "html"}, {"kind": "html", "count": -1},
                  {"kind": "html", "count": 1, "extra": 1}, "html"):
            self.assertEqual(self.s.sim("POST", "faults", {"bad_answer": b})[0], 400, b)
        sim = Sim("--bad-answer", "no_id:1:GET:/users/")
        try:
            self.assertNotIn("id", sim.get("/v1.0/users/" + USERS["Adele"]["id"])[2])
            self.assertIn("id", sim.get("/v1.0/users/" + USERS["Adele"]["id"])[2])
        finally:
            check_clean_exit(self, sim)


class TenantThrottleTest(GraphTest):
    SCOPE_RE = r"^Tenant_Application/%s/%s/%s$"

    def tearDown(self):
        self.s.sim("POST", "faults", {"tenant_throttle_for": 0, "retry_after": 1.25,
                                      "throttle_scope": "ReadWrite", "throttle_grace_ms": 0})

    def test_burst_and_violations(self):
        self.s.sim("POST", "faults", {"tenant_throttle_for": 30, "retry_after": 0.3})
        users = [u["id"] for u in SEED["users"]]
        r = self.s.call("PATCH", "/v1.0/users/" + users[0], {"jobTitle": "X"})
        err = self.assertGraphError(r, 429, "TooManyRequests")
        self.assertEqual(r[1]["retry-after"], "0.300")
        self.assertRegex(r[1]["x-ms-throttle-scope"],
                         self.SCOPE_RE % ("ReadWrite", CLIENT_ID, TENANT))
        self.assertEqual(r[1]["x-ms-throttle-information"], "ResourceUnitLimitExceeded")
        # Another path, another method, at once: the whole scope was told to wait.
        r = self.s.get("/v1.0/users/" + users[1])
        self.assertEqual(r[0], 429)
        self.assertLessEqual(float(r[1]["retry-after"]), 0.3)
        st = self.stats()
        self.assertEqual(st["throttle_scope_violations"], 1)
        self.assertEqual(st["retry_after_violations"], 1)
        # After the Retry-After: 429 again while the burst lasts, but no violation.
        time.sleep(0.35)
        self.assertEqual(self.s.get("/v1.0/users/" + users[2])[0], 429)
        self.assertEqual(self.stats()["throttle_scope_violations"], 1)
        # Not applied; the token endpoint and /_sim are outside the scope.
        self.assertEqual(self.s.token()[0], 200)
        self.s.sim("POST", "faults", {"tenant_throttle_for": 0})
        self.assertEqual(self.s.get("/v1.0/users/" + users[2])[0], 200)
        self.assertEqual(self.stats()["mutations"], 0)

    def test_batch_items_and_write_scope(self):
        self.s.sim("POST", "faults", {"tenant_throttle_for": 30, "retry_after": 0.5,
                                      "throttle_scope": "Write"})
        users = [u["id"] for u in SEED["users"]]
        st, _, body = self.s.call("POST", "/v1.0/$batch", {"requests": [
            {"id": "1", "method": "GET", "url": "/users/" + users[0]},
            {"id": "2", "method": "PATCH", "url": "/users/" + users[1],
             "headers": {"Content-Type": "application/json"}, "body": {"city": "Y"}}]})
        self.assertEqual(st, 200)
        by_id = {r["id"]: r for r in body["responses"]}
        self.assertEqual(by_id["1"]["status"], 200)  # reads are outside a Write scope
        self.assertEqual(by_id["2"]["status"], 429)
        h = by_id["2"]["headers"]
        self.assertEqual(h["Retry-After"], "0.500")
        self.assertRegex(h["x-ms-throttle-scope"], self.SCOPE_RE % ("Write", CLIENT_ID, TENANT))
        self.assertEqual(h["x-ms-throttle-information"], "WriteLimitExceeded")
        self.assertEqual(self.s.get("/v1.0/users/" + users[0])[0], 200)
        self.assertEqual(self.s.call("DELETE", "/v1.0/users/" + users[3])[0], 429)
        self.assertEqual(self.stats()["throttle_scope_violations"], 1)

    def test_grace_and_latency(self):
        # The window opens when the 429 leaves (after the latency), and the grace forgives what
        # the client sent before it could read it.
        self.s.sim("POST", "faults", {"tenant_throttle_for": 30, "retry_after": 0.5,
                                      "throttle_grace_ms": 300})
        users = [u["id"] for u in SEED["users"]]
        self.assertEqual(self.s.get("/v1.0/users/" + users[0])[0], 429)
        self.assertEqual(self.s.get("/v1.0/users/" + users[1])[0], 429)
        self.assertEqual(self.stats()["throttle_scope_violations"], 0)
        time.sleep(0.3)
        self.assertEqual(self.s.get("/v1.0/users/" + users[1])[0], 429)
        self.assertEqual(self.stats()["throttle_scope_violations"], 1)

    def test_waits_start_when_the_429_is_written(self):
        # A $batch whose create is held for a second carries a tenant-wide 429 for its GET: the
        # client cannot read that 429 before the reply is written, so nothing it sends meanwhile
        # breaks it; once written, the wait runs Retry-After from then.
        self.s.sim("POST", "faults", {"tenant_throttle_for": 30, "retry_after": 0.5,
                                      "throttle_scope": "Read", "timeout_next_create": 1.0})
        users = [u["id"] for u in SEED["users"]]
        out = {}

        def batch():
            out["r"] = self.s.call("POST", "/v1.0/$batch", {"requests": [
                {"id": "1", "method": "POST", "url": "/users",
                 "headers": {"Content-Type": "application/json"},
                 "body": new_user_body("held.create")},
                {"id": "2", "method": "GET", "url": "/users/" + users[0]}]})
        t = threading.Thread(target=batch)
        t.start()
        deadline = time.monotonic() + 10
        while not any(e["batch"] for e in self.s.sim("GET", "requests")[1]["value"]):
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.01)
        # Sent while the 429 is still held: throttled (the burst), not a violation.
        self.assertEqual(self.s.get("/v1.0/users/" + users[1])[0], 429)
        self.assertEqual(self.stats()["throttle_scope_violations"], 0)
        t.join()
        st, _, body = out["r"]
        self.assertEqual(st, 200)
        self.assertEqual({r["id"]: r["status"] for r in body["responses"]}, {"1": 201, "2": 429})
        log = self.s.sim("GET", "requests")[1]["value"]
        envelope = [e for e in log if e["path"] == "/v1.0/$batch"][0]
        self.assertGreaterEqual(envelope["answered_ms"], 950)
        for item in (e for e in log if e["batch"]):
            self.assertGreaterEqual(item["answered_ms"], 950)  # the envelope's answer time
        # Right after it was written: inside its wait, counted.
        self.assertEqual(self.s.get("/v1.0/users/" + users[2])[0], 429)
        self.assertEqual(self.stats()["throttle_scope_violations"], 1)

    def test_flags(self):
        sim = Sim("--tenant-throttle-for", "30", "--throttle-scope", "Read", "--retry-after",
                  "2")
        try:
            r = sim.get("/v1.0/users/" + USERS["Adele"]["id"])
            self.assertEqual(r[0], 429)
            self.assertRegex(r[1]["x-ms-throttle-scope"], self.SCOPE_RE % ("Read", CLIENT_ID,
                                                                           TENANT))
            self.assertEqual(sim.call("PATCH", "/v1.0/users/" + USERS["Adele"]["id"],
                                      {"city": "Z"})[0], 204)
            self.assertEqual(sim.sim("GET", "faults")[1]["throttle_scope"], "Read")
        finally:
            check_clean_exit(self, sim)


# }======

# {====== issue 18's action kit (kit.c): Temporary Access Pass and OneDrive ======


class KitTest(GraphTest):
    def tap_path(self, who):
        return "/v1.0/users/%s/authentication/temporaryAccessPassMethods" % USERS[who]["id"]

    def test_tap_replaces_and_hides(self):
        st, _, first = self.s.call("POST", self.tap_path("Lee"), {"lifetimeInMinutes": 90})
        self.assertEqual(st, 201, first)
        self.assertEqual(len(first["temporaryAccessPass"]), 8)
        self.assertEqual(first["lifetimeInMinutes"], 90)
        self.assertFalse(first["isUsableOnce"])
        st, _, second = self.s.call("POST", self.tap_path("Lee"), None)
        self.assertEqual(st, 201, second)
        self.assertEqual(second["lifetimeInMinutes"], 60)  # the policy's default
        st, _, lst = self.s.get(self.tap_path("Lee"))
        self.assertEqual([m["id"] for m in lst["value"]], [second["id"]])
        self.assertIsNone(lst["value"][0]["temporaryAccessPass"])
        self.assertEqual(self.s.call("DELETE", self.tap_path("Lee") + "/" + first["id"])[0], 404)
        self.assertEqual(self.s.call("DELETE", self.tap_path("Lee") + "/" + second["id"])[0],
                         204)
        self.assertEqual(self.s.get(self.tap_path("Lee"))[2]["value"], [])

    def test_tap_policy(self):
        self.assertGraphError(self.s.call("POST", self.tap_path("Lee"), {"lifetimeInMinutes": 600}),
                              400, "badRequest",
                              "Invalid LifetimeInMinutes specified. The valid range between 60 "
                              "and 480.")
        self.assertGraphError(self.s.call("POST", self.tap_path("Lee"), {"lifetime": 60}),
                              400, "BadRequest")
        self.assertEqual(self.s.sim("POST", "faults", {"tap_policy": {
            "state": "disabled"}})[0], 200)
        self.assertGraphError(self.s.call("POST", self.tap_path("Lee"), None), 400, "badRequest")
        self.s.sim("POST", "faults", {"tap_policy": {"state": "enabled", "isUsableOnce": True,
                                                     "excludeUsers": [USERS["Adele"]["id"]]}})
        self.assertGraphError(self.s.call("POST", self.tap_path("Adele"), None), 400,
                              "badRequest")
        self.assertGraphError(self.s.call("POST", self.tap_path("Lee"), {"isUsableOnce": False}),
                              400, "badRequest")
        st, _, one = self.s.call("POST", self.tap_path("Lee"), None)
        self.assertEqual(st, 201, one)
        self.assertTrue(one["isUsableOnce"])
        self.assertEqual(self.s.sim("POST", "faults", {"tap_policy": {"state": "off"}})[0], 400)
        self.s.sim("POST", "reset")  # the policy and the passes go
        self.assertEqual(self.s.get(self.tap_path("Lee"))[2]["value"], [])

    def test_tap_guest(self):
        self.assertEqual(self.s.sim("PATCH", "users/" + USERS["Lee"]["id"],
                                    {"userType": "Guest"})[0], 204)
        err = self.assertGraphError(self.s.call("POST", self.tap_path("Lee"), None), 400,
                                    "badRequest")
        self.assertIn("guest", err["message"])

    def test_drive_share(self):
        uid = USERS["Adele"]["id"]
        st, _, d = self.s.get("/v1.0/users/%s/drive" % uid)
        self.assertEqual(st, 200, d)
        base = "/v1.0/drives/%s/root" % urllib.parse.quote(d["id"])
        st, _, perms = self.s.get(base + "/permissions")
        self.assertEqual([p["roles"] for p in perms["value"]], [["owner"]])
        owner = perms["value"][0]["id"]
        body = {"recipients": [{"email": USERS["Lee"]["userPrincipalName"]}],
                "roles": ["read"], "requireSignIn": True, "sendInvitation": False}
        st, _, inv = self.s.call("POST", base + "/invite", body)
        self.assertEqual(st, 200, inv)
        perm = inv["value"][0]
        self.assertEqual(perm["grantedToV2"]["user"]["id"], USERS["Lee"]["id"])
        body["roles"] = ["write"]
        st, _, again = self.s.call("POST", base + "/invite", body)
        self.assertEqual(again["value"][0]["id"], perm["id"])  # the same permission, new role
        self.assertEqual(again["value"][0]["roles"], ["write"])
        body["roles"] = ["owner"]
        self.assertGraphError(self.s.call("POST", base + "/invite", body), 400, "invalidRequest")
        body["roles"], body["nope"] = ["read"], 1
        self.assertGraphError(self.s.call("POST", base + "/invite", body), 400, "invalidRequest")
        st, _, p = self.s.call("PATCH", base + "/permissions/" + perm["id"], {"roles": ["read"]})
        self.assertEqual((st, p["roles"]), (200, ["read"]))
        self.assertGraphError(self.s.call("DELETE", base + "/permissions/" + owner), 403,
                              "accessDenied")
        self.assertEqual(self.s.call("DELETE", base + "/permissions/" + perm["id"])[0], 204)
        self.assertGraphError(self.s.call("DELETE", base + "/permissions/" + perm["id"]), 404,
                              "itemNotFound")
        self.s.sim("POST", "faults", {"no_onedrive": [USERS["Adele"]["userPrincipalName"]]})
        self.assertGraphError(self.s.get("/v1.0/users/%s/drive" % uid), 404, "ResourceNotFound",
                              "User's mysite not found.")
        self.s.sim("POST", "faults", {"no_onedrive": [], "onedrive_forbidden": True})
        self.assertGraphError(self.s.get("/v1.0/users/%s/drive" % uid), 403, "accessDenied")

# }======


if __name__ == "__main__":
    unittest.main(verbosity=2)
