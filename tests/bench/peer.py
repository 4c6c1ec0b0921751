#!/usr/bin/env python3
"""peer.py — the end-to-end benchmark against a peer, and the write economy (scripts/bench).

End to end: the same job — an HR webhook, ten HR fields mapped to Graph properties, a PATCH of
the user in graphsim, done — in weir (tests/bench/hr_sync.yaml: a Lua hook and update-user,
every event committed to the journal before its ack) and in Node-RED 4
(tests/bench/nodered/flows.json: http in -> function -> http request -> http response). Each
is fed the same EVENTS distinct webhooks (every one a real change of a distinct user) over 32
keep-alive connections by build-release/bench_feed, and the figure is completed PATCHes per
second as graphsim counts them (`mutations`, $batch items one each), from the first event sent
until graphsim has applied all of them. weir runs with $batch (20) and without; pacing off.

Write economy: a full sync of ECONOMY users in which 1 % have a changed record, as webhooks
through the same two set-ups: the Graph writes each sends (graphsim's request log: PATCHes,
$batch items one each) and how long they take under Graph's write limit (writes / 20 per s).

usage: peer.py --weir BIN --graphsim BIN --feed BIN --source DIR --work DIR
               [--events N] [--economy N] [--nodered DIR | --no-nodered REASON]
Prints Markdown table rows (figure | weir | reference | ratio | goal), and details on stderr.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

FINAL = "('succeeded', 'failed', 'succeeded_with_errors', 'cancelled')"
GRAPH_WRITE_LIMIT = 20.0  # writes per second a tenant may send (GRAPH.md: 3,000 per 150 s)


def log(*a):
    print("peer:", *a, file=sys.stderr, flush=True)


class NodeRed:
    def __init__(self, peers, source, work, sim):
        self.dir = os.path.join(work, "nodered")
        os.makedirs(self.dir, exist_ok=True)
        shutil.copy(os.path.join(source, "tests/bench/nodered/flows.json"), self.dir)
        self.port = bl.free_port()
        env = dict(os.environ, GRAPH_BASE="http://127.0.0.1:%d/v1.0" % sim.port,
                   GRAPH_TOKEN=sim.token(), NODE_ENV="production")
        self.log = open(os.path.join(self.dir, "node-red.log"), "ab")
        self.proc = subprocess.Popen(
            ["node", os.path.join(peers, "node_modules/node-red/red.js"),
             "--settings", os.path.join(source, "tests/bench/nodered/settings.js"),
             "--userDir", self.dir, "--port", str(self.port),
             os.path.join(self.dir, "flows.json")],
            env=env, stdout=self.log, stderr=self.log)
        bl.wait_port(self.port, timeout=60, proc=self.proc)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def start_weir(a, sim, name, batch):
    root = os.path.join(a.work, name)
    os.makedirs(os.path.join(root, "scripts"), exist_ok=True)
    shutil.copy(os.path.join(a.source, "tests/bench/hr_map10.lua"), os.path.join(root, "scripts"))
    wport, aport = bl.free_port(), bl.free_port()
    bl.weir_config(root, sim.port, wport, aport,
                   "  pacing: { writes_per_150s: off }\n  batch: %s\n" % batch)
    shutil.copy(os.path.join(a.source, "tests/bench/hr_sync.yaml"),
                os.path.join(root, "workflows"))
    return bl.Weir(a.weir, root, wport, aport)


def feed(a, port, events, prefix):
    """Starts bench_feed; returns the process (its stdout is the summary line)."""
    return subprocess.Popen([a.feed, str(port), "/hooks/hr", events, "32", prefix],
                            stdout=subprocess.PIPE, text=True)


def wait_mutations(sim, target, deadline):
    """Polls graphsim until `mutations` reaches target; returns the monotonic time or None."""
    while time.monotonic() < deadline:
        if sim.mutations() >= target:
            return time.monotonic()
        time.sleep(0.02)
    return None


class Rate:
    """Completed PATCHes per second; partial when the cap ended the run first."""

    def __init__(self, n, done, secs, why=""):
        self.n, self.done, self.secs, self.why = n, done, secs, why
        self.value = done / secs if secs > 0 else 0.0
        self.complete = done >= n and not why

    def cell(self):
        if self.complete:
            return "%.0f" % self.value
        if self.done == 0:
            return "n/a (%s)" % (self.why or "no PATCH")
        return "%.0f (partial: %d of %d PATCHes after %.0f s%s)" % (
            self.value, self.done, self.n, self.secs, "; " + self.why if self.why else "")


def throughput(a, sim, port, n, events):
    """Feeds the events to whatever listens on port; returns a Rate."""
    sim.reset()
    m0 = sim.mutations()
    t0 = time.monotonic()
    p = feed(a, port, events, "e2e")
    t1 = wait_mutations(sim, m0 + n, t0 + a.cap)
    secs = (t1 or time.monotonic()) - t0
    done = min(sim.mutations() - m0, n)
    try:  # the feed ends with its last answer, which comes right after the last PATCH
        out, _ = p.communicate(timeout=10 if t1 else 0.1)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        out = "stopped at the cap"
    log("feed: %s; %d of %d PATCHes in %.1f s" % (out.strip(), done, n, secs))
    return Rate(n, done, secs)


def weir_e2e(a, sim, n, events, batch):
    w = start_weir(a, sim, "e2e-batch-%s" % batch, batch)
    try:
        r = throughput(a, sim, w.webhook_port, n, events)
        if r.complete:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if bl.count(w.root, "SELECT count(*) FROM runs WHERE status NOT IN " + FINAL) == 0:
                    break
                time.sleep(0.1)
            ok = bl.count(w.root, "SELECT count(*) FROM runs WHERE status = 'succeeded'")
            if ok != n:
                r.why = "%d of %d runs succeeded" % (ok, n)
                r.complete = False
        log("weir batch=%s: %s PATCHes/s" % (batch, r.cell()))
        return r
    finally:
        rc = w.stop()
        if rc != 0:
            log("weir exited %s: %s" % (rc, w.tail()))


def patches(sim):
    """PATCH requests in graphsim's request log ($batch items one each)."""
    reqs = sim.get("/_sim/requests")
    return sum(1 for r in reqs["value"] if r["method"] == "PATCH"), reqs.get("dropped", 0)


