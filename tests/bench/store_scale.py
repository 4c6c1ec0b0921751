#!/usr/bin/env python3
"""store_scale.py — the journal on SQLite and on PostgreSQL, one and three instances
(scripts/bench, issue 21).

Three configurations, measured in one run, interleaved (each round takes them in a rotated
order) on a store of their own each time:

  SQLite       one `weir run`, state ./var/weir.db
  PostgreSQL   one `weir run`, state postgresql://...&options=-csearch_path%3DSCHEMA
  PostgreSQL   three `weir run`s sharing that store (runs leased, one leader)

A fresh schema for every measurement (DROP SCHEMA IF EXISTS ... CASCADE; CREATE SCHEMA via
psql), in the throw-away cluster whose URL the file --pg-url holds (tests/pg/pg_cluster);
every schema made here is dropped at the end. The public schema is never touched.

1. Durable acks/s: weir --ingest-only --log-level warn (every ack after the commit; runs are
   queued, none executed), JSON webhooks of ~1 KB (tests/bench/hr_webhook.lua, each with its own
   webhook-id; the id prefix made distinct per wrk process, so three loads never collide) to a
   workflow without a signature check, wrk -t2 -cCONNECTIONS -dSECONDS per instance, the loads
   of three instances at once; acks/s summed over instances, p99 the worst instance's. Then the
   journal is counted: every 2xx answer must be an event in it.
2. End-to-end runs/s: graphsim --generate-users EVENTS; the instances run normally (executor
   on, pacing off, $batch default); EVENTS webhooks, each retitling a distinct user
   (update-user), are posted by an asyncio client in this script over CONNECTIONS keep-alive
   connections per instance (spread evenly over the instances); measured from the first post
   until every run has succeeded (runs counted with psql, or sqlite3 on the SQLite file).

usage: store_scale.py --weir BIN --graphsim BIN --source DIR --work DIR --pg-url FILE
                      [--events N] [--seconds S] [--rounds R] [--connections C] [--cap S]
Prints Markdown table rows (figure | weir | reference | ratio | goal), the SQLite figure of
the same run the reference of the PostgreSQL ones; details on stderr (with every warn and
error line of the instances' logs, and PostgreSQL transactions per run). Any failure raises.
"""
import argparse
import asyncio
import glob
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

WORKFLOW = """name: store-scale
trigger:
  webhook: { path: /hooks/hr }
steps:
  - action: update-user
    user: "{{ event.user }}"
    set: { jobTitle: "{{ event.title }}" }
"""
FINAL = ("succeeded", "failed", "succeeded_with_errors", "cancelled")

CONFIGS = [  # key, label, PostgreSQL?, instances
    ("sqlite", "SQLite, 1 instance", False, 1),
    ("pg1", "PostgreSQL, 1 instance", True, 1),
    ("pg3", "PostgreSQL, 3 instances", True, 3),
]


def log(*a):
    print("store_scale:", *a, file=sys.stderr, flush=True)


def find_psql():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"),
                   key=lambda p: [int(x) if x.isdigit() else 0 for x in p.split("/")])
    if found:
        return found[-1]
    p = shutil.which("psql")
    if not p:
        raise RuntimeError("no psql (Debian package postgresql-client)")
    return p


