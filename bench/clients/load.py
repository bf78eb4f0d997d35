"""The client workload: PROCS MLflow client processes, each logging params
and metrics to a run of its own for SECONDS, through MLflow's own client.

usage: load.py URI USER PASSWORD PROCS SECONDS

Prints one JSON line: requests, errors, seconds, per-request latencies'
p50 and p99 (milliseconds). The experiment is created by USER over plain
HTTP before the workers fork, so no connection is shared.
"""
import base64
import json
import multiprocessing
import os
import sys
import time
import urllib.request
import uuid


def work(deadline, exp_id, out):
    import mlflow
    from mlflow import MlflowClient

    c = MlflowClient()
    lat, errors, n = [], 0, 0
    run_id = c.create_run(exp_id).info.run_id
    while time.time() < deadline:
        t0 = time.perf_counter()
        try:
            if n % 2 == 0:
                c.log_param(run_id, f"p{n}", str(n))
            else:
                c.log_metric(run_id, "loss", 1.0 / (n + 1), step=n)
        except Exception:  # noqa: BLE001 - counted, the load goes on
            errors += 1
        lat.append(time.perf_counter() - t0)
        n += 1
    out.put((lat, errors))


def main():
    uri, user, password, procs, seconds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
    os.environ.update(MLFLOW_TRACKING_URI=uri, MLFLOW_TRACKING_USERNAME=user, MLFLOW_TRACKING_PASSWORD=password,
                      MLFLOW_HTTP_REQUEST_MAX_RETRIES="0")
    auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    req = urllib.request.Request(uri + "/api/2.0/mlflow/experiments/create",
                                 data=json.dumps({"name": "load-" + uuid.uuid4().hex[:8]}).encode(),
                                 headers={"Content-Type": "application/json", "Authorization": auth})
    exp_id = json.load(urllib.request.urlopen(req))["experiment_id"]
    import mlflow  # noqa: F401 - imported once, before the fork

    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    start = time.time()
    deadline = start + seconds
    ps = [ctx.Process(target=work, args=(deadline, exp_id, out)) for _ in range(procs)]
    for p in ps:
        p.start()
    lat, errors = [], 0
    for _ in ps:
        l, e = out.get(timeout=seconds + 120)
        lat += l
        errors += e
    for p in ps:
        p.join(timeout=30)
    elapsed = time.time() - start
    lat.sort()
    pct = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else 0.0  # noqa: E731
    print(json.dumps({"requests": len(lat), "errors": errors, "seconds": round(elapsed, 2),
                      "p50_ms": round(pct(0.50), 2), "p99_ms": round(pct(0.99), 2)}), flush=True)


main()