def secs_cell(writes):
    s = writes / GRAPH_WRITE_LIMIT
    return "%.0f s" % s if s >= 10 else "%.1f s" % s


def weir_economy(a, sim, n, events, changed):
    sim.reset()
    w = start_weir(a, sim, "economy", 20)
    try:
        t0 = time.monotonic()
        p = feed(a, w.webhook_port, events, "econ")
        deadline = t0 + a.cap
        final = 0
        while time.monotonic() < deadline:
            final = bl.count(w.root, "SELECT count(*) FROM runs WHERE status IN " + FINAL)
            if final >= n:
                break
            time.sleep(0.05)
        secs = time.monotonic() - t0
        if p.poll() is None:
            p.kill()
        log("feed: %s" % p.communicate()[0].strip())
        ok = bl.count(w.root, "SELECT count(*) FROM runs WHERE status = 'succeeded'")
        writes, dropped = patches(sim)
        note = ""
        if final < n:
            note = "partial: %d of %d runs done after %d s" % (final, n, a.cap)
        elif ok != n or dropped:
            note = "%d of %d runs succeeded" % (ok, n)
        log("economy weir: %d writes for %d changes, %d of %d runs succeeded, %.1f s" % (
            writes, changed, ok, n, secs))
        return writes, note
    finally:
        w.stop()


def nodered_economy(a, sim, nr, n, events):
    sim.reset()
    p = feed(a, nr.port, events, "econ")
    try:
        out, _ = p.communicate(timeout=a.cap)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    log("feed: %s" % out.strip())
    writes, _ = patches(sim)
    log("economy node-red: %d writes" % writes)
    return writes