class Pg:
    """The cluster of --pg-url: psql, and the schemas made here (dropped by drop_all)."""

    def __init__(self, url_file):
        with open(url_file) as f:
            self.base = f.readline().strip()
        if not self.base.startswith("postgresql://"):
            raise RuntimeError("%s does not hold a postgresql:// URL" % url_file)
        self.psql_bin = find_psql()
        self.schemas = []

    def psql(self, url, *sql):
        args = [self.psql_bin, url, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1"]
        for s in sql:
            args += ["-c", s]
        r = subprocess.run(args, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("psql: %s" % r.stderr.strip().replace("\n", " "))
        return [line for line in r.stdout.splitlines() if line]

    def fresh(self, schema):
        """A new empty schema; the URL whose search_path is it."""
        if not re.match(r"^[a-z_][a-z0-9_]*$", schema) or schema == "public":
            raise RuntimeError("bad schema name %r" % schema)
        if schema not in self.schemas:
            self.schemas.append(schema)
        self.psql(self.base, "DROP SCHEMA IF EXISTS %s CASCADE" % schema,
                  "CREATE SCHEMA %s" % schema)
        return self.base + "&options=-csearch_path%3D" + schema

    def drop_all(self):
        for s in self.schemas:
            try:
                self.psql(self.base, "DROP SCHEMA IF EXISTS %s CASCADE" % s)
            except Exception as ex:  # noqa: BLE001 - cleanup goes on
                log("dropping schema %s: %s" % (s, ex))
        self.schemas = []


class Store:
    """One measurement's store: a SQLite file per root, or a fresh schema shared by all."""

    def __init__(self, pg, schema):
        self.pg = pg
        self.url = pg.fresh(schema) if pg else None
        self.roots = []

    def state_line(self):
        return "state: %s\n" % json.dumps(self.url) if self.url else "state: ./var/weir.db\n"

    def query(self, sql):
        """One row of integers."""
        if self.url:
            row = self.pg.psql(self.url, sql)[0]
            return [int(x) for x in row.split("|")]
        c = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.roots[0], "var", "weir.db"),
                               uri=True, timeout=30)
        try:
            return [int(x) for x in c.execute(sql).fetchone()]
        finally:
            c.close()


def start_instances(a, store, name, n, sim_port, ingest_only):
    """n weirs on store, each in work/NAME/iK with its own ports; started concurrently."""
    weirs = []
    for k in range(n):
        root = os.path.join(a.work, name, "i%d" % k)
        bl.rmtree(root)
        os.makedirs(os.path.join(root, "var"))
        wport, aport = bl.free_port(), bl.free_port()
        bl.weir_config(root, sim_port, wport, aport, "  pacing: { writes_per_150s: off }\n")
        path = os.path.join(root, "weir.yaml")
        with open(path) as f:
            text = f.read()
        if "state: ./var/weir.db\n" not in text:
            raise RuntimeError("benchlib's weir.yaml has no 'state: ./var/weir.db' line")
        with open(path, "w") as f:
            f.write(text.replace("state: ./var/weir.db\n", store.state_line()))
        with open(os.path.join(root, "workflows", "store-scale.yaml"), "w") as f:
            f.write(WORKFLOW)
        store.roots.append(root)
        weirs.append(bl.Weir(a.weir, root, wport, aport, ingest_only=ingest_only, wait=False))
        a.live.append(weirs[-1])
    for w in weirs:
        if ingest_only:
            bl.wait_port(w.webhook_port, timeout=60, proc=w.proc)
        else:
            w.wait_ready()
    return weirs


def metric(w, name):
    """The sum of a /metrics family's samples on instance w (None when not answered)."""
    try:
        status, text = bl.http_json(w.admin_port, "GET", "/metrics", timeout=10)
    except OSError:
        return None
    if status != 200:
        return None
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    total = 0.0
    for line in str(text).splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def journal_note(weirs):
    """Events and commits of the journal writers: events per commit, per instance."""
    parts = []
    for w in weirs:
        ev, co = metric(w, "weir_journal_events_total"), metric(w, "weir_journal_commits_total")
        if ev is None or co is None:
            parts.append("-")
        else:
            parts.append("%d events in %d commits" % (ev, co))
    return ", ".join(parts)


def stop_instances(a, weirs, what):
    """Stops them (SIGTERM); their logs' warn and error lines go to stderr."""
    for w in weirs:
        rc = w.stop()
        if w in a.live:
            a.live.remove(w)
        with open(os.path.join(w.root, "weir.log"), "rb") as f:
            lines = f.read().decode(errors="replace").splitlines()
        odd = [x for x in lines if "level=warn" in x or "level=error" in x or "level=fatal" in x]
        if rc != 0 or odd:
            a.odd.append("%s %s: exit %s, %d warn/error lines" % (what, os.path.basename(w.root),
                                                                 rc, len(odd)))
            log("%s, %s: weir exited %s; %d warn/error lines in its log%s" % (
                what, w.root, rc, len(odd), "".join("\n    " + x[:300] for x in odd[:8])))


