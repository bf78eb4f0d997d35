"""Several MLflow clients at once through the gateway: 16 processes, each
logging params and metrics to a run of its own in one experiment, half
with access tokens and half with passwords; then every value is read back
from MLflow itself.

usage: many_clients.py PROCESSES STEPS

Users (from the Go test): owner, and worker0..worker3, each with EDIT on
the experiment the owner makes.
"""
import multiprocessing
import os
import sys
import time

# MLflow's own retry policy (the harness lowers it for the other scripts):
# the clients here behave as a user's do.
os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "7"
os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] = "2"

from e2elib import check, direct, done, eq, http, login, unique, user


def work(i, exp_id, steps, out):
    # forked after the parent made no MLflow client: each process has its
    # own connections
    import mlflow
    login(f"worker{i % 4}", "token" if i % 2 == 0 else "password")
    mlflow.set_experiment(experiment_id=exp_id)
    try:
        with mlflow.start_run(run_name=f"worker-{i}") as run:
            mlflow.log_params({"worker": str(i), "lr": "0.01"})
            for step in range(steps):
                mlflow.log_metric("loss", i + step / 1000.0, step=step)
            mlflow.log_metrics({f"m{j}": float(j) for j in range(20)}, step=0)
        out.put((i, run.info.run_id, None))
    except Exception as e:  # noqa: BLE001 - reported to the parent
        out.put((i, None, repr(e)))


def main():
    procs, steps = int(sys.argv[1]), int(sys.argv[2])
    status, body, _ = http("POST", "/api/2.0/mlflow/experiments/create", "owner", body={"name": unique("concurrent")})
    eq("experiment created", status, 200)
    exp_id = body["experiment_id"]
    for w in range(4):
        status, body, _ = http("POST", "/api/2.0/mlflow/experiments/permissions/create", "owner",
                               body={"experiment_id": exp_id, "username": user(f"worker{w}")["name"], "permission": "EDIT"})
        eq(f"worker{w} granted EDIT", status, 200)

    # Each account signs in once before the load, as a person's first
    # request would: the gateway verifies a password once and remembers it
    # (a burst of first verifications is answered 503, which MLflow's
    # client retries).
    for w in range(4):
        for how in ("token", "password"):
            status, _, _ = http("GET", "/api/2.0/mlflow/users/current", f"worker{w}", how=how)
            eq(f"worker{w} signs in with a {how}", status, 200)

    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    started = time.time()
    ps = [ctx.Process(target=work, args=(i, exp_id, steps, out)) for i in range(procs)]
    for p in ps:
        p.start()
    results = [out.get(timeout=240) for _ in ps]
    for p in ps:
        p.join(timeout=60)
    elapsed = time.time() - started
    errors = [(i, e) for i, _, e in results if e]
    eq("no client saw an error", errors, [])
    eq("every process exited cleanly", [p.exitcode for p in ps], [0] * procs)
    c = direct()
    for i, run_id, _ in sorted(results):
        r = c.get_run(run_id)
        hist = c.get_metric_history(run_id, "loss")
        check(f"worker {i}: everything reached MLflow",
              r.data.params["worker"] == str(i) and len(hist) == steps and len(r.data.metrics) == 21,
              (r.data.params, len(hist), len(r.data.metrics)))
    print(f"{procs} processes x {steps + 2} requests in {elapsed:.1f}s", flush=True)
    done()


main()
