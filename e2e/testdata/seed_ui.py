"""Content for the web UI walk, made as the administrator through the
gateway: a shared experiment (runs with metrics over steps, params, tags,
a text artifact, a logged pyfunc model registered as two versions) and a
private one; on MLflow 3 also a trace and a prompt. Every user whose key
begins "reader" gets READ on the shared experiment and model. Prints the ids as the last line (JSON).
"""
import json

from e2elib import CFG, GATEWAY, MAJOR, login, unique

import mlflow
import mlflow.pyfunc
from mlflow.server import get_app_client


class AddOne(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input + 1


login("admin", "password")
c = mlflow.MlflowClient()
shared = c.create_experiment(unique("ui-shared"))
private = c.create_experiment(unique("ui-private"))
mlflow.set_experiment(experiment_id=shared)
runs = []
for i in range(2):
    with mlflow.start_run(run_name=f"train-{i}") as run:
        mlflow.log_params({"alpha": str(0.1 * (i + 1)), "layers": "3"})
        for step in range(20):
            mlflow.log_metric("loss", 1.0 / (step + 1 + i), step=step)
        mlflow.set_tag("team", "forecast")
        mlflow.log_text("notes for the UI walk\n", "notes.txt")
        if i == 0:
            kw = {"name": "model"} if MAJOR >= 3 else {"artifact_path": "model"}
            info = mlflow.pyfunc.log_model(python_model=AddOne(), pip_requirements=[], **kw)
    runs.append(run.info.run_id)
model = unique("ui-model")
mlflow.register_model(info.model_uri, model)
mlflow.register_model(info.model_uri, model)
with mlflow.start_run(experiment_id=private, run_name="hidden"):
    mlflow.log_metric("secret", 1)
out = {"shared": shared, "private": private, "runs": runs, "model": model}
if MAJOR >= 3:
    @mlflow.trace(name="ui-trace")
    def answer(q):
        return q.upper()
    answer("hello")
    out["trace"] = mlflow.get_last_active_trace_id()
    out["logged_model"] = info.model_id
    out["prompt"] = unique("ui-prompt")
    mlflow.genai.register_prompt(name=out["prompt"], template="Answer {{question}}")
a = get_app_client("basic-auth", tracking_uri=GATEWAY)
for key, reader in CFG["users"].items():
    if not key.startswith("reader"):
        continue
    a.create_experiment_permission(shared, reader["name"], "READ")
    a.create_registered_model_permission(model, reader["name"], "READ")
    if MAJOR >= 3:
        # a prompt is decided by the grants on the registered model of its name
        a.create_registered_model_permission(out["prompt"], reader["name"], "READ")
print(json.dumps(out))