def wrk_script(a, tag):
    """tests/bench/hr_webhook.lua with TAG in its webhook-ids (wrk processes started in the same
    second would otherwise draw the same prefixes)."""
    with open(os.path.join(a.source, "tests/bench/hr_webhook.lua")) as f:
        text = f.read()
    old = 'prefix = string.format("%d-%d-", tid or 0,'
    if old not in text:
        raise RuntimeError("tests/bench/hr_webhook.lua changed: no '%s'" % old)
    path = os.path.join(a.work, "hr_webhook_%s.lua" % tag)
    with open(path, "w") as f:
        f.write(text.replace(old, 'prefix = string.format("%s-%%d-%%d-", tid or 0,' % tag))
    return path


def to_ms(v):
    m = re.match(r"^([0-9.]+)(us|ms|s|m)$", v)
    if not m:
        raise RuntimeError("wrk latency %r" % v)
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[m.group(2)]


def parse_wrk(out):
    rps = re.search(r"^Requests/sec:\s+([0-9.]+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    total = re.search(r"^\s+(\d+) requests in", out, re.M)
    if not (rps and p99 and total):
        raise RuntimeError("wrk said: %s" % out.strip()[-400:])
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {"rps": float(rps.group(1)), "p99": to_ms(p99.group(1)),
            "requests": int(total.group(1)), "bad": int(non2xx.group(1)) if non2xx else 0,
            "errors": errors.group(0) if errors else ""}


def acks(a, pg, cfg, rnd):
    key, label, is_pg, n = cfg
    name = "%s-acks%d" % (key, rnd)
    store = Store(pg if is_pg else None, "store_scale_%s_acks%d" % (key, rnd))
    weirs = start_instances(a, store, name, n, a.sim.port, ingest_only=True)
    procs = []
    try:
        for k, w in enumerate(weirs):
            script = wrk_script(a, "%s-r%d-i%d" % (key, rnd, k))
            procs.append(subprocess.Popen(
                ["wrk", "-t2", "-c%d" % a.connections, "-d%ds" % a.seconds, "--latency",
                 "-s", script, "http://127.0.0.1:%d/hooks/hr" % w.webhook_port],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        outs = []
        for p in procs:
            out, _ = p.communicate(timeout=a.seconds + 60)
            if p.returncode != 0:
                raise RuntimeError("wrk exited %d: %s" % (p.returncode, out.strip()[-300:]))
            outs.append(parse_wrk(out))
        note = journal_note(weirs)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        stop_instances(a, weirs, "%s acks" % label)
    events = store.query("SELECT count(*) FROM events")[0]
    r = {"rps": sum(o["rps"] for o in outs), "p99": max(o["p99"] for o in outs),
         "acked": sum(o["requests"] - o["bad"] for o in outs),
         "bad": sum(o["bad"] for o in outs), "events": events}
    log("acks, %s, round %d: %.0f acks/s (%s), p99 %.2f ms (%s); %d acked, %d non-2xx, %d events "
        "in the journal (%s)%s" % (
            label, rnd, r["rps"], " + ".join("%.0f" % o["rps"] for o in outs), r["p99"],
            " / ".join("%.2f" % o["p99"] for o in outs), r["acked"], r["bad"], events, note,
            "".join("; " + o["errors"] for o in outs if o["errors"])))
    if r["bad"]:
        raise RuntimeError("acks, %s: %d non-2xx answers" % (label, r["bad"]))
    # wrk stops with requests in flight: the journal may hold a few more than it counted
    if events < r["acked"]:
        raise RuntimeError("acks, %s: %d acked but %d events in the journal"
                           % (label, r["acked"], events))
    return r


# --- the end-to-end client: plain HTTP/1.1 over keep-alive connections --------------------

async def _post_worker(port, queue, stats):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while queue:
            wid, body = queue.pop()
            req = ("POST /hooks/hr HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                   "\r\nwebhook-id: %s\r\nContent-Length: %d\r\n\r\n" % (wid, len(body))).encode()
            writer.write(req + body)
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            length = None
            close = False
            for line in lines[1:]:
                k, _, v = line.partition(":")
                k = k.strip().lower()
                if k == "content-length":
                    length = int(v)
                elif k == "transfer-encoding":
                    raise RuntimeError("weir answered with Transfer-Encoding: %s" % v.strip())
                elif k == "connection" and v.strip().lower() == "close":
                    close = True
            if length is None:
                raise RuntimeError("weir answered %d without Content-Length" % status)
            answer = await reader.readexactly(length)
            if not 200 <= status < 300:
                raise RuntimeError("webhook %s answered %d: %s" % (wid, status, answer[:200]))
            stats["ok"] += 1
            if close:
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
    finally:
        writer.close()


async def _post_all(jobs, connections):
    stats = {"ok": 0}
    tasks = []
    for port, items in jobs:
        queue = list(reversed(items))  # pop() takes them in order
        tasks += [asyncio.ensure_future(_post_worker(port, queue, stats))
                  for _ in range(connections)]
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
    return stats["ok"]


def e2e(a, pg, cfg, rnd):
    key, label, is_pg, n = cfg
    name = "%s-e2e%d" % (key, rnd)
    store = Store(pg if is_pg else None, "store_scale_%s_e2e%d" % (key, rnd))
    weirs = start_instances(a, store, name, n, a.sim.port, ingest_only=False)
    tag = "%s-%d" % (key, rnd)
    jobs = [(w.webhook_port, []) for w in weirs]
    for i in range(1, a.events + 1):
        body = json.dumps({"user": "synth%06d@%s" % (i, bl.TENANT),
                           "title": "%s %d" % (tag, i)}, separators=(",", ":")).encode()
        jobs[i % n][1].append(("ss-%s-%d" % (tag, i), body))
    sql = ("SELECT count(*) FILTER (WHERE status = 'succeeded'), "
           "count(*) FILTER (WHERE status IN (%s)), count(*) FROM runs"
           % ", ".join("'%s'" % s for s in FINAL))
    if not is_pg:  # SQLite has FILTER too (3.30), but spell it portably
        sql = ("SELECT sum(status = 'succeeded'), sum(status IN (%s)), count(*) FROM runs"
               % ", ".join("'%s'" % s for s in FINAL))
    xact = ("SELECT xact_commit + xact_rollback FROM pg_stat_database "
            "WHERE datname = current_database()")
    x0 = store.query(xact)[0] if is_pg else None
    try:
        t0 = time.monotonic()
        ok = asyncio.run(_post_all(jobs, a.connections))
        t_acked = time.monotonic()
        if ok != a.events:
            raise RuntimeError("%d of %d webhooks acknowledged" % (ok, a.events))
        deadline = t0 + a.cap
        last = t_acked
        done = final = total = 0
        while True:
            done, final, total = [v or 0 for v in store.query(sql)]
            now = time.monotonic()
            if done >= a.events or final >= a.events:
                break
            if now > deadline:
                raise RuntimeError("e2e, %s: %d of %d runs succeeded (%d final, %d runs) after "
                                   "%d s" % (label, done, a.events, final, total, a.cap))
            if now - last > 10:
                last = now
                log("e2e, %s: %.0f s: %d of %d runs succeeded" % (label, now - t0, done,
                                                                 a.events))
            time.sleep(0.05 if not is_pg else 0.1)
        t_done = time.monotonic()
        finished = [metric(w, "weir_runs_finished_total") for w in weirs]
        note = journal_note(weirs)
        if is_pg:  # the statistics lag a little (flushed by each backend about every second)
            time.sleep(1.1)
            note += "; about %.1f PostgreSQL transactions per run" % (
                (store.query(xact)[0] - x0) / a.events)
    finally:
        stop_instances(a, weirs, "%s e2e" % label)
    log("e2e, %s, round %d: %d webhooks acked in %.2f s (%.0f/s); all runs final after %.2f s "
        "(%.0f runs/s): %d succeeded, %d final, %d runs; runs finished per instance %s; %s" % (
            label, rnd, a.events, t_acked - t0, a.events / (t_acked - t0), t_done - t0,
            a.events / (t_done - t0), done, final, total,
            " / ".join("-" if f is None else "%d" % f for f in finished), note))
    if done != a.events or total != a.events:
        raise RuntimeError("e2e, %s: %d runs, %d succeeded, want %d" % (label, total, done,
                                                                       a.events))
    return {"secs": t_done - t0, "ack_secs": t_acked - t0}


def main():
    ap = argparse.ArgumentParser()
    for k in ("weir", "graphsim", "source", "work", "pg-url"):
        ap.add_argument("--" + k, required=True)
    ap.add_argument("--events", type=int, default=6000, help="webhooks per e2e measurement")
    ap.add_argument("--seconds", type=int, default=10, help="wrk's window per ack measurement")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--connections", type=int, default=32, help="per instance")
    ap.add_argument("--cap", type=int, default=120, help="seconds an e2e measurement may take")
    a = ap.parse_args()
    for k in ("weir", "graphsim", "source", "work", "pg_url"):
        setattr(a, k, os.path.abspath(getattr(a, k)))
    if not shutil.which("wrk"):
        raise RuntimeError("wrk is missing (apt-get install wrk)")
    os.makedirs(a.work, exist_ok=True)
    # SIGTERM (a bench being stopped) cleans up like an exception
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("store_scale: SIGTERM"))
    pg = Pg(a.pg_url)
    a.live, a.odd, a.sim = [], [], None
    res = {c[0]: {"acks": [], "e2e": []} for c in CONFIGS}
    t_start = time.monotonic()
    try:
        a.sim = bl.Sim(a.graphsim, os.path.join(a.source, "tests/graphsim/seed.json"),
                       "--generate-users", a.events, "--log-limit", 1000)
        for rnd in range(1, a.rounds + 1):
            order = CONFIGS[rnd - 1:] + CONFIGS[:rnd - 1]  # rotated each round
            for cfg in order:
                res[cfg[0]]["acks"].append(acks(a, pg, cfg, rnd))
            for cfg in order:
                res[cfg[0]]["e2e"].append(e2e(a, pg, cfg, rnd))
    finally:
        bl.stop_all(list(a.live))
        if a.sim is not None:
            a.sim.stop()
        pg.drop_all()
    log("done in %.0f s%s" % (time.monotonic() - t_start,
                              "; odd: " + "; ".join(a.odd) if a.odd else ""))

    def fig(key):
        r = res[key]
        return {"rps": sum(x["rps"] for x in r["acks"]) / len(r["acks"]),
                "p99": max(x["p99"] for x in r["acks"]),
                "runs": len(r["e2e"]) * a.events / sum(x["secs"] for x in r["e2e"])}

    def row(*cells):
        print("|" + "".join(" %s |" % c if c else " |" for c in cells))

    def num(v):
        return "{:,.0f}".format(v)

    figs = {c[0]: fig(c[0]) for c in CONFIGS}
    ref = figs["sqlite"]
    ref_label = CONFIGS[0][1]
    rounds = "" if a.rounds == 1 else ", mean of %d rounds" % a.rounds
    for key, label, _, n in CONFIGS:
        f, base = figs[key], key == "sqlite"
        row("durable acks/s, %s (wrk, %d connections%s, --ingest-only%s)"
            % (label, a.connections, " each" if n > 1 else "", rounds), num(f["rps"]),
            "" if base else "%s (%s)" % (num(ref["rps"]), ref_label),
            "" if base else "%.2f" % (f["rps"] / ref["rps"]), "")
    worst = [w for w in ("" if a.rounds == 1 else "the worst round",) if w]
    for key, label, _, n in CONFIGS:
        f, base = figs[key], key == "sqlite"
        which = (["the worst instance"] if n > 1 else []) + worst
        row("ack latency p99 at saturation, %s%s" % (label, " (%s)" % ", ".join(which)
                                                     if which else ""),
            "%.2f ms" % f["p99"], "" if base else "%.2f ms (%s)" % (ref["p99"], ref_label),
            "" if base else "%.2f" % (f["p99"] / ref["p99"]), "")
    rounds = "" if a.rounds == 1 else ", %d rounds" % a.rounds
    for key, label, _, n in CONFIGS:
        f, base = figs[key], key == "sqlite"
        row("end-to-end runs/s, %s: %d webhooks (%d connections%s) until every run succeeded "
            "(update-user against graphsim, pacing off%s)"
            % (label, a.events, a.connections, " each" if n > 1 else "", rounds),
            num(f["runs"]), "" if base else "%s (%s)" % (num(ref["runs"]), ref_label),
            "" if base else "%.2f" % (f["runs"] / ref["runs"]), "")


if __name__ == "__main__":
    main()
