#!/usr/bin/env python3
"""bulk_csv.py — the bulk CSV benchmark and the memory of a long queue (scripts/bench).

Bulk CSV: a ROWS-row file in the Microsoft 365 admin center's user template format (every
row a real change of a distinct synthetic graphsim user: a new job title, department, office
and city) is dropped (renamed) into the spool directory of the csv-bulk-update example
(workflows/csv-bulk-update.yaml with scripts/m365_user_csv.lua). Measured from the rename:
until the file's rows are journaled (the file trigger moves a file to done/ once its rows are
committed; the journal's event count is checked), and until every run has succeeded against
graphsim ($batch on, pacing off).

Acks during a drop: weir --ingest-only with csv-bulk-update and the onboarding webhook (its
signature check left out: loadgen cannot sign); bench_loadgen posts webhooks at a fixed rate
(1000/s) for a window, once with nothing else going on and once with the ROWS-row file renamed
into the spool half a second in; the ack p99 of both windows (the file is read on a reader
thread and its rows matched a slice per loop turn, so the second should not be much worse).

Queued runs: weir --ingest-only with 100 workflows (99 copies of the onboarding example and
csv-bulk-update) takes a QUEUED-row file, so the journal holds QUEUED queued runs; then weir
starts for real on that journal (against graphsim) and its resident size is read once
/readyz answers and start-up has settled (1 s later), with the start-up time and the peak.

usage: bulk_csv.py --weir BIN --graphsim BIN --source DIR --work DIR [--rows N]
                   [--queued N] [--cap SECONDS] [--loadgen BIN] [--only bulk|ack|queued]
                   [--repeat N]
--only runs one of the three parts (ack needs --loadgen); --repeat runs the acks part N times
(each its own row), for comparing a change with machines this noisy.
Prints Markdown table rows (figure | weir | reference | ratio | goal); details on stderr.
"""
import argparse
import csv
import os
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

COLUMNS = ["User Name", "First Name", "Last Name", "Display Name", "Job Title", "Department",
           "Office Number", "Office Phone", "Mobile Phone", "Fax", "Alternate email address",
           "Address", "City", "State or Province", "ZIP or Postal Code", "Country or Region"]
CITIES = ["Berlin", "Munich", "Hamburg", "Cologne", "Leipzig"]


def log(*a):
    print("bulk_csv:", *a, file=sys.stderr, flush=True)


