#!/usr/bin/env python3
"""End-to-end tests: nothing a trigger accepted is lost when the journal fails for a while
(issue #13 follow-up). The real `weir run --ingest-only` on 127.0.0.1, the real SQLite journal
read back, Python 3 stdlib only.

usage: test_reliability_schedule.py WEIR_BINARY SOURCE_DIR

- A schedule slot that fires while the journal fails (its directory moved away; a full disk on
  a 2 MiB tmpfs) is stored once the journal is back, exactly once, with its run; the slots
  around it are there too, each once.
- A CSV dropped while the journal fails stays in its folder (neither done/ nor failed/) and is
  committed once the journal is back: each row stored once, with its run.
- A reload (SIGHUP) while slots wait keeps them waiting, and they are stored after it.

The tmpfs case needs `mount` (root); without it, it is skipped with the reason.
"""
import calendar
import os
import re
import shutil
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

TICK = """
name: tick
trigger:
  schedule: { every: 1s }
steps:
  - action: disable-user
    user: nobody@contoso.onmicrosoft.com
"""

FILES = """
name: rows
trigger:
  file: { dir: in, pattern: "*.csv", settle: 0s }
steps:
  - action: disable-user
    user: "{{ event.row.email }}"
"""

SLOT = re.compile(r'slot="?([0-9T:.\-]+Z)')


def slots(root):
    """{slot: [event ids]} of the tick schedule's stored events."""
    out = {}
    with harness.journal(root) as c:
        for eid, key in c.execute("SELECT id, idem_key FROM events WHERE source = 'schedule tick'"):
            out.setdefault(key.split(":", 2)[2], []).append(eid)
    return out


def runs_of(root, event_id):
    with harness.journal(root) as c:
        return c.execute("SELECT count(*) FROM runs WHERE event_id = ?", (event_id,)).fetchone()[0]


def failed_slots(w, start):
    """The slots the log says could not be stored since line start (None for a line that
    names none)."""
    with w.lock:
        lines = [x for x in w.lines[start:] if "a scheduled event could not be stored" in x]
    return [SLOT.search(x).group(1) if SLOT.search(x) else None for x in lines]


def gaps(root, failed, after):
    """Why the stored slots are not yet every second once each, up to at least `after` (epoch
    s) and with every failed slot; None when they are."""
    got = slots(root)
    for s in failed:
        if s and s not in got:
            return "slot %s not stored; stored: %s" % (s, sorted(got))
    for s, ids in got.items():
        if len(ids) != 1:
            return "slot %s stored %d times" % (s, len(ids))
        if runs_of(root, ids[0]) != 1:
            return "slot %s has %d runs" % (s, runs_of(root, ids[0]))
    secs = sorted(int(calendar.timegm(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S"))) for s in got)
    if not secs or secs[-1] < after:
        return "no slot after %d stored yet" % after
    missing = sorted(set(range(secs[0], secs[-1] + 1)) - set(secs))
    if missing:
        return "slots missing (lost): %s" % [time.strftime("%H:%M:%S", time.gmtime(m))
                                             for m in missing]
    return None


class ScheduleWhileFailing(unittest.TestCase):
    def setUp(self):
        self.root = harness.setup_root(None, {"tick.yaml": TICK}, prefix="weir-sched-")
        self.var = os.path.join(self.root, "var")
        self.mounted = False
        self.w = None

    def tearDown(self):
        if self.w and self.w.proc.poll() is None:
            self.w.stop()
        if self.mounted:
            harness.umount(self.var)
        shutil.rmtree(self.root, ignore_errors=True)

    def check_every_slot_once(self, mark):
        """Waits (30 s at most) until the slots stored are every second, once each, with their
        run, the failed ones included, up to a slot after now; else fails saying why."""
        after = int(time.time()) + 1
        why = None
        deadline = time.time() + 30
        while time.time() < deadline:
            why = gaps(self.root, failed_slots(self.w, mark), after)
            if why is None:
                return
            time.sleep(0.2)
        self.fail(why)

    def test_directory_moved_away_and_back(self):
        self.w = harness.Weir(self.root, ["--ingest-only"])
        harness.wait_for("a first slot", lambda: slots(self.root))
        mark = self.w.mark()
        os.rename(self.var, self.var + ".away")
        harness.wait_for("two failed slots", lambda: len(failed_slots(self.w, mark)) >= 2)
        os.rename(self.var + ".away", self.var)
        self.check_every_slot_once(mark)
        self.w.wait_log("a scheduled event was stored after its commit had failed")

    def test_reload_keeps_waiting_slots(self):
        self.w = harness.Weir(self.root, ["--ingest-only"])
        harness.wait_for("a first slot", lambda: slots(self.root))
        mark = self.w.mark()
        os.rename(self.var, self.var + ".away")
        harness.wait_for("two failed slots", lambda: len(failed_slots(self.w, mark)) >= 2)
        self.w.proc.send_signal(signal.SIGHUP)
        self.w.wait_log("workflows reloaded", start=mark)
        time.sleep(1.5)
        os.rename(self.var + ".away", self.var)
        self.check_every_slot_once(mark)

    def test_full_disk(self):
        why = harness.try_mount_tmpfs(self.var)
        if why:
            self.skipTest(why)
        self.mounted = True
        self.w = harness.Weir(self.root, ["--ingest-only"])
        harness.wait_for("a first slot", lambda: slots(self.root))
        filler = harness.fill_disk(self.var)
        mark = self.w.mark()
        harness.wait_for("two failed slots", lambda: len(failed_slots(self.w, mark)) >= 2, timeout=60)
        os.unlink(filler)
        self.check_every_slot_once(mark)


class FileWhileFailing(unittest.TestCase):
    def test_csv_stays_and_is_committed_after(self):
        root = harness.setup_root(None, {"rows.yaml": FILES}, prefix="weir-filefail-")
        var, spool = os.path.join(root, "var"), os.path.join(root, "in")
        os.makedirs(spool)
        w = harness.Weir(root, ["--ingest-only"])
        try:
            os.rename(var, var + ".away")
            rows = "".join("u%d@contoso.onmicrosoft.com\n" % i for i in range(600))
            tmp = os.path.join(root, "hr.tmp")
            with open(tmp, "w") as f:
                f.write("email\n" + rows)
            os.rename(tmp, os.path.join(spool, "hr.csv"))
            w.wait_log("storing a file's rows failed")
            # still in place: neither done nor failed
            self.assertTrue(os.path.exists(os.path.join(spool, "hr.csv")))
            self.assertFalse(os.path.exists(os.path.join(spool, "done", "hr.csv")))
            self.assertFalse(os.path.exists(os.path.join(spool, "failed", "hr.csv")))
            os.rename(var + ".away", var)
            harness.wait_for("the file in done/",
                     lambda: os.path.exists(os.path.join(spool, "done", "hr.csv")), timeout=60)
            with harness.journal(root) as c:
                keys = [k for (k,) in c.execute("SELECT idem_key FROM events")]
                nruns = c.execute("SELECT count(*) FROM runs").fetchone()[0]
            self.assertEqual(len(keys), 600)
            self.assertEqual(len(set(keys)), 600)
            self.assertEqual(nruns, 600)
        finally:
            if w.proc.poll() is None:
                w.stop()
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    harness.main("WEIR", "SOURCE")
