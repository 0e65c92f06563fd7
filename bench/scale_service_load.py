#!/usr/bin/env python3
"""Event -> served load for bench/scale_service.sh (issue #14).

POSTs `example` events (each with a fresh user_id and item_id: two new
embedding rows, as in the issue's measurement) to URL/v1/events at RATE
events/s in batches of BATCH for SECONDS; the service produces them to
Kafka, consumes, learns and publishes. Another thread polls URL/v1/model;
a batch is served when the served version's events_consumed covers every
event sent up to and including it. First one batch alone (the probe) until
it is served: its delay is first_ms (after a restart: until the service
consumes); then prints STARTED and sends at RATE for SECONDS, and one line:
  RESULT batches=N p50_ms=.. p99_ms=.. max_ms=.. first_ms=.. sent=.. rejected=.. unserved=.. rate=..
of the batches after the probe.
With PHASES (seconds from the start, comma-separated, e.g. "20,26"), also one
line per phase (the batches sent in [0, 20), [20, 26), [26, end)), for the
caller to say what else ran then (scale_service.sh: nothing, then wrk at 1
connection, then at 4):
  PHASE i=0 from_s=0 to_s=20 batches=N p50_ms=.. p99_ms=.. max_ms=..

The events are formatted from one template (the fields that vary spliced in),
not built and serialised as dicts: on 2 cores this harness shares the CPU
with the service it measures (json.dumps per event took ~0.25 core at 10k/s).

LOAD_TRACE=FILE writes each batch's send time (s from the start) and delay.

Usage: scale_service_load.py URL RATE SECONDS [BATCH] [PHASES]
"""
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse


def connect(url):
    u = urllib.parse.urlparse(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=30)


def consumed(conn):
    conn.request("GET", "/v1/model")
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        return None
    return json.loads(body).get("events_consumed", 0)


DEVICES = ("mobile", "desktop", "tv")


def event(i, now_ms):
    """One `example` event: fresh user_id and item_id (two new rows)."""
    dense = ",".join(f'"d{j}":{((i * (j + 3)) % 100) / 100.0}' for j in range(8))
    click = 1 if i % 9 == 0 else 0
    watch = float(i % 13) if click else 0.0
    return (f'{{"type":"example","request_id":"r{i}","user_id":"su{i}","item_id":"si{i}",'
            f'"position":{1 + i % 10},"ts_ms":{now_ms},'
            f'"user":{{"age":"a{i % 7}","country":"c{i % 31}","plan":"p{i % 3}"}},'
            f'"item":{{"category":"k{i % 50}","author":"w{i % 997}"}},'
            f'"context":{{"device":"{DEVICES[i % 3]}"}},"dense":{{{dense}}},'
            f'"labels":{{"click":{click},"watch":{watch}}}}}')


def main():
    url, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    batch = int(sys.argv[4]) if len(sys.argv) > 4 else 100
    phases = [float(x) for x in sys.argv[5].split(",")] if len(sys.argv) > 5 and sys.argv[5] else []
    poll = connect(url)
    base = consumed(poll) or 0
    sent_at = []  # (monotonic send time, cumulative events after the batch)
    served = {}   # batch index -> delay ms
    lock = threading.Lock()
    done = threading.Event()

    def poller():
        conn = connect(url)
        next_batch = 0
        while True:
            n = consumed(conn)
            now = time.monotonic()
            with lock:
                while next_batch < len(sent_at) and n is not None and \
                        n - base >= sent_at[next_batch][1]:
                    served[next_batch] = (now - sent_at[next_batch][0]) * 1000
                    next_batch += 1
                finished = done.is_set() and next_batch >= len(sent_at)
            if finished or (done.is_set() and time.monotonic() > deadline):
                return
            time.sleep(0.005)

    deadline = float("inf")
    t = threading.Thread(target=poller)
    t.start()
    conn = connect(url)
    total, rejected, i = 0, 0, 0

    def send():
        nonlocal total, rejected, i
        now_ms = int(time.time() * 1000)
        body = "\n".join(event(i + k, now_ms) for k in range(batch))
        i += batch
        t_send = time.monotonic()
        conn.request("POST", "/v1/events", body, {"Content-Type": "application/x-ndjson"})
        r = conn.getresponse()
        answer = json.loads(r.read())
        rejected += answer.get("rejected", 0)
        total += answer.get("accepted", 0)
        with lock:
            sent_at.append((t_send, total))

    # The probe: one batch, alone, until it is served (after a restart: the
    # time until the service consumes, first_ms). The load starts after it,
    # so that its figures are the steady state's, not a backlog's.
    send()
    probe_deadline = time.monotonic() + 300
    while 0 not in served and time.monotonic() < probe_deadline:
        time.sleep(0.005)
    print("STARTED", flush=True)
    interval = batch / rate
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        target = start + (len(sent_at) - 1) * interval
        delay = target - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        send()
    elapsed = time.monotonic() - start
    deadline = time.monotonic() + 60
    done.set()
    t.join()
    load = range(1, len(sent_at))  # the batches after the probe
    delays = sorted(served[b] for b in load if b in served)
    pick = lambda q, d=delays: d[min(len(d) - 1, int(q * len(d)))] if d else float("nan")
    sent = total - (sent_at[0][1] if sent_at else 0)
    print(f"RESULT batches={len(load)} p50_ms={pick(0.5):.1f} p99_ms={pick(0.99):.1f} "
          f"max_ms={(delays[-1] if delays else float('nan')):.1f} "
          f"first_ms={served.get(0, float('nan')):.1f} sent={sent} rejected={rejected} "
          f"unserved={sum(1 for b in load if b not in served)} rate={sent / elapsed:.0f}")
    if os.environ.get("LOAD_TRACE"):  # one line per batch: seconds sent after the start, delay
        with open(os.environ["LOAD_TRACE"], "w") as trace:
            for b in load:
                trace.write(f"{sent_at[b][0] - start:.3f} {served.get(b, float('nan')):.1f}\n")
    bounds = [0.0] + phases + [float("inf")]
    for k in range(len(bounds) - 1):
        lo, hi = bounds[k], bounds[k + 1]
        d = sorted(served[b] for b in load if b in served and lo <= sent_at[b][0] - start < hi)
        print(f"PHASE i={k} from_s={lo:g} to_s={min(hi, elapsed):.1f} batches={len(d)} "
              f"p50_ms={pick(0.5, d):.1f} p99_ms={pick(0.99, d):.1f} "
              f"max_ms={(d[-1] if d else float('nan')):.1f}")


if __name__ == "__main__":
    main()
