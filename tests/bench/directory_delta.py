#!/usr/bin/env python3
"""directory_delta.py — the user-change trigger on a big tenant (scripts/bench; issue #16).

graphsim holds USERS synthetic users. weir watches them with a user-change workflow
(attributes department and jobTitle; its `when: false` stores the events and starts no run, so
the figure is the trigger's alone) and `every: 1h`, so that each start of weir makes exactly
one round, measured on its own:

  1. baseline: the first round reads the whole tenant through /users/delta and records the
     snapshot (USERS rows of trigger_state), firing nothing;
  2. delta round: weir stopped, CHANGED% of the users get a new department behind its back
     (PATCH /_sim/users), weir started again: the round follows the stored deltaLink, reads
     only the changed users, and stores one event per changed user;
  3. full re-read (the reference): the same again, but graphsim refuses the stored delta token
     (expire_delta_tokens, 410 Gone), so the round reads the whole tenant again and compares
     it with the snapshot — the same events, found the expensive way.

Per round: seconds (weir_trigger_last_poll_duration_seconds: from the first read to the
commit), Graph requests (graphsim's request count, the token request left out), the events
stored, and weir's RSS after the round and its peak (VmHWM). Printed as Markdown table rows
(figure | weir | reference | ratio | goal); details on stderr.

usage: directory_delta.py --weir BIN --graphsim BIN --source DIR --work DIR [--users N]
                          [--changed PERCENT]
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

WORKFLOW = """name: movers
trigger:
  user-change:
    attributes: [department, jobTitle]
    every: 1h
when: "false"
steps:
  - action: update-user
    user: "{{ event.user.id }}"
    set: { officeLocation: moved }
"""


def log(*a):
    print("directory_delta:", *a, file=sys.stderr, flush=True)


def metric(port, name, workflow="movers"):
    status, text = bl.http_json(port, "GET", "/metrics")
    text = text.decode() if isinstance(text, bytes) else str(text)
    total = None
    for line in text.splitlines():
        if line.startswith(name + "{") and 'workflow="%s"' % workflow in line:
            if name == "weir_trigger_polls_total" and 'outcome="ok"' not in line:
                continue
            total = float(line.rsplit(" ", 1)[1])
    return total


def one_round(args, sim, root, ports, label):
    """Starts weir, waits for its first round to end, returns the round's figures."""
    before = sim.stats()
    w = bl.Weir(args.weir, root, ports[0], ports[1])
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if (metric(ports[1], "weir_trigger_polls_total") or 0) >= 1:
                break
            if w.proc.poll() is not None:
                raise RuntimeError("weir exited: " + w.tail())
            time.sleep(0.05)
        else:
            raise RuntimeError("%s: no round ended in 600 s: %s" % (label, w.tail()))
        secs = metric(ports[1], "weir_trigger_last_poll_duration_seconds")
        after = sim.stats()
        rss = bl.rss_kb(w.proc.pid)
        peak = bl.rss_kb(w.proc.pid, "VmHWM")
    finally:
        w.stop()
    events = bl.count(root, "SELECT count(*) FROM events")
    reqs = (after["graph_requests"] - before["graph_requests"])
    log("%s: %.3f s, %d Graph requests, %d events in the journal, RSS %d kB (peak %d kB)"
        % (label, secs, reqs, events, rss, peak))
    return {"s": secs, "requests": reqs, "events": events, "rss": rss, "peak": peak}


def patch_some(sim, users, n, gen):
    for u in users[:n]:
        status, body = bl.http_json(sim.port, "PATCH", "/_sim/users/" + u["id"],
                                    {"department": "Moved %d" % gen})
        if status != 204:
            raise RuntimeError("PATCH answered %d: %s" % (status, body))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weir", required=True)
    ap.add_argument("--graphsim", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--users", type=int, default=100000)
    ap.add_argument("--changed", type=float, default=1.0)
    args = ap.parse_args()
    args.weir = os.path.abspath(args.weir)  # weir runs in its own directory
    args.graphsim = os.path.abspath(args.graphsim)
    os.makedirs(args.work, exist_ok=True)
    seed = os.path.join(args.source, "tests/graphsim/seed.json")
    sim = bl.Sim(args.graphsim, seed, "--generate-users", args.users)
    root = os.path.join(args.work, "weir")
    try:
        ports = (bl.free_port(), bl.free_port())
        bl.weir_config(root, sim.port, ports[0], ports[1])
        with open(os.path.join(root, "workflows", "movers.yaml"), "w") as f:
            f.write(WORKFLOW)
        users = sim.get("/_sim/state")["users"]
        n = max(1, int(len(users) * args.changed / 100))
        log("tenant: %d users; %d (%.1f%%) change per round" % (len(users), n, args.changed))
        base = one_round(args, sim, root, ports, "baseline (whole tenant, snapshot written)")
        patch_some(sim, users, n, 1)
        delta = one_round(args, sim, root, ports, "delta round")
        delta["events"] -= base["events"]
        # The reference: the same changes found by a full re-read (the delta token refused).
        patch_some(sim, users[n:], n, 2)
        bl.http_json(sim.port, "POST", "/_sim/faults",
                     {"expire_delta_tokens": True, "delta_expired_status": 410})
        events_before = bl.count(root, "SELECT count(*) FROM events")
        full = one_round(args, sim, root, ports, "full re-read (token refused)")
        full["events"] -= events_before
    finally:
        sim.stop()
        bl.rmtree(args.work)
    k = "%dk" % (len(users) // 1000) if len(users) >= 1000 else str(len(users))
    what = "user-change round, %s users, %g%% changed" % (k, args.changed)
    print("| %s: seconds (delta round / full re-read) | %.3f s | %.3f s | %.3f | |"
          % (what, delta["s"], full["s"], delta["s"] / full["s"] if full["s"] else 0))
    print("| %s: Graph requests | %d | %d | %.3f | |"
          % (what, delta["requests"], full["requests"],
             delta["requests"] / full["requests"] if full["requests"] else 0))
    print("| %s: events (one per changed user) | %d | %d | | = %d |"
          % (what, delta["events"], full["events"], n))
    print("| %s: weir RSS after the round (peak) | %.1f MiB (%.1f) | %.1f MiB (%.1f) | %.2f | |"
          % (what, delta["rss"] / 1024, delta["peak"] / 1024, full["rss"] / 1024,
             full["peak"] / 1024, delta["rss"] / full["rss"] if full["rss"] else 0))
    print("| user-change baseline round, %s users (whole tenant read, snapshot written) "
          "| %.2f s, %d requests | | | |" % (k, base["s"], base["requests"]))


if __name__ == "__main__":
    main()
