"""hrsim — a local stand-in for the HR vendors' APIs the examples in workflows/hr/ call back
(issue 19): a Python stdlib HTTP server on 127.0.0.1 (port 0, a free one), in a thread.

Each vendor lives under its own prefix, which the test puts in the example's `vars:` line
(HrSim.url("bamboohr") -> http://127.0.0.1:PORT/bamboohr):

- GET /bamboohr/v1/employees/ID?fields=a,b   BambooHR: basic auth "APIKEY:x"; answers JSON only
                                             when Accept names application/json (the real API
                                             answers XML otherwise), with "id" and the fields
                                             asked for.
- GET /hibob/v1/people/ID                    HiBob: basic auth "SERVICE-USER-ID:TOKEN".
- GET /gusto/v1/employees/UUID               Gusto: Authorization: Bearer TOKEN.

A request without the right credential gets 401 (and is logged); an unknown id 404. The data is
what the test seeds: HrSim.bamboohr, .hibob and .gusto are dicts id -> record, which the test may
change at any time (a Gusto termination cancelled, say). Every request is logged in .requests
({"vendor", "method", "path", "query", "status", "auth_ok", "accept"}); the credential itself is
never kept.

    sim = HrSim(bamboohr="KEY:x", hibob="SVC:TOKEN", gusto="gusto-token")
    sim.bamboohr["40127"] = {"workEmail": ..., "jobTitle": ..., "department": ...}
    ... sim.url("bamboohr") ...
    sim.calls("bamboohr"); sim.stop()

`python3 hrsim.py` runs its own checks (no weir needed).
"""
import base64
import hmac
import http.client
import http.server
import json
import os
import sys
import threading
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

VENDORS = ("bamboohr", "hibob", "gusto")


def basic(cred):
    """The Authorization value of HTTP basic auth for "user:password"."""
    return "Basic " + base64.b64encode(cred.encode()).decode()


def bearer(token):
    return "Bearer " + token


class HrSim:
    def __init__(self, bamboohr="bamboo-api-key:x", hibob="SERVICE-USER-1:hibob-token",
                 gusto="gusto-access-token"):
        self.expected = {"bamboohr": basic(bamboohr), "hibob": basic(hibob),
                         "gusto": bearer(gusto)}
        self.bamboohr = {}
        self.hibob = {}
        self.gusto = {}
        self.requests = []
        self.lock = threading.Lock()
        sim = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def answer(self, status, body, ctype="application/json"):
                data = (json.dumps(body) if ctype == "application/json" else body).encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    self.rfile.read(n)
                url = urllib.parse.urlsplit(self.path)
                parts = url.path.strip("/").split("/")
                vendor = parts[0] if parts else ""
                entry = {"vendor": vendor, "method": "GET", "path": url.path,
                         "query": urllib.parse.parse_qs(url.query), "status": None,
                         "auth_ok": False, "accept": self.headers.get("Accept")}
                try:
                    status, body, ctype = sim._route(vendor, parts[1:], entry,
                                                     self.headers.get("Authorization") or "",
                                                     self.headers.get("Accept") or "")
                except Exception as e:  # a bug in the stand-in: say so to the caller
                    status, body, ctype = 500, {"error": repr(e)}, "application/json"
                entry["status"] = status
                with sim.lock:
                    sim.requests.append(entry)
                self.answer(status, body, ctype)

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    self.rfile.read(n)
                with sim.lock:
                    sim.requests.append({"vendor": self.path.strip("/").split("/")[0],
                                         "method": self.command, "path": self.path,
                                         "query": {}, "status": 405, "auth_ok": False,
                                         "accept": self.headers.get("Accept")})
                self.answer(405, {"error": "the stand-in serves GET only"})

            do_PUT = do_PATCH = do_DELETE = do_POST

            def log_message(self, fmt, *args):
                pass

        self.server, self.port = harness.serve(Handler)

    def _route(self, vendor, rest, entry, authorization, accept):
        """(status, body, content type) of one GET."""
        if vendor not in VENDORS:
            return 404, {"error": "unknown vendor prefix"}, "application/json"
        if not hmac.compare_digest(authorization.encode(), self.expected[vendor].encode()):
            return 401, {"error": "Unauthorized"}, "application/json"
        entry["auth_ok"] = True
        with self.lock:
            if vendor == "bamboohr" and len(rest) == 3 and rest[:2] == ["v1", "employees"]:
                rec = self.bamboohr.get(rest[2])
                if rec is None:
                    return 404, {"error": "Employee not found"}, "application/json"
                fields = ",".join(entry["query"].get("fields", [])).split(",")
                out = {"id": rest[2]}
                for f in fields:
                    if f:
                        out[f] = rec.get(f)
                if "application/json" not in accept:
                    # BambooHR's default answer is XML
                    xml = "<employee id=\"%s\">%s</employee>" % (rest[2], "".join(
                        "<field id=\"%s\">%s</field>" % (k, v) for k, v in out.items()
                        if k != "id"))
                    return 200, xml, "text/xml"
                return 200, out, "application/json"
            if vendor == "hibob" and len(rest) == 3 and rest[:2] == ["v1", "people"]:
                rec = self.hibob.get(rest[2])
                if rec is None:
                    return 404, {"error": "Employee not found"}, "application/json"
                return 200, dict(rec, id=rest[2]), "application/json"
            if vendor == "gusto" and len(rest) == 3 and rest[:2] == ["v1", "employees"]:
                rec = self.gusto.get(rest[2])
                if rec is None:
                    return 404, {"errors": [{"error_key": "employee_uuid",
                                             "category": "not_found",
                                             "message": "Not found"}]}, "application/json"
                return 200, dict(rec, uuid=rest[2]), "application/json"
        return 404, {"error": "unknown path"}, "application/json"

    def url(self, vendor):
        """The base URL the examples' vars get for vendor."""
        return "http://127.0.0.1:%d/%s" % (self.port, vendor)

    def calls(self, vendor=None):
        """The requests logged so far (to vendor, when given), oldest first."""
        with self.lock:
            return [dict(r) for r in self.requests if vendor is None or r["vendor"] == vendor]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def _get(port, path, headers):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", path, headers=headers)
        r = c.getresponse()
        text = r.read().decode()
    finally:
        c.close()
    try:
        return r.status, json.loads(text)
    except ValueError:
        return r.status, text


