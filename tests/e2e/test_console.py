#!/usr/bin/env python3
"""End-to-end tests of the web console (issue 20) in a real browser: headless Chromium driven
by Selenium (Debian's chromium, chromium-driver and python3-selenium; run with
/usr/bin/python3) against the real `weir run` and the real build/graphsim, all on 127.0.0.1.

What a user does and sees, each judged by what weir and graphsim then hold:
- the runs page lists runs newest first; the status select narrows it to the failed ones
  (graphsim answered 503 while a fault was set) and the failed chip counts them; the run page
  shows Graph's status, code and message; with the fault cleared, Retry makes the run succeed
  (the page follows it by itself) and graphsim has the change;
- filters (text, trigger kind, time range) and paging through next_before, the filter in the
  URL, auto-refresh that keeps the filter and the input being typed in;
- a waiting run (a 1h wait step) is cancelled from its page after a confirmation;
- an HR payload and a Graph displayName of `<img src=x onerror=...>` and a `<script>` variant
  show as literal text on the runs list and the run page; the marker they would set stays
  unset, no alert opens, no element comes from them and no CSP violation is reported;
- a POST from the page without X-CSRF-Token is refused (403) and the same with it works;
- held runs (a workflow's own guard) are released and rejected, approvals approved and
  rejected, from the pages;
- the workflows and health pages show what /api/workflows and /api/health say, and the
  workflows page previews a user-date trigger's scope (a payload display name as text);
- with admin.token set: the login form, a wrong token refused, the right one signs in, the
  session cookie is HttpOnly (document.cookie cannot see it) and SameSite=Strict; sign-out.

Screenshots of each page go to $WEIR_ARTIFACTS/console/ (default: artifacts/console/ beside
the weir binary, i.e. build/artifacts/console/).

usage: test_console.py WEIR_BINARY GRAPHSIM_BINARY SOURCE_DIR
"""
import http.client
import json
import os
import shutil
import sys
import tempfile
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

try:
    from selenium import webdriver
    from selenium.common.exceptions import (NoAlertPresentException,
                                            StaleElementReferenceException,
                                            TimeoutException, WebDriverException)
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError as e:  # a missing package is a failure, not a skip: scripts/deps installs it
    sys.exit("test_console.py needs python3-selenium (Debian) under /usr/bin/python3: %s" % e)

