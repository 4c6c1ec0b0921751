#!/usr/bin/env python3
"""crash_soak.py — the crash soak (scripts/bench): weir is killed with SIGKILL KILLS times
under a steady webhook load, executor on, and afterwards every acknowledged event is checked.

Four client threads post webhooks at RATE events/s in total, each with its own webhook-id and
a distinct graphsim user to retitle (update-user, with graphsim answering after 5 ms so Graph
calls are in flight when the kill comes). weir is killed 0.15-0.4 s after each restart became
ready, and started again on the same journal. At the end the load stops, the last weir
finishes every run and stops with SIGTERM, and the journal and graphsim are read back:

  acked       events answered 202/200 (the client saw the ack)
  lost        acked events missing from the journal, stored under another id, or whose
              run never succeeded, or whose change is not in graphsim
  duplicated  deliveries stored twice, and events with more than one run

usage: crash_soak.py --weir BIN --graphsim BIN --source DIR --work DIR [--kills N] [--rate R]
Prints Markdown table rows; details on stderr.
"""
import argparse
import http.client
import json
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

WORKFLOW = """name: soak
trigger:
  webhook: { path: /hooks/hr }
retry: { attempts: 10, initial: 100ms, max: 2s }
steps:
  - action: update-user
    user: "{{ event.user }}"
    set: { jobTitle: "{{ event.title }}" }
"""
FINAL = "('succeeded', 'failed', 'succeeded_with_errors', 'cancelled')"


def log(*a):
    print("crash_soak:", *a, file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser()
    for k in ("weir", "graphsim", "source", "work"):
        ap.add_argument("--" + k, required=True)
    ap.add_argument("--kills", type=int, default=200)
    ap.add_argument("--rate", type=float, default=150.0)
    a = ap.parse_args()
    for k in ("weir", "graphsim", "source", "work"):
        setattr(a, k, os.path.abspath(getattr(a, k)))
    root = os.path.join(a.work, "soak")
    os.makedirs(root, exist_ok=True)

    # One user per event (the load cannot outrun this: 0.5 s per kill at most RATE/s).
    users = int(a.kills * 0.6 * a.rate) + 2000
    sim = bl.Sim(a.graphsim, os.path.join(a.source, "tests/graphsim/seed.json"),
                 "--generate-users", users, "--latency-ms", 5, "--log-limit", 1000)
    wport, aport = bl.free_port(), bl.free_port()
    bl.weir_config(root, sim.port, wport, aport, "  pacing: { writes_per_150s: off }\n")
    with open(os.path.join(root, "workflows", "soak.yaml"), "w") as f:
        f.write(WORKFLOW)

    acked = {}  # webhook-id -> (event id, user index)
    lock = threading.Lock()
    state = {"stop": False, "n": 0, "refused": 0, "errors": 0}
    interval = 4.0 / a.rate  # per thread

    def load():
        nxt = time.monotonic()
        conn = None
        while not state["stop"]:
            nxt += interval
            delay = nxt - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -0.5:
                nxt = time.monotonic()  # after a stall: no burst to catch up
            with lock:
                state["n"] += 1
                i = state["n"]
            if i > users:
                break
            key = "soak-%d" % i
            body = json.dumps({"user": "synth%06d@%s" % (i, bl.TENANT), "title": "soak %d" % i})
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", wport, timeout=10)
                conn.request("POST", "/hooks/hr", body=body,
                             headers={"Content-Type": "application/json", "webhook-id": key})
                r = conn.getresponse()
                out = r.read()
                if r.status in (200, 202):
                    with lock:
                        acked[key] = (json.loads(out)["event_id"], i)
                else:
                    state["errors"] += 1
            except (OSError, http.client.HTTPException):
                state["refused"] += 1
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.01)  # weir is down: try again shortly, with the next event
        if conn is not None:
            conn.close()

    t0 = time.monotonic()
    w = bl.Weir(a.weir, root, wport, aport)
    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    kills = 0
    rc = None
    try:
        for _ in range(a.kills):
            time.sleep(random.uniform(0.15, 0.4))
            w.kill()
            kills += 1
            w = bl.Weir(a.weir, root, wport, aport)
        time.sleep(0.3)
        state["stop"] = True
        for t in threads:
            t.join()
        load_s = time.monotonic() - t0
        deadline = time.monotonic() + 120
        pending = None
        while time.monotonic() < deadline:
            pending = bl.count(root, "SELECT count(*) FROM runs WHERE status NOT IN " + FINAL)
            if pending == 0:
                break
            time.sleep(0.1)
        rc = w.stop()
    finally:
        if w.proc.poll() is None:
            w.kill()
        users_state = {}
        try:
            for u in sim.get("/_sim/state")["users"]:
                users_state[u["userPrincipalName"]] = u.get("jobTitle")
        finally:
            sim.stop()

    c = bl.Weir.db(w)
    stored = {}
    twice = 0
    for key, eid in c.execute("SELECT idem_key, id FROM events WHERE idem_key LIKE 'soak-%'"):
        if key in stored:
            twice += 1
        stored[key] = eid
    runs = {}
    for eid, status in c.execute("SELECT event_id, status FROM runs"):
        runs.setdefault(eid, []).append(status)
    c.close()
    missing = [k for k in acked if k not in stored]
    wrong_id = [k for k in acked if k in stored and stored[k] != acked[k][0]]
    multi = sum(1 for v in runs.values() if len(v) > 1)
    not_ok = [k for k in acked if k in stored and runs.get(stored[k]) != ["succeeded"]]
    unapplied = [k for k, (_, i) in acked.items()
                 if users_state.get("synth%06d@%s" % (i, bl.TENANT)) != "soak %d" % i]
    lost = set(missing) | set(wrong_id) | set(not_ok) | set(unapplied)
    log("%d acked in %.0f s (%d refused while down, %d non-2xx), %d kills; missing %d, other id "
        "%d, run not succeeded %d, change not in graphsim %d; stored twice %d, events with "
        "several runs %d; last weir exited %s" % (
            len(acked), load_s, state["refused"], state["errors"], kills, len(missing),
            len(wrong_id), len(not_ok), len(unapplied), twice, multi, rc))
    note = "" if rc == 0 else " (the last weir exited %s on SIGTERM)" % rc
    print("| crash soak: kill -9 under load (%.0f webhooks/s, executor on, graphsim 5 ms), "
          "acked events / kills | %d / %d%s | | | |" % (a.rate, len(acked), kills, note))
    print("| crash soak: lost acked events (not journaled, or run or change missing) / "
          "duplicated (stored twice, or two runs) | %d / %d | | | 0 / 0 |"
          % (len(lost), twice + multi))


if __name__ == "__main__":
    main()