def _selftest():
    """The stand-in's own checks: credentials, fields, the XML default, 404, the log."""
    sim = HrSim(bamboohr="k:x", hibob="svc:tok", gusto="gt")
    try:
        sim.bamboohr["7"] = {"workEmail": "a@b.c", "jobTitle": "T", "department": "D"}
        sim.hibob["9"] = {"email": "h@b.c", "work": {"title": "X"}}
        sim.gusto["u"] = {"work_email": "g@b.c", "terminations": []}
        ok = {"Authorization": basic("k:x"), "Accept": "application/json"}
        assert _get(sim.port, "/bamboohr/v1/employees/7?fields=workEmail,jobTitle", ok) == \
            (200, {"id": "7", "workEmail": "a@b.c", "jobTitle": "T"})
        st, body = _get(sim.port, "/bamboohr/v1/employees/7?fields=workEmail",
                        {"Authorization": basic("k:x")})
        assert st == 200 and body.startswith("<employee"), body
        assert _get(sim.port, "/bamboohr/v1/employees/7", {"Authorization": basic("k:y")})[0] \
            == 401
        assert _get(sim.port, "/bamboohr/v1/employees/8", ok)[0] == 404
        assert _get(sim.port, "/hibob/v1/people/9", {"Authorization": basic("svc:tok")}) == \
            (200, {"id": "9", "email": "h@b.c", "work": {"title": "X"}})
        assert _get(sim.port, "/hibob/v1/people/9", {})[0] == 401
        assert _get(sim.port, "/gusto/v1/employees/u", {"Authorization": "Bearer gt"})[1][
            "work_email"] == "g@b.c"
        assert _get(sim.port, "/gusto/v1/employees/u", {"Authorization": "Bearer gx"})[0] == 401
        log = sim.calls()
        assert [r["status"] for r in log] == [200, 200, 401, 404, 200, 401, 200, 401], log
        assert sim.url("gusto") == "http://127.0.0.1:%d/gusto" % sim.port
    finally:
        sim.stop()
    print("hrsim: self-test ok")


if __name__ == "__main__":
    _selftest()
    sys.exit(0)
