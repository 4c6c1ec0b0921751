#!/usr/bin/env python3
"""End-to-end tests of weir's admin API and SIGHUP reload: the real `weir run` and the real
build/graphsim on loopback ports. /metrics is checked line by line against the Prometheus
text format (0.0.4).

usage: test_admin.py WEIR_BINARY GRAPHSIM_BINARY SOURCE_DIR
"""
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

TOKEN = "s3cr3t-admin-token-4f9a"

OK = """
name: retitle
trigger:
  webhook: { path: /hooks/hr }
steps:
  - id: patch
    action: update-user
    user: alex.wilber@contoso.onmicrosoft.com
    set: { jobTitle: "{{ event.title }}" }
"""

FAILS = """
name: broken
trigger:
  webhook: { path: /hooks/fail }
steps:
  - action: set-manager
    user: adele.vance@contoso.onmicrosoft.com
    manager: nobody.here@contoso.onmicrosoft.com
"""

WAITS = """
name: later
trigger:
  webhook: { path: /hooks/wait }
steps:
  - wait: 1h
  - action: disable-user
    user: miriam.graham@contoso.onmicrosoft.com
"""

NEW = """
name: newcomer
trigger:
  webhook: { path: /hooks/new }
steps:
  - action: update-user
    user: alex.wilber@contoso.onmicrosoft.com
    set: { officeLocation: "reloaded" }
"""


def setup_root(sim, workflows, admin="127.0.0.1:0", token=False):
    return harness.setup_root(sim, workflows, prefix="weir-admin-", admin=admin,
                              admin_token="env:WEIR_ADMIN_TOKEN" if token else None)


# {====== the Prometheus text format, strictly ======

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
FLOAT = r"[+-]?(?:Inf|NaN|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
HELP_RE = re.compile(r"^# HELP (%s) (?:[^\\\n]|\\[\\n])*$" % NAME)
TYPE_RE = re.compile(r"^# TYPE (%s) (counter|gauge|histogram|summary|untyped)$" % NAME)
SAMPLE_RE = re.compile(r"^(%s)(?:\{((?:%s)(?:,%s)*)?,?\})? (%s)(?: -?\d+)?$"
                       % (NAME, LABEL, LABEL, FLOAT))
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')


def parse_prometheus(text):
    """Checks text line by line; returns {family: (type, [(name, labels, value)])}."""
    assert text.endswith("\n"), "the exposition must end with a newline"
    types, samples, helps = {}, {}, set()
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = "line %d: %r" % (n, line)
        if line.startswith("# HELP "):
            m = HELP_RE.match(line)
            assert m, where
            assert m.group(1) not in helps, "second HELP, " + where
            helps.add(m.group(1))
        elif line.startswith("# TYPE "):
            m = TYPE_RE.match(line)
            assert m, where
            fam = m.group(1)
            assert fam not in types, "second TYPE, " + where
            assert fam not in samples, "TYPE after samples, " + where
            types[fam] = m.group(2)
            samples[fam] = []
        elif line.startswith("#"):
            continue
        else:
            m = SAMPLE_RE.match(line)
            assert m, "not a sample, " + where
            name, labels, value = m.group(1), m.group(2) or "", m.group(3)
            fam = name
            for suffix in ("_bucket", "_sum", "_count"):
                base = name[:-len(suffix)]
                if name.endswith(suffix) and types.get(base) == "histogram":
                    fam = base
            assert fam in types, "sample without a TYPE line, " + where
            if types[fam] == "counter":
                assert name.endswith("_total"), "counter not ending in _total, " + where
            v = float(value.replace("Inf", "inf"))
            if types[fam] == "counter":
                assert v >= 0 and not math.isnan(v), where
            lab = dict(LABEL_RE.findall(labels))
            assert len(lab) == labels.count('="'), "label repeated, " + where
            samples[fam].append((name, lab, v))
    for fam, typ in types.items():
        if typ != "histogram":
            continue
        series = {}
        for name, lab, v in samples[fam]:
            key = tuple(sorted((k, x) for k, x in lab.items() if k != "le"))
            series.setdefault(key, {"buckets": [], "count": None, "sum": None})
            if name.endswith("_bucket"):
                assert "le" in lab, "bucket without le: %s %s" % (fam, lab)
                series[key]["buckets"].append((float(lab["le"].replace("Inf", "inf")), v))
            elif name.endswith("_count"):
                series[key]["count"] = v
            else:
                series[key]["sum"] = v
        for key, s in series.items():
            b = s["buckets"]
            assert b, "histogram series without buckets: %s %s" % (fam, key)
            assert b == sorted(b, key=lambda x: x[0]), "buckets not in le order: %s" % fam
            assert all(x[1] <= y[1] for x, y in zip(b, b[1:])), "buckets not cumulative: %s" % fam
            assert b[-1][0] == math.inf, "last bucket is not le=\"+Inf\": %s" % fam
            assert s["count"] is not None and b[-1][1] == s["count"], "+Inf bucket != _count"
            assert s["sum"] is not None, "histogram without _sum: %s" % fam
    return {f: (types[f], samples[f]) for f in types}