def main():
    ap = argparse.ArgumentParser()
    for k in ("weir", "graphsim", "feed", "source", "work"):
        ap.add_argument("--" + k, required=True)
    ap.add_argument("--events", type=int, default=50000)
    ap.add_argument("--economy", type=int, default=10000)
    ap.add_argument("--nodered")
    ap.add_argument("--no-nodered")
    ap.add_argument("--cap", type=int, default=120,
                    help="seconds a run may take before its figure is reported as partial")
    a = ap.parse_args()
    for k in ("weir", "graphsim", "feed", "source", "work", "nodered"):
        if getattr(a, k):
            setattr(a, k, os.path.abspath(getattr(a, k)))
    os.makedirs(a.work, exist_ok=True)

    n, e = a.events, a.economy
    changed = e // 100
    seed = os.path.join(a.work, "seed.json")
    bl.write_seed(os.path.join(a.source, "tests/graphsim/seed.json"), seed, max(n, e))
    ev_all = os.path.join(a.work, "e2e.ndjson")
    bl.write_events(ev_all, n, lambda i: True)
    ev_econ = os.path.join(a.work, "economy.ndjson")
    bl.write_events(ev_econ, e, lambda i: i % 100 == 0)
    sim = bl.Sim(a.graphsim, seed, "--log-limit", str(max(4 * e, 200000)))
    rows = []
    nr = None
    try:
        on = weir_e2e(a, sim, n, ev_all, 20)
        off = weir_e2e(a, sim, n, ev_all, "off")

        peer = None
        why = a.no_nodered or "not run"
        if a.nodered and not a.no_nodered:
            try:
                nr = NodeRed(a.nodered, a.source, a.work, sim)
                peer = throughput(a, sim, nr.port, n, ev_all)
                log("node-red: %s PATCHes/s" % peer.cell())
            except Exception as ex:  # noqa: BLE001 - the peer must never fail the bench
                why = "node-red failed: %s" % ex
                log(why)
                peer = None
        ref = "%s (Node-RED 4)" % peer.cell() if peer else "Node-RED 4: n/a (%s)" % why
        ratio = ""
        if on.value and peer and peer.value:
            ratio = "%.1fx%s" % (on.value / peer.value,
                                 "" if on.complete and peer.complete else " (partial)")
        rows.append("| end to end: %d HR webhooks -> Lua map of 10 fields -> PATCH in graphsim, "
                    "completed PATCHes/s ($batch on, pacing off, every ack durable) | %s | %s | %s "
                    "| >= 10x |" % (n, on.cell(), ref, ratio))
        ratio = ""
        if on.value and off.value:
            ratio = "%.2fx" % (off.value / on.value)
        rows.append("| end to end as above, weir with $batch off | %s | %s (weir, $batch on) "
                    "| %s | |" % (off.cell(), on.cell(), ratio))

        w_writes, w_note = weir_economy(a, sim, e, ev_econ, changed)
        if peer is not None:
            nr_writes = nodered_economy(a, sim, nr, e, ev_econ)
            nr_cell = "%d writes, %s (Node-RED 4: writes every user)" % (
                nr_writes, secs_cell(nr_writes))
            ratio = "%.3f" % (w_writes / nr_writes) if nr_writes else ""
        else:
            nr_cell = "Node-RED 4: n/a (%s); its flow writes every user: %d writes, %s" % (
                why, e, secs_cell(e))
            ratio = ""
        rows.append("| write economy: full sync of %d users by webhook, %d changed: Graph writes "
                    "sent, and their time under Graph's limit of 20 writes/s | %d writes, %s%s "
                    "| %s | %s | <= %d writes |" % (
                        e, changed, w_writes, secs_cell(w_writes),
                        " (%s)" % w_note if w_note else "", nr_cell, ratio,
                        int(changed * 1.05)))
    finally:
        if nr is not None:
            nr.stop()
        sim.stop()
    for r in rows:
        print(r)


if __name__ == "__main__":
    main()
