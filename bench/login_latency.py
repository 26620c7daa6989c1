#!/usr/bin/env python3
"""Login latency with the configured Argon2 cost, and whether logins slow other requests.

Usage: bench/login_latency.py URL EMAIL PASSWORD [--seconds N] [--login-threads N]

Measures, against a running server:
  1. a cheap query (`{ apiVersion }`) alone: p50/p99;
  2. logins alone, one at a time: p50/p99;
  3. logins from several threads for N seconds while one thread keeps timing the
     cheap query: login p50/p99 and the cheap query's p50/p99 under that load.
Standard library only.
"""
import argparse
import json
import statistics
import threading
import time
import urllib.request


def post(url, body):
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request) as response:
        payload = json.load(response)
    return (time.perf_counter() - started) * 1000, payload


def percentiles(samples):
    ordered = sorted(samples)
    p = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]
    return {"n": len(ordered), "p50_ms": round(p(0.50), 2), "p99_ms": round(p(0.99), 2)}


def cheap_query(base, count=None, stop=None):
    samples = []
    while (count is None or len(samples) < count) and not (stop and stop.is_set()):
        elapsed, payload = post(f"{base}/graphql", {"query": "{ apiVersion }"})
        assert "errors" not in payload, payload
        samples.append(elapsed)
    return samples


def login(base, email, password):
    elapsed, payload = post(f"{base}/auth/login", {"email": email, "password": password})
    assert "accessToken" in payload, payload
    return elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("email")
    parser.add_argument("password")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--login-threads", type=int, default=4)
    args = parser.parse_args()
    base = args.url.rstrip("/")

    cheap_query(base, count=50)  # warm up
    baseline = percentiles(cheap_query(base, count=500))
    alone = percentiles([login(base, args.email, args.password) for _ in range(40)])

    stop = threading.Event()
    login_samples = []
    lock = threading.Lock()

    def login_worker():
        while not stop.is_set():
            elapsed = login(base, args.email, args.password)
            with lock:
                login_samples.append(elapsed)

    workers = [threading.Thread(target=login_worker) for _ in range(args.login_threads)]
    for worker in workers:
        worker.start()
    time.sleep(0.5)
    loaded = []
    measurer = threading.Thread(target=lambda: loaded.extend(cheap_query(base, stop=stop)))
    measurer.start()
    time.sleep(args.seconds)
    stop.set()
    for thread in workers + [measurer]:
        thread.join()

    report = {
        "cheap_query_alone": baseline,
        "login_alone": alone,
        "login_under_concurrency": percentiles(login_samples),
        "logins_per_second": round(len(login_samples) / (args.seconds + 0.5), 1),
        "cheap_query_while_logins_run": percentiles(loaded),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