def value(families, fam, **labels):
    for name, lab, v in families.get(fam, (None, []))[1]:
        if name in (fam, fam + "_count") and all(lab.get(k) == x for k, x in labels.items()):
            return v
    return None

# }======


class AdminTest(unittest.TestCase):
    def setUp(self):
        self.sim = harness.Sim()
        self.root = None
        self.w = None

    def tearDown(self):
        if self.w and self.w.proc.poll() is None:
            self.assertEqual(self.w.stop(), 0)
        self.sim.stop()
        if self.root:
            shutil.rmtree(self.root)

    def start(self, workflows, **kw):
        self.root = setup_root(self.sim, workflows, **kw)
        self.w = harness.Weir(self.root, ["--log-level", "debug"], admin=True, json_only=True,
                              env=dict(harness.GRAPH_ENV, WEIR_ADMIN_TOKEN=TOKEN))
        return self.w

    def test_probes_metrics_and_runs_api(self):
        w = self.start({"ok.yaml": OK, "fails.yaml": FAILS, "waits.yaml": WAITS})
        status, body = w.post("/hooks/hr", {"title": "Admin Tested"})
        self.assertEqual(status, 202, body)
        ok_run = harness.wait_runs(self.root,
                                   "workflow = 'retitle' AND status = 'succeeded'")[0][0]
        self.assertEqual(w.post("/hooks/fail", {})[0], 202)
        failed = harness.wait_runs(self.root, "workflow = 'broken' AND status = 'failed'")[0][0]
        self.assertEqual(w.post("/hooks/wait", {})[0], 202)
        waiting = harness.wait_runs(self.root, "workflow = 'later' AND status = 'waiting'")[0][0]
        self.assertEqual(w.post("/hooks/hr", {"title": "Second"})[0], 202)  # a second ok run
        harness.wait_runs(self.root,
                          "workflow = 'retitle' AND id <> '%s' AND status = 'succeeded'" % ok_run)

        status, headers, text = w.call("GET", "/healthz")
        self.assertEqual((status, text.strip()), (200, "ok"))
        status, body = w.api("GET", "/readyz")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["checks"]["journal"], "ok")
        self.assertEqual(body["checks"]["workflows"], "ok")

        status, headers, text = w.call("GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/plain; version=0.0.4"))
        fams = parse_prometheus(text)
        for fam, typ in (("weir_events_received_total", "counter"), ("weir_runs", "gauge"),
                         ("weir_step_duration_seconds", "histogram"),
                         ("weir_graph_requests_total", "counter"),
                         ("weir_graph_batches_total", "counter"),
                         ("weir_graph_retries_total", "counter"),
                         ("weir_graph_throttled_total", "counter"),
                         ("weir_graph_retry_after_wait_seconds_total", "counter"),
                         ("weir_journal_commits_total", "counter"),
                         ("weir_journal_batches_total", "counter"),
                         ("weir_journal_max_group_batches", "gauge")):
            self.assertEqual(fams.get(fam, (None,))[0], typ, fam)
        self.assertEqual(value(fams, "weir_events_received_total", trigger="webhook",
                               outcome="accepted"), 4)
        self.assertEqual(value(fams, "weir_runs", workflow="retitle", status="succeeded"), 2)
        self.assertEqual(value(fams, "weir_runs", workflow="broken", status="failed"), 1)
        self.assertEqual(value(fams, "weir_runs", workflow="later", status="waiting"), 1)
        self.assertEqual(value(fams, "weir_step_duration_seconds", workflow="retitle",
                               action="update-user"), 2)
        self.assertGreater(value(fams, "weir_graph_requests_total"), 0)
        self.assertGreater(value(fams, "weir_journal_commits_total"), 0)

        # the run list and filters
        status, page = w.api("GET", "/api/runs")
        self.assertEqual(status, 200)
        runs = page["runs"]
        self.assertEqual(len(runs), 4)
        self.assertEqual((page["limit"], page["max_limit"], page["next_cursor"]), (20, 200, None))
        self.assertIn(ok_run, [r["id"] for r in runs])
        status, page = w.api("GET", "/api/runs?workflow=retitle&status=succeeded&since=1h&limit=1")
        runs = page["runs"]
        self.assertEqual((status, len(runs), runs[0]["workflow"]), (200, 1, "retitle"))
        # the other retitle run is on the next page, and that page is the last
        status, page2 = w.api("GET", "/api/runs?workflow=retitle&status=succeeded&since=1h&limit=1"
                                     "&cursor=" + page["next_cursor"])
        self.assertEqual(status, 200, page2)
        self.assertEqual(len(page2["runs"]), 1)
        self.assertNotEqual(page2["runs"][0]["id"], runs[0]["id"])
        self.assertIsNone(page2["next_cursor"])
        self.assertEqual(w.api("GET", "/api/runs?status=done")[0], 400)
        self.assertEqual(w.api("GET", "/api/runs?limit=0")[0], 400)
        self.assertEqual(w.api("GET", "/api/runs?since=soon")[0], 400)
        self.assertEqual(w.api("GET", "/api/runs?colour=red")[0], 400)

        status, run = w.api("GET", "/api/runs/" + ok_run)
        self.assertEqual(status, 200, run)
        self.assertEqual(run["id"], ok_run)
        self.assertEqual([s["status"] for s in run["steps"]], ["succeeded"])
        self.assertEqual(run["steps"][0]["step_id"], "patch")
        status, body = w.api("GET", "/api/runs/run_doesnotexist")
        self.assertEqual(status, 404)
        self.assertIn("error", body)

        # cancel and retry where allowed, 409 otherwise
        status, body = w.api("POST", "/api/runs/%s/cancel" % ok_run)
        self.assertEqual(status, 409, body)
        self.assertIn("error", body)
        status, body = w.api("POST", "/api/runs/%s/retry" % waiting)
        self.assertEqual(status, 409, body)
        status, body = w.api("POST", "/api/runs/%s/cancel" % waiting)
        self.assertEqual((status, body["status"]), (200, "cancelled"), body)
        self.assertEqual(w.api("POST", "/api/runs/%s/cancel" % waiting)[0], 409)
        status, body = w.api("POST", "/api/runs/%s/retry" % failed)
        self.assertEqual((status, body["status"]), (200, "queued"), body)
        # the executor takes it up again (and it fails again: the manager still does not exist)
        deadline = time.time() + 20
        while time.time() < deadline:
            if w.api("GET", "/api/runs/" + failed)[1]["status"] == "failed":
                break
            time.sleep(0.05)
        self.assertEqual(w.api("GET", "/api/runs/" + failed)[1]["status"], "failed")

        # unknown paths and wrong methods
        self.assertEqual(w.api("GET", "/nothing")[0], 404)
        self.assertEqual(w.api("GET", "/api/runs/%s/explode" % ok_run)[0], 404)
        self.assertEqual(w.api("POST", "/metrics")[0], 405)
        self.assertEqual(w.api("DELETE", "/api/runs")[0], 405)
        self.assertEqual(w.api("GET", "/api/runs/%s/retry" % failed)[0], 405)
        self.assertEqual(w.api("POST", "/healthz")[0], 405)

        # one log line per step attempt and per success, with run, workflow and step
        w.wait_log(r'msg="step attempt started" run=%s workflow=retitle step=patch' % ok_run)
        w.wait_log(r'msg="step succeeded" run=%s workflow=retitle step=patch' % ok_run)

    def test_token(self):
        w = self.start({"ok.yaml": OK}, token=True)
        self.assertEqual(w.post("/hooks/hr", {"title": "T"})[0], 202)
        run = harness.wait_runs(self.root, "status = 'succeeded'")[0][0]
        seen = []
        for method, path in (("GET", "/metrics"), ("GET", "/api/runs"),
                             ("GET", "/api/runs/" + run), ("POST", "/api/runs/%s/retry" % run),
                             ("POST", "/api/runs/%s/cancel" % run)):
            for token in (None, "wrong", TOKEN[:-1], TOKEN + "x"):
                status, headers, text = w.call(method, path, token)
                self.assertEqual(status, 401, (method, path, token, text))
                self.assertIn("error", json.loads(text))
                seen.append(json.dumps(headers) + text)
            status, headers, text = w.call(method, path, TOKEN)
            self.assertIn(status, (200, 409), (method, path, text))
            seen.append(json.dumps(headers) + text)
        # probes stay open
        self.assertEqual(w.call("GET", "/healthz")[0], 200)
        self.assertEqual(w.call("GET", "/readyz")[0], 200)
        self.assertEqual(w.stop(), 0)
        for text in seen:
            self.assertNotIn(TOKEN, text)
        with open(w.log_path) as f:
            self.assertNotIn(TOKEN, f.read())

    def test_non_loopback_without_token_does_not_start(self):
        self.root = setup_root(self.sim, {"ok.yaml": OK}, admin="0.0.0.0:0")
        out = subprocess.run([harness.WEIR, "run", "-c", "weir.yaml"], cwd=self.root,
                             timeout=30, capture_output=True, text=True,
                             env=dict(os.environ, **harness.GRAPH_ENV))
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("admin.token", out.stderr)

    def test_sighup_reload(self):
        w = self.start({"ok.yaml": OK})
        bad = os.path.join(self.root, "workflows", "new.yaml")
        with open(bad, "w") as f:
            f.write(NEW.replace("steps:", "stepz:"))
        mark = w.mark()
        w.proc.send_signal(signal.SIGHUP)
        w.wait_log(r"level=error .*new\.yaml", start=mark)
        w.wait_log(r'msg="workflows not reloaded', start=mark)
        # the old set still serves
        status, body = w.post("/hooks/hr", {"title": "still here"})
        self.assertEqual(status, 202, body)
        self.assertEqual(body["runs"], 1)
        self.assertEqual(w.post("/hooks/new", {})[0], 404)
        harness.wait_runs(self.root, "workflow = 'retitle' AND status = 'succeeded'")

        with open(bad, "w") as f:
            f.write(NEW)
        mark = w.mark()
        w.proc.send_signal(signal.SIGHUP)
        w.wait_log(r'msg="workflows reloaded" workflows=2', start=mark)
        status, body = w.post("/hooks/new", {})
        self.assertEqual((status, body.get("runs")), (202, 1), body)
        harness.wait_runs(self.root, "workflow = 'newcomer' AND status = 'succeeded'")
        self.assertEqual(self.sim.user("alex.wilber@contoso.onmicrosoft.com")["officeLocation"],
                         "reloaded")
        self.assertEqual(w.post("/hooks/hr", {"title": "after"})[0], 202)
        self.assertEqual(len(harness.runs(self.root, "workflow = 'retitle'")), 2)
        status, body = w.api("GET", "/readyz")
        self.assertEqual(status, 200, body)

    def test_reload_during_a_run(self):
        # Graph answers slowly, so the run is in the middle of its steps when SIGHUP comes.
        self.sim.stop()
        self.sim = harness.Sim("--latency-ms", "300")
        two = OK + """  - id: second
    action: update-user
    user: alex.wilber@contoso.onmicrosoft.com
    set: { officeLocation: "version 1" }
"""
        w = self.start({"ok.yaml": two})
        mark = w.mark()
        self.assertEqual(w.post("/hooks/hr", {"title": "during reload"})[0], 202)
        w.wait_log(r'msg="step attempt started" .*step=patch', start=mark)
        with open(os.path.join(self.root, "workflows", "ok.yaml"), "w") as f:
            f.write(two.replace("version 1", "version 2"))
        w.proc.send_signal(signal.SIGHUP)
        w.wait_log(r'msg="workflows reloaded" workflows=1', start=mark)
        rs = harness.wait_runs(self.root, "status = 'succeeded'")
        self.assertEqual(len(rs), 1)
        # the run finished on the version it started with; the old set was freed after it
        self.assertEqual(self.sim.user("alex.wilber@contoso.onmicrosoft.com")["officeLocation"],
                         "version 1")
        w.wait_log(r'msg="previous workflow set freed"', start=mark)
        # new runs use the new version
        self.assertEqual(w.post("/hooks/hr", {"title": "after reload"})[0], 202)
        harness.wait_runs(self.root, "status = 'succeeded' AND id <> '%s'" % rs[0][0])
        self.assertEqual(self.sim.user("alex.wilber@contoso.onmicrosoft.com")["officeLocation"],
                         "version 2")


if __name__ == "__main__":
    harness.main("WEIR", "GRAPHSIM", "SOURCE")
