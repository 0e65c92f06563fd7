#!/usr/bin/env python3
"""Event -> served load for bench/scale_service.sh (issue #14).

POSTs `example` events (each with a fresh user_id and item_id: two new
embedding rows, as in the issue's measurement) to URL/v1/events at RATE
events/s in batches of BATCH for SECONDS; the service produces them to
Kafka, consumes, learns and publishes. Another thread polls URL/v1/model;
a batch is served when the served version's events_consumed covers every
event sent up to and including it. Prints one line:
  RESULT batches=N p50_ms=.. p99_ms=.. max_ms=.. first_ms=.. sent=.. rejected=.. unserved=..
         steady_p50_ms=.. steady_p99_ms=.. rate=..
first_ms is the first batch's delay (after a restart: until consuming); the
steady_ figures leave out the batches sent before the first one was served.

Usage: scale_service_load.py URL RATE SECONDS [BATCH]
"""
import http.client
import json
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


def event(i, now_ms):
    return json.dumps({
        "type": "example", "request_id": f"r{i}", "user_id": f"su{i}", "item_id": f"si{i}",
        "position": 1 + i % 10, "ts_ms": now_ms,
        "user": {"age": f"a{i % 7}", "country": f"c{i % 31}", "plan": f"p{i % 3}"},
        "item": {"category": f"k{i % 50}", "author": f"w{i % 997}"},
        "context": {"device": ("mobile", "desktop", "tv")[i % 3]},
        "dense": {f"d{j}": ((i * (j + 3)) % 100) / 100.0 for j in range(8)},
        "labels": {"click": 1 if i % 9 == 0 else 0, "watch": float(i % 13) if i % 9 == 0 else 0.0},
    }, separators=(",", ":"))


def main():
    url, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    batch = int(sys.argv[4]) if len(sys.argv) > 4 else 100
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
    interval = batch / rate
    start = time.monotonic()
    total, rejected, i = 0, 0, 0
    while time.monotonic() - start < seconds:
        target = start + len(sent_at) * interval
        delay = target - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        now_ms = int(time.time() * 1000)
        body = "\n".join(event(i + k, now_ms) for k in range(batch))
        i += batch
        t_send = time.monotonic()
        conn.request("POST", "/v1/events", body, {"Content-Type": "application/x-ndjson"})
        r = conn.getresponse()
        answer = json.loads(r.read())
        accepted = answer.get("accepted", 0)
        rejected += answer.get("rejected", 0)
        total += accepted
        with lock:
            sent_at.append((t_send, total))
    elapsed = time.monotonic() - start
    deadline = time.monotonic() + 60
    done.set()
    t.join()
    delays = sorted(served.values())
    pick = lambda q, d=delays: d[min(len(d) - 1, int(q * len(d)))] if d else float("nan")
    # Steady state: the batches sent after the first one was served (the
    # first ones wait for the consumer group to form after a restart).
    first_served = sent_at[0][0] + served[0] / 1000 if 0 in served else float("inf")
    steady = sorted(d for i, d in served.items() if sent_at[i][0] >= first_served)
    print(f"RESULT batches={len(sent_at)} p50_ms={pick(0.5):.1f} p99_ms={pick(0.99):.1f} "
          f"max_ms={(delays[-1] if delays else float('nan')):.1f} "
          f"first_ms={served.get(0, float('nan')):.1f} sent={total} rejected={rejected} "
          f"unserved={len(sent_at) - len(served)} "
          f"steady_p50_ms={pick(0.5, steady):.1f} steady_p99_ms={pick(0.99, steady):.1f} "
          f"rate={total / elapsed:.0f}")


if __name__ == "__main__":
    main()