DOMAIN = "@contoso.onmicrosoft.com"
ALEX = "alex.wilber" + DOMAIN
ADELE = "adele.vance" + DOMAIN
MEGAN = "megan.bowen" + DOMAIN
CHROMIUM = os.environ.get("WEIR_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("WEIR_CHROMEDRIVER", "/usr/bin/chromedriver")
WAIT = 60          # seconds for anything the page has to show (a slow, shared machine)
TOKEN = "console-admin-token-7d1e5c"

# The payloads: each would set window.__xss if it ever became markup or ran.
IMG = '<img src=x onerror="window.__xss=1">'
SCRIPT = '<script>window.__xss=2</script>'
SVG = '"><svg onload="window.__xss=3">'


def synth(i):
    return "synth%06d%s" % (i, DOMAIN)


def workflows(sink_port):
    return {
        "retitle.yaml": """
name: retitle
trigger:
  webhook: { path: /hooks/hr }
retry: { attempts: 1 }
steps:
  - id: patch
    action: update-user
    user: "{{ event.user }}"
    set: { jobTitle: "{{ event.title }}" }
""",
        "pager.yaml": """
name: pager
trigger:
  webhook: { path: /hooks/page }
steps:
  - id: patch
    action: update-user
    user: "{{ event.user }}"
    set: { officeLocation: "{{ event.n }}" }
""",
        "later.yaml": """
name: later
trigger:
  webhook: { path: /hooks/wait }
steps:
  - id: pause
    wait: 1h
  - id: disable
    action: disable-user
    user: "{{ event.user }}"
""",
        "rename.yaml": """
name: rename
trigger:
  webhook: { path: /hooks/rename }
steps:
  - id: rename
    action: update-user
    user: adele.vance@contoso.onmicrosoft.com
    set: { displayName: "Adele Vance" }
""",
        "leaver.yaml": """
name: leaver
trigger:
  webhook: { path: /hooks/leave }
guard: { destructive: { max: 1 } }
steps:
  - id: disable
    action: disable-user
    user: "{{ event.user }}"
""",
        "gated.yaml": """
name: gated
trigger:
  webhook: { path: /hooks/gate }
steps:
  - id: ask
    approval:
      approvers: [it-lead@contoso.com]
      message: "Retitle {{ event.user }}?"
      timeout: 1h
      notify:
        - action: http-request
          method: POST
          url: "http://127.0.0.1:%d/approval"
          body: { url: "{{ approval.url }}" }
  - id: after
    action: update-user
    user: "{{ event.user }}"
    set: { jobTitle: "{{ event.title }}" }
""" % sink_port,
        "nightly.yaml": """
name: nightly
trigger:
  schedule: { cron: "0 6 * * *" }
steps:
  - id: touch
    action: update-user
    user: megan.bowen@contoso.onmicrosoft.com
    set: { officeLocation: "nightly" }
""",
        # graphsim's hire dates are all years ago: nothing is due until a test sets one
        "hires.yaml": """
name: hires
trigger:
  user-date: { attribute: employeeHireDate, offset: -7d, at: "09:00", zone: Europe/Berlin }
steps:
  - wait: 1s
""",
    }


# {====== the browser ======

def artifacts_dir():
    base = os.environ.get("WEIR_ARTIFACTS") or os.path.join(os.path.dirname(harness.WEIR),
                                                            "artifacts")
    path = os.path.join(base, "console")
    os.makedirs(path, exist_ok=True)
    return path


class Browser:
    """Headless Chromium through chromedriver, with its own temporary profile, at 1280x900."""

    def __init__(self):
        for path in (CHROMIUM, CHROMEDRIVER):
            if not os.access(path, os.X_OK):
                raise AssertionError("%s is missing: install chromium and chromium-driver "
                                     "(scripts/deps)" % path)
        self.profile = tempfile.mkdtemp(prefix="weir-console-chromium-")
        o = webdriver.ChromeOptions()
        o.binary_location = CHROMIUM
        args = ["--headless=new", "--disable-gpu", "--disable-dev-shm-usage",
                "--user-data-dir=" + self.profile, "--window-size=1280,900",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-default-apps", "--metrics-recording-only",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--lang=en-US"]
        if os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses its sandbox as root
        for a in args:
            o.add_argument(a)
        o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        # an alert must stay open for the test to see it, not be dismissed by the driver
        o.set_capability("unhandledPromptBehavior", "ignore")
        self.log_path = os.path.join(self.profile, "chromedriver.log")
        service = Service(executable_path=CHROMEDRIVER, log_path=self.log_path)
        try:
            self.d = webdriver.Chrome(service=service, options=o)
        except WebDriverException:
            shutil.rmtree(self.profile, ignore_errors=True)
            raise
        self.d.set_page_load_timeout(WAIT)
        self.d.set_script_timeout(30)
        self.base = None

    def quit(self):
        try:
            self.d.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    def open(self, port, hash_="#/runs"):
        """Loads /ui/ afresh (a full page load) at hash_."""
        self.base = "http://127.0.0.1:%d" % port
        self.d.get("about:blank")
        self.d.get(self.base + "/ui/" + hash_)

    def go(self, hash_):
        """Moves within the loaded console (a hash change, as a link would)."""
        self.d.execute_script("location.hash = arguments[0]", hash_)

    def until(self, what, cond, timeout=WAIT):
        """cond(driver) once true (stale elements retried); fails naming what."""
        def safe(d):
            try:
                return cond(d)
            except StaleElementReferenceException:
                return False
        try:
            return WebDriverWait(self.d, timeout, poll_frequency=0.2).until(safe)
        except TimeoutException:
            raise AssertionError("timed out after %ds waiting for %s; page: %s\n%s" % (
                timeout, what, self.d.current_url, self.text("body")[:3000]))

    def find(self, css):
        return self.d.find_element(By.CSS_SELECTOR, css)

    def finds(self, css):
        return self.d.find_elements(By.CSS_SELECTOR, css)

    def text(self, css):
        """textContent (visible or not) of the first match, '' when none."""
        els = self.finds(css)
        return els[0].get_attribute("textContent") if els else ""

    def ready(self, page_id, after=0):
        """The page element once it says data-state=ready (loaded after `after`, ms)."""
        def cond(d):
            els = d.find_elements(By.CSS_SELECTOR, "#%s[data-state='ready']" % page_id)
            if els and int(els[0].get_attribute("data-loaded-at") or 0) > after:
                return els[0]
            return False
        return self.until(page_id + " ready", cond)

    def js(self, script, *args):
        return self.d.execute_script(script, *args)

    def fetch(self, method, path, csrf=None, body=None):
        """A fetch() from the page (credentials included): [status, text]."""
        return self.d.execute_async_script("""
            const [method, path, csrf, body, done] = arguments;
            const h = {};
            if (csrf !== null) { h['X-CSRF-Token'] = csrf; }
            if (body !== null) { h['Content-Type'] = 'application/json'; }
            fetch(path, {method: method, credentials: 'include', headers: h,
                         body: body === null ? undefined : JSON.stringify(body)})
              .then(async (r) => done([r.status, await r.text()]))
              .catch((e) => done(['error', String(e)]));
        """, method, path, csrf, body)

    def no_alert(self):
        try:
            a = self.d.switch_to.alert
            text = a.text
            a.dismiss()
            raise AssertionError("an alert is open: %r" % text)
        except NoAlertPresentException:
            return True

    def logs(self):
        try:
            return self.d.get_log("browser")
        except WebDriverException:
            return []

    def shot(self, name):
        """A screenshot of the whole page (up to 4000 px high) as NAME.png."""
        path = os.path.join(artifacts_dir(), name + ".png")
        size = self.d.get_window_size()
        try:
            # the lowest edge of anything on the page (scrollHeight can stop at the viewport)
            h = self.js("let h = Math.max(document.documentElement.scrollHeight, "
                        "document.body.scrollHeight); for (const e of document.body"
                        ".querySelectorAll('*')) { h = Math.max(h, e.getBoundingClientRect()"
                        ".bottom + window.scrollY); } return Math.ceil(h);") or size["height"]
            # the window's size includes the browser's own frame (outer minus inner height)
            frame = self.js("return Math.max(0, window.outerHeight - window.innerHeight)") or 0
            want = max(400, min(int(h), 4000))
            self.d.set_window_size(size["width"], want + int(frame))
            # the resize lands asynchronously: wait (briefly) until the page has the height
            end = time.time() + 3
            while time.time() < end and self.js("return window.innerHeight") < want - 2:
                time.sleep(0.05)
            self.d.save_screenshot(path)
        finally:
            self.d.set_window_size(size["width"], size["height"])
        return path

    def confirm(self):
        """Accepts the console's confirmation dialog."""
        self.until("the confirmation dialog", lambda d: self.js(
            "return document.getElementById('confirm').open"))
        self.find("#confirm-ok").click()
        self.until("the dialog to close", lambda d: not self.js(
            "return document.getElementById('confirm').open"))

# }======


def api(port, method, path, body=None, headers=None):
    """(status, parsed JSON or text) of an admin request (no cookie, no Origin: the CLI's way)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        h = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body)
            h["Content-Type"] = "application/json"
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        text = r.read().decode(errors="replace")
    finally:
        c.close()
    try:
        return r.status, json.loads(text)
    except ValueError:
        return r.status, text


def wait_status(port, run_id, statuses, timeout=WAIT):
    """The run (GET /api/runs/ID) once its status is one of statuses."""
    last = None
    deadline = time.time() + timeout
    while time.time() < deadline:
        st, run = api(port, "GET", "/api/runs/" + run_id)
        if st == 200:
            last = run
            if run.get("status") in statuses:
                return run
        time.sleep(0.2)
    raise AssertionError("run %s not %s in %ds: %s" % (run_id, statuses, timeout,
                                                        json.dumps(last)[:2000]))


def run_of_event(port, event_id, workflow, timeout=WAIT):
    """The id of the run the event made (looked up with q=event id)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        st, data = api(port, "GET", "/api/runs?" + urllib.parse.urlencode(
            {"workflow": workflow, "q": event_id}))
        if st == 200:
            for r in data.get("runs", []):
                if r.get("event_id") == event_id:
                    return r["id"]
        time.sleep(0.2)
    raise AssertionError("no %s run for event %s" % (workflow, event_id))


def check_page_errors(test, browser):
    """Fails test on a script error or a CSP violation the page logged (network answers such
    as the 403s and 401s the cases provoke are not script errors)."""
    bad = [e["message"] for e in browser.logs() if e.get("level") == "SEVERE" and (
        "Uncaught" in e.get("message", "") or "Content Security Policy" in e.get("message", ""))]
    test.assertEqual(bad, [], "the page logged errors")


class ConsoleTest(unittest.TestCase):
    """One weir (admin API open on loopback), one graphsim, one browser for all the cases."""

    @classmethod
    def setUpClass(cls):
        cls.sink = harness.Sink()
        cls.sim = harness.Sim("--generate-users", "8")
        cls.root = harness.setup_root(cls.sim, workflows(cls.sink.port), prefix="weir-console-",
                                      admin="127.0.0.1:0", allow=["127.0.0.1/32"])
        # approval links need a public_url: the webhook listener on a port fixed now
        cls.hook_port = harness.free_port()
        path = os.path.join(cls.root, "weir.yaml")
        with open(path) as f:
            text = f.read()
        fixed = text.replace("webhook: 127.0.0.1:0", "webhook: 127.0.0.1:%d" % cls.hook_port, 1)
        assert fixed != text, text
        with open(path, "w") as f:
            f.write(fixed + "approvals:\n  public_url: \"http://127.0.0.1:%d\"\n"
                    % cls.hook_port)
        cls.w = harness.Weir(cls.root, env=harness.SIGNED_ENV, admin=True)
        cls.port = cls.w.admin
        try:
            cls.b = Browser()
        except BaseException:
            cls.w.stop()
            cls.sim.stop()
            cls.sink.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.b.quit()
        finally:
            try:
                cls.w.stop()
            finally:
                cls.sim.stop()
                cls.sink.stop()
                if os.environ.get("KEEP"):
                    print("kept", cls.root)
                else:
                    shutil.rmtree(cls.root, ignore_errors=True)

    def setUp(self):
        self.b.d.delete_all_cookies()
        self.b.logs()  # drops what earlier cases left

    def tearDown(self):
        check_page_errors(self, self.b)

    def fire(self, path, body, workflow):
        """Posts body to the webhook path; the id of the run it made."""
        status, ans = self.w.signed_post(body, path=path)
        self.assertEqual(status, 202, ans)
        return run_of_event(self.port, ans["event_id"], workflow)

    def check_no_xss(self):
        self.b.no_alert()
        self.assertIsNone(self.b.js("return window.__xss"), "a payload ran")
        # no element made from data: the console's own markup has no img, svg or extra script
        self.assertEqual(self.b.js("return document.querySelectorAll('img, svg, iframe, "
                                   "object, embed').length"), 0)
        self.assertEqual(self.b.js("return Array.from(document.scripts).map(s => "
                                   "s.getAttribute('src'))"), ["console.js"])

    # {====== failed run, Graph's error, retry ======

    def test_a_failed_run_read_and_retried(self):
        b = self.b
        ok_run = self.fire("/hooks/hr", {"user": ALEX, "title": "Before the fault"}, "retitle")
        wait_status(self.port, ok_run, ["succeeded"])
        self.sim.post("/_sim/faults", {"fail_every": 1})
        try:
            failed = self.fire("/hooks/hr", {"user": ALEX, "title": "Head of Retries"},
                               "retitle")
            run = wait_status(self.port, failed, ["failed", "succeeded"])
            self.assertEqual(run["status"], "failed", run)
        except BaseException:
            self.sim.post("/_sim/faults", {"fail_every": 0})
            raise

        # the runs page: newest first, both statuses there
        b.open(self.port, "#/runs")
        b.ready("runs-page")
        b.until("both runs listed", lambda d: b.finds("tr.run-row[data-run-id='%s']" % failed)
                and b.finds("tr.run-row[data-run-id='%s']" % ok_run))
        ids = [r.get_attribute("data-run-id") for r in b.finds("tr.run-row")]
        self.assertLess(ids.index(failed), ids.index(ok_run), "not newest first: %s" % ids)
        self.assertIn("succeeded", [r.get_attribute("data-status") for r in b.finds("tr.run-row")])
        b.shot("runs")

        # filter to failed with the status select
        loaded = int(b.find("#runs-page").get_attribute("data-loaded-at"))
        Select(b.find("#f-status")).select_by_value("failed")
        b.until("status=failed in the URL", lambda d: "status=failed" in d.current_url)
        b.ready("runs-page", loaded)
        rows = b.finds("tr.run-row")
        self.assertTrue(rows)
        self.assertEqual({r.get_attribute("data-status") for r in rows}, {"failed"})
        self.assertTrue(b.finds("tr.run-row[data-run-id='%s']" % failed))
        self.assertFalse(b.finds("tr.run-row[data-run-id='%s']" % ok_run))
        # the chip says how many failed, as the API counts them, and is pressed
        st, data = api(self.port, "GET", "/api/runs?status=failed")
        self.assertEqual(st, 200, data)
        chip = b.find("#chip-failed")
        self.assertEqual(chip.get_attribute("aria-pressed"), "true")
        self.assertEqual(chip.get_attribute("data-count"), str(data["counts"]["failed"]))
        self.assertGreaterEqual(data["counts"]["succeeded"], 1)
        self.assertEqual(b.find("#chip-succeeded").get_attribute("data-count"),
                         str(data["counts"]["succeeded"]))
        row = b.find("tr.run-row[data-run-id='%s']" % failed)
        self.assertIn("serviceNotAvailable", row.find_element(By.CSS_SELECTOR, ".c-error").text)
        b.shot("runs-failed")

        # open it: Graph's status, code and message
        row.find_element(By.CSS_SELECTOR, "a.run-link").click()
        b.until("the run's URL", lambda d: d.current_url.endswith("#/run/" + failed))
        page = b.ready("run-page")
        self.assertEqual(page.get_attribute("data-run-id"), failed)
        self.assertEqual(b.find("#run-status").get_attribute("data-status"), "failed")
        self.assertEqual(b.find("#run-error-code").text, "serviceNotAvailable")
        self.assertEqual(b.find("#run-error-status").text, "503")
        self.assertIn("temporarily unavailable", b.find("#run-error-message").text)
        step = b.find("#steps li.step[data-status='failed']")
        self.assertEqual(step.get_attribute("data-step-id"), "patch")
        self.assertEqual(step.find_element(By.CSS_SELECTOR, ".graph-code").text,
                         "serviceNotAvailable")
        self.assertIn("Head of Retries", step.find_element(
            By.CSS_SELECTOR, ".step-args pre").get_attribute("textContent"))
        self.assertIn('"title": "Head of Retries"', b.text("#event-json"))
        self.assertTrue(b.find("#action-retry").is_displayed())
        self.assertFalse(b.finds("#action-cancel"))
        b.shot("run-failed")

        # clear the fault, Retry: the page follows the run to succeeded by itself
        self.sim.post("/_sim/faults", {"fail_every": 0})
        self.assertNotEqual(self.sim.user(ALEX)["jobTitle"], "Head of Retries")
        b.find("#action-retry").click()
        b.until("the retry's result", lambda d: b.find("#action-result").get_attribute(
            "data-ok") in ("true", "false"))
        self.assertEqual(b.find("#action-result").get_attribute("data-ok"), "true",
                         b.text("#action-result"))
        b.until("the run to succeed on the page",
                lambda d: b.find("#run-status").get_attribute("data-status") == "succeeded")
        self.assertFalse(b.finds("#run-error-code"))
        self.assertEqual(self.sim.user(ALEX)["jobTitle"], "Head of Retries")
        self.assertEqual(wait_status(self.port, failed, ["succeeded"])["status"], "succeeded")
        self.assertFalse(b.finds("#action-retry"))
        b.shot("run-retried")
        self.assertEqual(b.js("return document.getElementById('error-banner').hidden"), True)

    # }======

    # {====== filters, paging, auto-refresh ======

    def test_b_filters_paging_and_refresh(self):
        b = self.b
        ids = []
        for n in range(3):
            ids.append(self.fire("/hooks/page", {"user": MEGAN, "n": "page-%d" % n}, "pager"))
            wait_status(self.port, ids[-1], ["succeeded"])
        ids.reverse()  # newest first

        # paging, two runs a page, through next_before
        b.open(self.port, "#/runs?workflow=pager&limit=2")
        b.ready("runs-page")
        first = [r.get_attribute("data-run-id") for r in b.finds("tr.run-row")]
        self.assertEqual(first, ids[:2])
        self.assertEqual(Select(b.find("#f-workflow")).first_selected_option.get_attribute(
            "value"), "pager")
        self.assertFalse(b.find("#page-newer").is_enabled())
        loaded = int(b.find("#runs-page").get_attribute("data-loaded-at"))
        b.find("#page-older").click()
        b.ready("runs-page", loaded)
        self.assertIn("before=", b.d.current_url)
        self.assertEqual([r.get_attribute("data-run-id") for r in b.finds("tr.run-row")],
                         ids[2:])
        self.assertFalse(b.find("#page-older").is_enabled())
        loaded = int(b.find("#runs-page").get_attribute("data-loaded-at"))
        b.find("#page-newer").click()
        b.ready("runs-page", loaded)
        self.assertEqual([r.get_attribute("data-run-id") for r in b.finds("tr.run-row")],
                         ids[:2])

        # a time range: every run here is younger than an hour
        b.go("#/runs?workflow=pager&until=1h")
        b.until("no run older than 1h", lambda d: b.finds("#runs-empty"))
        self.assertEqual(b.find("#f-until").get_attribute("value"), "1h")
        b.go("#/runs?workflow=pager&since=1h")
        b.until("the runs of the last hour",
                lambda d: len(b.finds("tr.run-row")) == 3 and not b.finds("#runs-empty"))

        # the trigger kind: all webhook; no schedule run yet
        Select(b.find("#f-trigger")).select_by_value("schedule")
        b.until("no schedule run", lambda d: "trigger=schedule" in d.current_url
                and b.finds("#runs-empty"))
        Select(b.find("#f-trigger")).select_by_value("webhook")
        b.until("the webhook runs", lambda d: "trigger=webhook" in d.current_url
                and len(b.finds("tr.run-row")) == 3)

        # user/subject text, typed: the list narrows, the URL keeps it, a refresh keeps both
        b.go("#/runs")
        b.until("the unfiltered list", lambda d: d.current_url.endswith("#/runs")
                and len(b.finds("tr.run-row")) >= 3)
        box = b.find("#f-q")
        box.click()
        box.send_keys("MEGAN.bow")
        b.until("q in the URL", lambda d: "q=MEGAN.bow" in d.current_url)
        b.until("only Megan's runs", lambda d: b.finds("tr.run-row") and all(
            "megan.bowen" in r.find_element(By.CSS_SELECTOR, ".c-user").text
            for r in b.finds("tr.run-row")))
        box.send_keys("en")
        b.until("the URL follows the typing", lambda d: "q=MEGAN.bowen" in d.current_url)
        # a value half typed (not a duration yet, so never applied) survives auto-refreshes:
        # the input is the same element, still focused, its text as typed
        since = b.find("#f-since")
        since.click()
        since.send_keys("2x")
        loaded = int(b.find("#runs-page").get_attribute("data-loaded-at"))
        b.ready("runs-page", loaded)   # an auto-refresh (every 5 s) ...
        loaded = int(b.find("#runs-page").get_attribute("data-loaded-at"))
        b.ready("runs-page", loaded)   # ... and another
        self.assertEqual(since.get_attribute("value"), "2x")
        self.assertEqual(b.js("return document.activeElement.id"), "f-since")
        self.assertEqual(box.get_attribute("value"), "MEGAN.bowen")
        self.assertIn("q=MEGAN.bowen", b.d.current_url)
        self.assertNotIn("since=", b.d.current_url)
        self.assertTrue(b.finds("tr.run-row") and all(
            "megan.bowen" in r.find_element(By.CSS_SELECTOR, ".c-user").text
            for r in b.finds("tr.run-row")))
        since.send_keys(Keys.BACKSPACE + "h")  # now "2h": applied
        b.until("since in the URL", lambda d: "since=2h" in d.current_url)
        self.assertIn("q=MEGAN.bowen", b.d.current_url)
        # a fresh load of that URL shows the same filter
        url = b.d.current_url
        b.d.get("about:blank")
        b.d.get(url)
        b.ready("runs-page")
        self.assertEqual(b.find("#f-q").get_attribute("value"), "MEGAN.bowen")
        self.assertEqual(b.find("#f-since").get_attribute("value"), "2h")
        # narrow screens: the page still works
        b.d.set_window_size(420, 900)
        try:
            b.go("#/runs")
            b.until("the runs at 420px", lambda d: len(b.finds("tr.run-row")) >= 3)
            self.assertTrue(b.find("#f-status").is_displayed())
            b.shot("runs-narrow")
        finally:
            b.d.set_window_size(1280, 900)

    # }======

    # {====== cancel ======

    def test_c_cancel_a_waiting_run(self):
        b = self.b
        run_id = self.fire("/hooks/wait", {"user": synth(8)}, "later")
        wait_status(self.port, run_id, ["waiting"])
        b.open(self.port, "#/run/" + run_id)
        b.ready("run-page")
        self.assertEqual(b.find("#run-status").get_attribute("data-status"), "waiting")
        self.assertFalse(b.finds("#action-retry"))
        # declining the confirmation changes nothing
        b.find("#action-cancel").click()
        b.until("the confirmation dialog", lambda d: b.js(
            "return document.getElementById('confirm').open"))
        b.shot("run-cancel-confirm")
        b.find("#confirm-cancel").click()
        time.sleep(0.5)
        self.assertEqual(api(self.port, "GET", "/api/runs/" + run_id)[1]["status"], "waiting")
        # accepting it cancels the run
        b.find("#action-cancel").click()
        b.confirm()
        b.until("the cancel's result", lambda d: b.find("#action-result").get_attribute(
            "data-ok") == "true")
        b.until("cancelled on the page",
                lambda d: b.find("#run-status").get_attribute("data-status") == "cancelled")
        self.assertEqual(api(self.port, "GET", "/api/runs/" + run_id)[1]["status"], "cancelled")
        self.assertFalse(b.finds("#action-cancel"))
        self.assertTrue(self.sim.user(synth(8))["accountEnabled"])
        b.shot("run-cancelled")

    # }======

    # {====== hostile values ======

    def test_d_payloads_render_as_text(self):
        b = self.b
        # Graph's displayName: the rename step reads it as the value it replaces
        st, _ = self.sim_patch_user(ADELE, {"displayName": IMG})
        self.assertEqual(st, 204)
        subject = IMG + SCRIPT + SVG
        run_id = self.fire("/hooks/rename", {"user": subject, "note": SCRIPT}, "rename")
        run = wait_status(self.port, run_id, ["succeeded", "failed"])
        self.assertEqual(run["status"], "succeeded", run)
        self.assertEqual(run["steps"][0]["output"]["before"]["displayName"], IMG)

        b.open(self.port, "#/runs?workflow=rename")
        b.ready("runs-page")
        cell = b.find("tr.run-row[data-run-id='%s'] .c-user" % run_id)
        self.assertEqual(cell.get_attribute("textContent"), subject)
        self.assertEqual(cell.text, subject)  # shown as such, not hidden markup
        self.check_no_xss()
        b.shot("runs-payload")

        b.find("tr.run-row[data-run-id='%s'] a.run-link" % run_id).click()
        b.ready("run-page")
        self.assertEqual(b.find("#run-user").text, subject)
        out = b.text("#steps li.step .step-output pre")
        self.assertEqual(json.loads(out)["before"]["displayName"], IMG)
        self.assertEqual(json.loads(b.text("#event-json")), {"user": subject, "note": SCRIPT})
        self.check_no_xss()
        # wait for a refresh of the page too: a redraw must not turn it into markup either
        loaded = int(b.find("#run-page").get_attribute("data-loaded-at"))
        time.sleep(6)
        self.assertEqual(int(b.find("#run-page").get_attribute("data-loaded-at")), loaded,
                         "an unchanged run was redrawn")
        self.check_no_xss()
        csp = [e for e in b.logs() if "Content Security Policy" in e.get("message", "")]
        self.assertEqual(csp, [], "the page tried something the CSP refused")
        b.shot("run-payload")

    def sim_patch_user(self, upn, body):
        c = http.client.HTTPConnection("127.0.0.1", self.sim.port, timeout=10)
        try:
            c.request("PATCH", "/_sim/users/" + upn, json.dumps(body),
                      {"Content-Type": "application/json"})
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    # }======

    # {====== CSRF ======

    def test_e_a_post_without_the_csrf_token_is_refused(self):
        b = self.b
        run_id = self.fire("/hooks/wait", {"user": synth(7)}, "later")
        wait_status(self.port, run_id, ["waiting"])
        b.open(self.port, "#/runs")
        b.ready("runs-page")
        path = "/api/runs/%s/cancel" % run_id
        status, text = b.fetch("POST", path)
        self.assertEqual(status, 403, text)
        self.assertIn("CSRF token missing or wrong", text)
        status, text = b.fetch("POST", path, csrf="0" * 64)
        self.assertEqual(status, 403, text)
        self.assertEqual(api(self.port, "GET", "/api/runs/" + run_id)[1]["status"], "waiting")
        # the same with the token /api/session hands out
        status, text = b.fetch("GET", "/api/session")
        self.assertEqual(status, 200, text)
        session = json.loads(text)
        self.assertTrue(session["authenticated"])
        self.assertFalse(session["login_required"])
        status, text = b.fetch("POST", path, csrf=session["csrf"])
        self.assertEqual(status, 200, text)
        self.assertEqual(api(self.port, "GET", "/api/runs/" + run_id)[1]["status"], "cancelled")

    # }======

    # {====== held runs and approvals ======

    def test_f_held_runs_released_and_rejected(self):
        b = self.b
        runs = [self.fire("/hooks/leave", {"user": synth(i)}, "leaver") for i in (1, 2, 3)]
        final = {r: wait_status(self.port, r, ["succeeded", "held", "failed"])["status"]
                 for r in runs}
        held = [r for r in runs if final[r] == "held"]
        self.assertEqual(len(held), 2, final)
        b.open(self.port, "#/held")
        b.ready("held-page")
        b.until("the held runs", lambda d: len(b.finds("tr.held-row")) == 2)
        self.assertEqual({r.get_attribute("data-run-id") for r in b.finds("tr.held-row")},
                         set(held))
        self.assertEqual(b.find("#held").get_attribute("data-count"), "2")
        b.shot("held")
        # release one
        b.find("#pick-" + held[0]).click()
        b.find("#held-release").click()
        b.confirm()
        b.until("the release's result", lambda d: b.find("#held-result").get_attribute(
            "data-ok") == "true")
        self.assertIn("Released 1 run", b.find("#held-result").text)
        wait_status(self.port, held[0], ["succeeded"])
        b.until("one held run left", lambda d: len(b.finds("tr.held-row")) == 1)
        # reject the rest
        b.find("#held-reject-all").click()
        b.confirm()
        b.until("the rejection's result", lambda d: "Rejected 1 run" in b.find(
            "#held-result").text)
        self.assertEqual(wait_status(self.port, held[1], ["cancelled"])["status"], "cancelled")
        b.until("nothing held", lambda d: b.finds("#held-empty"))
        users = {r: api(self.port, "GET", "/api/runs/" + r)[1]["user"] for r in held}
        self.assertFalse(self.sim.user(users[held[0]])["accountEnabled"])
        self.assertTrue(self.sim.user(users[held[1]])["accountEnabled"])

    def test_g_approvals_decided_from_the_pages(self):
        b = self.b
        yes = self.fire("/hooks/gate", {"user": synth(5), "title": "Approved here"}, "gated")
        no = self.fire("/hooks/gate", {"user": synth(6), "title": "Never"}, "gated")
        for r in (yes, no):
            wait_status(self.port, r, ["waiting"])
        self.sink.wait("/approval", 2)
        b.open(self.port, "#/held")
        b.ready("held-page")
        b.until("two approvals", lambda d: len(b.finds("tr.approval-row")) >= 2)
        b.shot("approvals")
        b.find("tr.approval-row[data-run-id='%s'] button[data-action='approve']" % yes).click()
        b.until("the dialog", lambda d: b.js("return document.getElementById('confirm').open"))
        b.find("#confirm-as").clear()
        b.find("#confirm-as").send_keys("console tester")
        b.find("#confirm-ok").click()
        b.until("the decision", lambda d: b.find("#held-result").get_attribute("data-ok")
                in ("true", "false"))
        self.assertEqual(b.find("#held-result").get_attribute("data-ok"), "true",
                         b.find("#held-result").text)
        self.assertIn("console tester", b.find("#held-result").text)
        wait_status(self.port, yes, ["succeeded"])
        self.assertEqual(self.sim.user(synth(5))["jobTitle"], "Approved here")
        # the other from its run page: Reject, with a reason
        b.go("#/run/" + no)
        b.ready("run-page")
        self.assertIn("approve", b.find("#run-actions").get_attribute("data-allowed").split())
        b.find("#action-reject").click()
        b.until("the dialog", lambda d: b.js("return document.getElementById('confirm').open"))
        self.assertEqual(b.find("#confirm-as").get_attribute("value"), "console tester")
        b.find("#confirm-reason").send_keys("not this one")
        b.find("#confirm-ok").click()
        b.until("the rejection", lambda d: b.find("#action-result").get_attribute("data-ok")
                == "true")
        run = wait_status(self.port, no, ["failed", "cancelled"])
        self.assertIn("not this one", json.dumps(run))
        self.assertNotEqual(self.sim.user(synth(6))["jobTitle"], "Never")
        b.until("the run's end on the page", lambda d: b.find("#run-status").get_attribute(
            "data-status") in ("failed", "cancelled"))
        b.shot("run-rejected")

    # }======

    # {====== workflows and health ======

    def test_h_workflows_and_health_pages(self):
        b = self.b
        # at least one finished run, so a last run is there to show
        r = self.fire("/hooks/page", {"user": MEGAN, "n": "wf"}, "pager")
        wait_status(self.port, r, ["succeeded"])
        # one that met Graph's throttling (429 for 2 s), for the health page
        self.sim.post("/_sim/faults", {"throttle_for": 2})
        try:
            r = self.fire("/hooks/page", {"user": MEGAN, "n": "throttled"}, "pager")
            wait_status(self.port, r, ["succeeded"])
        finally:
            self.sim.post("/_sim/faults", {"throttle_for": 0})
        # and one run waiting, for the queue
        wait_status(self.port, self.fire("/hooks/wait", {"user": synth(4)}, "later"),
                    ["waiting"])
        st, wfs = api(self.port, "GET", "/api/workflows")
        self.assertEqual(st, 200, wfs)
        b.open(self.port, "#/workflows")
        b.ready("workflows-page")
        rows = {e.get_attribute("data-workflow"): e for e in b.finds("tr.wf-row")}
        self.assertEqual(set(rows), {w["name"] for w in wfs})
        self.assertTrue({"retitle", "pager", "later", "nightly", "gated"} <= set(rows))
        for w in wfs:
            row = rows[w["name"]]
            self.assertEqual(row.find_element(By.CSS_SELECTOR, ".c-version").get_attribute(
                "title"), w["version"])
            self.assertEqual(row.find_element(By.CSS_SELECTOR, ".c-file").text, w["file"])
            self.assertIn(w["trigger"]["summary"], row.find_element(
                By.CSS_SELECTOR, ".c-trigger").text)
            if w["last_run"]:
                link = row.find_element(By.CSS_SELECTOR, ".c-last a")
                self.assertTrue(link.get_attribute("href").endswith(
                    "#/run/" + w["last_run"]["id"]))
                self.assertEqual(row.find_element(By.CSS_SELECTOR, ".c-last .badge")
                                 .get_attribute("data-status"), w["last_run"]["status"])
        nightly = [w for w in wfs if w["name"] == "nightly"][0]
        self.assertIsInstance(nightly["next_due"], int)
        self.assertIn("0 6 * * *", rows["nightly"].find_element(By.CSS_SELECTOR,
                                                                ".c-trigger").text)
        due = rows["nightly"].find_element(By.CSS_SELECTOR, ".c-next time")
        self.assertEqual(b.js("return new Date(arguments[0]).toISOString()", nightly["next_due"]),
                         due.get_attribute("datetime"))
        if nightly["last_run"] is None:
            self.assertEqual(rows["nightly"].find_element(By.CSS_SELECTOR, ".c-last").text,
                             "never run")
        self.assertEqual(rows["pager"].find_element(By.CSS_SELECTOR, ".c-last .badge")
                         .get_attribute("data-status"), "succeeded")
        b.shot("workflows")

        # the scope preview: a hire 20 days ahead is due in 13, so 30 days show them and the
        # default 7 do not; the display name is a payload, shown as text
        hire = time.strftime("%Y-%m-%dT00:00:00Z", time.gmtime(time.time() + 20 * 86400))
        c = http.client.HTTPConnection("127.0.0.1", self.sim.port, timeout=10)
        c.request("PATCH", "/_sim/users/" + ADELE, json.dumps(
            {"employeeHireDate": hire, "displayName": IMG}), {"Content-Type": "application/json"})
        self.assertEqual(c.getresponse().status, 204)
        c.close()
        self.assertEqual(rows["nightly"].find_elements(By.CSS_SELECTOR, ".scope-btn"), [])
        rows["hires"].find_element(By.CSS_SELECTOR, ".scope-btn").click()
        b.until("the 7-day preview", lambda d: b.find("#scope-panel").get_attribute(
            "data-state") == "ready")
        self.assertEqual(b.find("#scope-h").text, "Scope of hires")
        self.assertEqual(b.finds("#scope-table tr.scope-row"), [])
        days = b.find("#scope-days")
        days.clear()
        days.send_keys("30")
        b.find("#scope-run").click()
        b.until("Adele in the 30-day preview", lambda d: [
            e for e in b.finds("#scope-table tr.scope-row")
            if ADELE in e.find_element(By.CSS_SELECTOR, ".c-user").text])
        st, p = api(self.port, "GET", "/api/workflows/hires/scope?days=30")
        self.assertEqual(st, 200, p)
        shown = [e.find_element(By.CSS_SELECTOR, ".c-user").text
                 for e in b.finds("#scope-table tr.scope-row")]
        self.assertEqual(shown, [u["userPrincipalName"] for u in p["users"]])
        self.assertEqual(b.find("#scope-summary").text, p["summary"])
        row = [e for e in b.finds("#scope-table tr.scope-row")
               if ADELE in e.find_element(By.CSS_SELECTOR, ".c-user").text][0]
        self.assertEqual(row.find_element(By.CSS_SELECTOR, ".c-name").text, IMG)
        self.assertIsNone(b.js("return window.__xss === undefined ? null : window.__xss"))
        b.shot("workflows-scope")
        b.find("#scope-close").click()
        self.assertFalse(b.find("#scope-panel").is_displayed())

        b.go("#/health")
        b.ready("health-page")
        st, h = api(self.port, "GET", "/api/health")
        self.assertEqual(st, 200, h)
        self.assertTrue(h["graph"]["signed_in"], h)
        self.assertEqual(b.find("#health-graph").get_attribute("data-ok"), "true")
        self.assertEqual(b.find("#health-journal").get_attribute("data-ok"),
                         "true" if h["journal"]["ok"] else "false")
        for k in ("queued", "running", "waiting", "held"):
            b.until("queue %s as the API says" % k, lambda d, k=k: b.find(
                "#queue-" + k).text == str(api(self.port, "GET", "/api/health")[1]["queue"][k]))
        self.assertGreaterEqual(int(b.find("#queue-waiting").text), 1)
        self.assertGreaterEqual(h["throttling"]["seen"], 1, h)
        self.assertEqual(b.find("#throttling-seen").text, "%d × 429" % h["throttling"]["seen"])
        self.assertEqual(b.find("#health-throttling time").get_attribute("datetime"), b.js(
            "return new Date(arguments[0]).toISOString()", h["throttling"]["last_at"]))
        polls = {(t["workflow"], t["kind"]) for t in h["triggers"]}
        shown = {(e.get_attribute("data-workflow"), e.get_attribute("data-kind"))
                 for e in b.finds("tr.trigger-row")}
        self.assertEqual(shown, polls)
        b.shot("health")

    # }======


class LoginTest(unittest.TestCase):
    """admin.token set (on loopback still): the console asks for it."""

    @classmethod
    def setUpClass(cls):
        cls.sim = harness.Sim()
        cls.root = harness.setup_root(cls.sim, {"retitle.yaml": workflows(1)["retitle.yaml"]},
                                      prefix="weir-console-login-", admin="127.0.0.1:0",
                                      admin_token="env:WEIR_ADMIN_TOKEN")
        cls.w = harness.Weir(cls.root, env=dict(harness.SIGNED_ENV, WEIR_ADMIN_TOKEN=TOKEN),
                             admin=True)
        cls.port = cls.w.admin
        try:
            cls.b = Browser()
        except BaseException:
            cls.w.stop()
            cls.sim.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.b.quit()
        finally:
            try:
                cls.w.stop()
            finally:
                cls.sim.stop()
                shutil.rmtree(cls.root, ignore_errors=True)

    def tearDown(self):
        check_page_errors(self, self.b)

    def test_login_cookie_and_logout(self):
        b = self.b
        status, ans = self.w.signed_post({"user": ALEX, "title": "Signed in"}, path="/hooks/hr")
        self.assertEqual(status, 202, ans)
        b.open(self.port, "#/runs")
        b.until("the login form", lambda d: b.finds("#login-form"))
        self.assertFalse(b.find("#nav").is_displayed())
        self.assertFalse(b.finds("#runs-table"))
        # without a session the API answers 401 to the page
        self.assertEqual(b.fetch("GET", "/api/runs")[0], 401)
        session = json.loads(b.fetch("GET", "/api/session")[1])
        self.assertEqual((session["authenticated"], session["login_required"]), (False, True))
        self.assertNotIn("csrf", session)
        b.shot("login")

        b.find("#login-token").send_keys("not-the-token")
        b.find("#login-submit").click()
        b.until("the login error", lambda d: b.find("#login-error").is_displayed())
        self.assertIn("401", b.find("#login-error").text)
        self.assertFalse(b.d.get_cookies())
        self.assertFalse(b.finds("#runs-page"))
        b.shot("login-refused")

        b.find("#login-token").clear()
        b.find("#login-token").send_keys(TOKEN + Keys.ENTER)
        b.ready("runs-page")
        b.until("the run", lambda d: b.finds("tr.run-row"))
        self.assertTrue(b.find("#nav").is_displayed())
        self.assertFalse(b.finds("#login-token"))
        cookies = {c["name"]: c for c in b.d.get_cookies()}
        self.assertIn("weir_session", cookies)
        c = cookies["weir_session"]
        self.assertTrue(c["httpOnly"], c)
        self.assertEqual(c.get("sameSite"), "Strict", c)
        self.assertEqual(c.get("path"), "/", c)
        self.assertRegex(c["value"], r"^[0-9a-f]{64}$")
        self.assertNotIn("weir_session", b.js("return document.cookie"))
        self.assertNotIn(c["value"], b.js("return document.documentElement.outerHTML"))
        b.shot("runs-signed-in")

        # the session's CSRF token: a POST without it is refused, with it accepted
        session = json.loads(b.fetch("GET", "/api/session")[1])
        self.assertTrue(session["authenticated"])
        self.assertRegex(session["csrf"], r"^\S{16,}$")
        st, body = b.fetch("POST", "/api/held/reject", body={"all": True})
        self.assertEqual(st, 403, body)
        self.assertIn("CSRF token missing or wrong", body)
        st, body = b.fetch("POST", "/api/held/reject", csrf=session["csrf"], body={"all": True})
        self.assertEqual(st, 200, body)

        # a reload keeps the session (the cookie), no token typed again
        b.d.refresh()
        b.ready("runs-page")
        # sign out: the cookie is dropped and the API refuses again
        b.find("#logout").click()
        b.until("the login form again", lambda d: b.finds("#login-form"))
        self.assertEqual(b.fetch("GET", "/api/runs")[0], 401)
        self.assertNotIn("weir_session", {c["name"] for c in b.d.get_cookies()})
        # the old cookie's value no longer works either
        st, _ = api(self.port, "GET", "/api/runs",
                    headers={"Cookie": "weir_session=" + c["value"]})
        self.assertEqual(st, 401)


if __name__ == "__main__":
    harness.main("WEIR", "GRAPHSIM", "SOURCE")
