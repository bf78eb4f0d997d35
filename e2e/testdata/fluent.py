"""MLflow's fluent API and client through the gateway, as one user.

usage: fluent.py USER token|password

Experiments, runs, params, metrics, tags, artifacts through the artifact
proxy, a pyfunc model logged and loaded, the model registry (versions,
aliases, tags) and paginated searches; every result read back through the
gateway and checked against MLflow itself.
"""
import os
import sys

import pandas as pd

from e2elib import MAJOR, WORK, check, direct, done, eq, gateway, login, unique

import mlflow
import mlflow.pyfunc


class AddOne(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input + 1


def main():
    who, how = sys.argv[1], sys.argv[2]
    login(who, how)
    c = gateway()

    # experiments and runs
    prefix = unique("fluent")
    exp_id = mlflow.create_experiment(prefix + "-main")
    eq("experiment readable by its creator", c.get_experiment(exp_id).name, prefix + "-main")
    mlflow.set_experiment(experiment_id=exp_id)
    with mlflow.start_run(run_name="train") as run:
        mlflow.log_param("alpha", "0.5")
        mlflow.log_params({"beta": "2", "gamma": "x"})
        for step in range(5):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({"auc": 0.91, "f1": 0.8})
        mlflow.set_tag("team", "forecast")
        mlflow.set_tags({"stage": "dev"})
        path = os.path.join(WORK, "notes.txt")
        with open(path, "w") as f:
            f.write("hello through the gateway\n")
        mlflow.log_artifact(path)
        mlflow.log_artifact(path, artifact_path="docs")
        mlflow.log_text("some text", "text/a.txt")
        mlflow.log_dict({"k": [1, 2]}, "config.json")
        if MAJOR >= 3:
            info = mlflow.pyfunc.log_model(name="model", python_model=AddOne(), pip_requirements=[])
        else:
            info = mlflow.pyfunc.log_model(artifact_path="model", python_model=AddOne(), pip_requirements=[])
    run_id = run.info.run_id

    r = c.get_run(run_id)
    eq("params", {k: r.data.params[k] for k in ("alpha", "beta", "gamma")}, {"alpha": "0.5", "beta": "2", "gamma": "x"})
    eq("metrics", (r.data.metrics["auc"], r.data.metrics["loss"]), (0.91, 0.2))
    eq("tags", (r.data.tags["team"], r.data.tags["stage"]), ("forecast", "dev"))
    eq("metric history", [m.value for m in c.get_metric_history(run_id, "loss")], [1.0, 0.5, 1.0 / 3, 0.25, 0.2])
    eq("run in MLflow", direct().get_run(run_id).data.params["alpha"], "0.5")

    names = sorted(a.path for a in c.list_artifacts(run_id))
    check("artifacts listed", {"notes.txt", "docs", "text", "config.json"} <= set(names), names)
    dst = os.path.join(WORK, "download")
    got = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="notes.txt", dst_path=dst)
    eq("artifact downloaded", open(got).read(), "hello through the gateway\n")
    got = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="docs", dst_path=dst)
    eq("artifact directory downloaded", open(os.path.join(got, "notes.txt")).read(), "hello through the gateway\n")
    eq("text artifact", mlflow.artifacts.load_text(f"runs:/{run_id}/text/a.txt"), "some text")

    model = mlflow.pyfunc.load_model(info.model_uri)
    out = model.predict(pd.DataFrame({"x": [1, 2]}))
    eq("model loaded and predicts", list(out["x"]), [2, 3])

    # the registry
    model_name = prefix + "-model"
    v1 = mlflow.register_model(info.model_uri, model_name)
    v2 = mlflow.register_model(info.model_uri, model_name)
    eq("model versions", (v1.version, v2.version), ("1", "2"))
    c.set_registered_model_alias(model_name, "champion", "2")
    eq("alias", c.get_model_version_by_alias(model_name, "champion").version, "2")
    c.set_registered_model_tag(model_name, "owner", who)
    c.set_model_version_tag(model_name, "1", "validated", "yes")
    c.update_registered_model(model_name, description="adds one")
    m = c.get_registered_model(model_name)
    eq("registered model", (m.tags.get("owner"), m.description, m.aliases.get("champion")), (who, "adds one", "2"))
    eq("version tag", c.get_model_version(model_name, "1").tags.get("validated"), "yes")
    eq("latest versions", sorted(v.version for v in c.search_model_versions(f"name='{model_name}'")), ["1", "2"])
    loaded = mlflow.pyfunc.load_model(f"models:/{model_name}@champion")
    eq("model loaded by alias", list(loaded.predict(pd.DataFrame({"x": [5]}))["x"]), [6])
    c.delete_registered_model_alias(model_name, "champion")
    eq("alias deleted in MLflow", direct().get_registered_model(model_name).aliases, {})

    # paginated searches
    for i in range(4):
        with mlflow.start_run(run_name=f"r{i}"):
            mlflow.log_metric("i", i)
    seen, token, pages = [], None, 0
    while True:
        page = c.search_runs([exp_id], max_results=2, page_token=token)
        seen += [r.info.run_id for r in page]
        pages += 1
        token = page.token
        if not token:
            break
    eq("runs paged", (len(seen), len(set(seen)), pages >= 3), (5, 5, True))

    for i in range(3):
        mlflow.create_experiment(f"{prefix}-extra{i}")
    seen, token = [], None
    while True:
        page = c.search_experiments(filter_string=f"name LIKE '{prefix}%'", max_results=1, page_token=token)
        seen += [e.name for e in page]
        token = page.token
        if not token:
            break
    eq("experiments paged", sorted(seen), sorted([prefix + "-main"] + [f"{prefix}-extra{i}" for i in range(3)]))

    c.create_registered_model(prefix + "-model-b")
    seen, token = [], None
    while True:
        page = c.search_registered_models(filter_string=f"name LIKE '{prefix}%'", max_results=1, page_token=token)
        seen += [m.name for m in page]
        token = page.token
        if not token:
            break
    eq("registered models paged", sorted(seen), [prefix + "-model", prefix + "-model-b"])

    # cleaning up is a creator's right too
    c.delete_model_version(model_name, "1")
    c.delete_registered_model(prefix + "-model-b")
    c.delete_run(run_id)
    eq("run deleted in MLflow", direct().get_run(run_id).info.lifecycle_stage, "deleted")
    done()


main()