def write_csv(path, n):
    """n rows for graphsim's synthetic users 1..n; each differs from the generated user."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for i in range(1, n + 1):
            w.writerow(["synth%06d@%s" % (i, bl.TENANT), "", "", "",
                        "Engineer %d" % (i % 40), "Platform %d" % (i % 7), "B%d.%03d" % (i % 9,
                                                                                     i % 1000),
                        "", "", "", "", "Street %d" % i, CITIES[i % 5], "", "%05d" % (i % 99999),
                        "Germany"])


def setup(a, sim, name, hundred=False, ingest_only=False):
    root = os.path.join(a.work, name)
    os.makedirs(os.path.join(root, "var", "spool", "users"), exist_ok=True)
    # copied: a script must live under the directory of weir.yaml (symbolic links count
    # where they lead)
    shutil.copytree(os.path.join(a.source, "scripts"), os.path.join(root, "scripts"))
    wport, aport = bl.free_port(), bl.free_port()
    bl.weir_config(root, sim.port, wport, aport,
                   "  pacing: { writes_per_150s: off }\n  batch: 20\n",
                   "lua: { env_allow: [ALERT_URL] }\n")
    shutil.copy(os.path.join(a.source, "workflows/csv-bulk-update.yaml"),
                os.path.join(root, "workflows"))
    if hundred:
        with open(os.path.join(a.source, "workflows/onboard.yaml")) as f:
            onboard = f.read()
        for i in range(1, 100):
            text = onboard.replace("name: onboard-employee", "name: onboard-%d" % i)
            text = text.replace("path: /hooks/hr", "path: /hooks/hr%d" % i)
            with open(os.path.join(root, "workflows", "onboard-%d.yaml" % i), "w") as f:
                f.write(text)
    return root, wport, aport


def drop(root, src):
    """Moves src into the spool directory the way a careful writer does: a rename."""
    spool = os.path.join(root, "var", "spool", "users")
    tmp = os.path.join(spool, "users.csv.part")
    shutil.copy(src, tmp)
    t0 = time.monotonic()
    os.rename(tmp, os.path.join(spool, "users.csv"))
    return t0


def wait_done(root, timeout):
    done = os.path.join(root, "var", "spool", "users", "done", "users.csv")
    failed = os.path.join(root, "var", "spool", "users", "failed")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(done):
            return time.monotonic()
        if os.path.isdir(failed) and os.listdir(failed):
            raise RuntimeError("the file went to failed/: %s" % os.listdir(failed))
        time.sleep(0.01)
    return None


def bulk(a, sim, path):
    root, wport, aport = setup(a, sim, "bulk")
    w = bl.Weir(a.weir, root, wport, aport)
    n = a.rows
    try:
        t0 = drop(root, path)
        t1 = wait_done(root, a.cap)
        journaled = bl.count(root, "SELECT count(*) FROM events") if t1 else 0
        t2, ok, last = None, 0, time.monotonic()
        deadline = t0 + a.cap
        while t1 and time.monotonic() < deadline:
            ok = bl.count(root, "SELECT count(*) FROM runs WHERE status = 'succeeded'")
            if ok >= n:
                t2 = time.monotonic()
                break
            if time.monotonic() - last > 10:
                last = time.monotonic()
                log("%.0f s: %d of %d runs succeeded" % (last - t0, ok, n))
            time.sleep(0.05)
        failed = bl.count(root, "SELECT count(*) FROM runs WHERE status = 'failed'")
        log("journaled %s rows in %s s; %d succeeded, %d failed, in %s s" % (
            journaled, "%.2f" % (t1 - t0) if t1 else "-", ok, failed,
            "%.2f" % (t2 - t0) if t2 else "> %d" % a.cap))
    finally:
        w.stop()
    rows = []
    if t1 is None:
        jcell = "n/a (not journaled within %d s)" % a.cap
    elif journaled != n:
        jcell = "%.2f s (but %d of %d rows in the journal)" % (t1 - t0, journaled, n)
    else:
        jcell = "%.2f s" % (t1 - t0)
    if t2 is not None:
        ccell = "%.1f s (%.0f runs/s)" % (t2 - t0, n / (t2 - t0))
    else:
        ccell = "not done: %d of %d runs succeeded after %d s (%.0f runs/s)%s" % (
            ok, n, a.cap, ok / a.cap, ", %d failed" % failed if failed else "")
    rows.append("| bulk CSV, %d rows (M365 user template) dropped into a file trigger: until "
                "all rows are journaled | %s | | | <= 5 s |" % (n, jcell))
    rows.append("| bulk CSV as above: until all %d runs succeeded against graphsim ($batch, "
                "pacing off) | %s | | | <= 60 s |" % (n, ccell))
    return rows


def ack_during_drop(a, sim, path, name="ack"):
    """Webhook ack latency at 1000/s, without and with a ROWS-row file going in meanwhile."""
    root, wport, aport = setup(a, sim, name)
    with open(os.path.join(a.source, "workflows/onboard.yaml")) as f:
        onboard = "".join(line for line in f if "secret: env:HR_WEBHOOK_SECRET" not in line)
    with open(os.path.join(root, "workflows", "onboard.yaml"), "w") as f:
        f.write(onboard)
    rate, window = 1000, (4 if a.rows <= 10000 else 10)
    w = bl.Weir(a.weir, root, wport, aport, ingest_only=True, wait=False)

    def loadgen():
        out = subprocess.run([a.loadgen, str(wport), "/hooks/hr", str(rate), str(window)],
                             capture_output=True, text=True, timeout=window + 60).stdout
        return dict(kv.split("=") for kv in out.split())

    try:
        bl.wait_port(wport, proc=w.proc)
        quiet = loadgen()
        result = {}
        t = threading.Thread(target=lambda: result.update(loadgen()))
        t.start()
        time.sleep(0.5)
        t0 = drop(root, path)
        t1 = wait_done(root, a.cap)
        t.join()
        journaled = bl.count(root, "SELECT count(*) FROM events WHERE source LIKE 'file %'")
    finally:
        w.stop()
    took = "%.2f s" % (t1 - t0) if t1 else "> %d s" % a.cap
    log("acks at %d/s: quiet p99 %s ms; during the drop p99 %s ms (max %s ms); the file took %s "
        "(%d rows journaled) in a %d s window" % (rate, quiet["p99_ms"], result.get("p99_ms"),
                                                 result.get("max_ms"), took, journaled, window))
    inside = t1 is not None and t1 - t0 < window - 0.5
    note = "" if inside else " (the file took %s, longer than the window)" % took
    return ["| webhook ack p99 at %d req/s while a %d-row CSV is ingested (journaled in %s) / "
            "with nothing else going on, p99 | %s / %s ms%s | | | <= 10 ms |"
            % (rate, a.rows, took, result.get("p99_ms", "n/a"), quiet["p99_ms"], note)]


def queued(a, sim, path):
    root, wport, aport = setup(a, sim, "queued", hundred=True)
    n = a.queued
    w = bl.Weir(a.weir, root, wport, aport, ingest_only=True, wait=False)
    try:
        bl.wait_port(wport, proc=w.proc)
        drop(root, path)
        if wait_done(root, a.cap) is None:
            raise RuntimeError("ingest-only weir did not journal the file within %d s" % a.cap)
    finally:
        w.stop()
    q = bl.count(root, "SELECT count(*) FROM runs WHERE status = 'queued'")
    w = bl.Weir(a.weir, root, wport, aport)
    try:
        time.sleep(1.0)
        rss = bl.rss_kb(w.proc.pid)
        hwm = bl.rss_kb(w.proc.pid, "VmHWM")
        ready_ms = w.ready_s * 1000
        log("%d queued runs, 100 workflows: ready in %.0f ms, RSS %d kB, peak %d kB" % (
            q, ready_ms, rss, hwm))
    finally:
        w.stop()
    return ["| RSS with 100 workflows loaded and %d queued runs (1 s after /readyz; peak) | "
            "%d MB (peak %d MB) | | | <= 150 MB |" % (q, rss // 1024, hwm // 1024),
            "| start-up to /readyz 200 with 100 workflows and %d queued runs | %.0f ms | | | |"
            % (q, ready_ms)]


def main():
    ap = argparse.ArgumentParser()
    for k in ("weir", "graphsim", "source", "work"):
        ap.add_argument("--" + k, required=True)
    ap.add_argument("--rows", type=int, default=100000)
    ap.add_argument("--queued", type=int, default=100000)
    ap.add_argument("--cap", type=int, default=120)
    ap.add_argument("--loadgen", help="bench_loadgen: adds the acks-during-a-drop row")
    ap.add_argument("--only", choices=("bulk", "ack", "queued"))
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args()
    for k in ("weir", "graphsim", "source", "work"):
        setattr(a, k, os.path.abspath(getattr(a, k)))
    if a.loadgen:
        a.loadgen = os.path.abspath(a.loadgen)
    os.makedirs(a.work, exist_ok=True)
    users = max(a.rows, a.queued)
    sim = bl.Sim(a.graphsim, os.path.join(a.source, "tests/graphsim/seed.json"),
                 "--generate-users", users, "--log-limit", 1000)
    rows = []
    try:
        big = os.path.join(a.work, "users-%d.csv" % a.rows)
        write_csv(big, a.rows)
        if a.only in (None, "bulk"):
            try:
                rows += bulk(a, sim, big)
            except Exception as ex:  # noqa: BLE001 - a row saying why beats no table
                rows.append("| bulk CSV, %d rows | n/a (%s) | | | <= 5 s / <= 60 s |"
                            % (a.rows, ex))
        for i in range(a.repeat if a.loadgen and a.only in (None, "ack") else 0):
            try:
                rows += ack_during_drop(a, sim, big, "ack%d" % i if i else "ack")
            except Exception as ex:  # noqa: BLE001
                rows.append("| webhook ack p99 while a %d-row CSV is ingested | n/a (%s) | | | "
                            "<= 10 ms |" % (a.rows, ex))
        if a.only not in (None, "queued"):
            for r in rows:
                print(r)
            return
        sim.reset()
        qfile = os.path.join(a.work, "users-%d.csv" % a.queued)
        if a.queued != a.rows:
            write_csv(qfile, a.queued)
        else:
            qfile = big
        try:
            rows += queued(a, sim, qfile)
        except Exception as ex:  # noqa: BLE001
            rows.append("| RSS with 100 workflows and %d queued runs | n/a (%s) | | | <= 150 MB |"
                        % (a.queued, ex))
    finally:
        sim.stop()
    for r in rows:
        print(r)


if __name__ == "__main__":
    main()
