#!/usr/bin/env python3
"""Secret-leak test: a run that fails while using every kind of secret weir holds, then a grep
of everything weir shows for the secret values: its log, `weir runs`, `weir show`, the admin
API, a dry run's plan and the journal's run and step records. The secrets: the Graph client
secret (env:), the webhook secret (env:), the admin token (file:), the Graph access token
graphsim issued, and an environment value a template copies into a URL, a header, a body and
a Graph property.

usage: test_secrets.py WEIR_BINARY GRAPHSIM_BINARY SOURCE_DIR
"""
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

ALERT_TOKEN = "xoxb-alert-token-7c1e9f"
ADMIN_TOKEN = "admin-file-token-55d2a0"

WORKFLOW = """
name: leaky
trigger:
  webhook: { path: /hooks/hr, secret: env:HR_WEBHOOK_SECRET }
steps:
  - id: notify
    action: http-request
    method: POST
    url: "http://127.0.0.1:%(dead)d/hook?token={{ env.ALERT_TOKEN }}"
    headers: { Authorization: "Bearer {{ env.ALERT_TOKEN }}" }
    body: { text: "token is {{ env.ALERT_TOKEN }}" }
    continue_on_error: true
  - id: profile
    action: update-user
    user: nobody.here@contoso.onmicrosoft.com
    set: { jobTitle: "{{ env.ALERT_TOKEN }}" }
retry: { attempts: 1 }
on_error:
  - action: http-request
    url: "http://127.0.0.1:%(dead)d/alert/{{ env.ALERT_TOKEN }}"
"""


class SecretLeakTest(unittest.TestCase):
    def test_no_secret_value_leaves_weir(self):
        sim = harness.Sim()
        dead = harness.free_port()  # nothing listens there: the http-request steps fail
        root = harness.setup_root(sim, {"leaky.yaml": WORKFLOW % {"dead": dead}},
                                  prefix="weir-secrets-", admin="127.0.0.1:0",
                                  allow=["127.0.0.1/32"], env_allow=["ALERT_TOKEN"],
                                  admin_token="file:admin.token")
        with open(os.path.join(root, "admin.token"), "w") as f:
            f.write(ADMIN_TOKEN + "\n")
        os.chmod(os.path.join(root, "admin.token"), 0o600)
        os.environ["ALERT_TOKEN"] = ALERT_TOKEN
        w = harness.Weir(root, env=harness.SIGNED_ENV, admin=True, json_only=True)
        try:
            status, _ = w.signed_post({"type": "employee.hired", "n": 1})
            self.assertEqual(status, 202)
            rows = harness.wait_final(root, 1)
            run_id, run_status = rows[0][0], rows[0][2]
            self.assertEqual(run_status, "failed")

            outputs = {}
            cli = lambda *a: subprocess.run([harness.WEIR] + list(a), cwd=root,
                                            capture_output=True, text=True, timeout=30)
            r = cli("show", run_id)
            outputs["weir show"] = r.stdout + r.stderr
            r = cli("show", run_id, "--json")
            outputs["weir show --json"] = r.stdout + r.stderr
            r = cli("runs")
            outputs["weir runs"] = r.stdout + r.stderr
            ev = os.path.join(root, "event.json")
            with open(ev, "w") as f:
                json.dump({"type": "employee.hired"}, f)
            r = cli("fire", "leaky", "--event", ev, "--dry-run")
            outputs["weir fire --dry-run"] = r.stdout + r.stderr
            for path in ("/api/runs", "/api/runs/" + run_id):
                status, _, outputs["GET " + path] = w.call("GET", path, ADMIN_TOKEN)
                self.assertEqual(status, 200, outputs["GET " + path])
            db = harness.journal(root)
            outputs["journal runs/steps"] = json.dumps(
                db.execute("SELECT * FROM runs").fetchall() +
                db.execute("SELECT * FROM steps").fetchall())
            db.close()
        finally:
            w.stop()
            sim.stop()
        with open(w.log_path) as f:
            outputs["weir log"] = f.read()

        # The run really used the secrets: the step records show the masks where they were.
        show = outputs["weir show --json"] + outputs["weir show"]
        self.assertIn("[redacted]", outputs["journal runs/steps"])
        self.assertIn("[redacted]", show)
        # ... and the failures still say what went wrong.
        self.assertRegex(show, r"(?i)connect|refused")
        secrets = {"Graph client secret": harness.SIM_SECRET,
                   "webhook secret": harness.HR_SECRET,
                   "webhook key": harness.HR_SECRET[len("whsec_"):],
                   "admin token": ADMIN_TOKEN,
                   "env value copied by templates": ALERT_TOKEN}
        for where, text in outputs.items():
            for what, value in secrets.items():
                self.assertNotIn(value, text, "%s leaks the %s" % (where, what))


if __name__ == "__main__":
    harness.main("WEIR", "GRAPHSIM", "SOURCE")
