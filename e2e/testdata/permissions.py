"""MLflow's permission model seen from MLflow's own client, through the
gateway (DEFAULT_MLFLOW_PERMISSION=NO_PERMISSIONS).

Users (from the Go test): owner, reader, editor, manager, nobody. The owner
creates an experiment, a run and a registered model and, holding MANAGE as
their creator, grants the others through AuthServiceClient. Every refused
request is followed by reading MLflow's own state: unchanged.
"""
from e2elib import MAJOR, check, direct, done, eq, gateway, http, login, refused, unique, user

import mlflow
from mlflow.server import get_app_client


def auth_client():
    return get_app_client("basic-auth", tracking_uri=mlflow.get_tracking_uri())


def main():
    owner, reader, editor, manager, nobody = (user(n)["name"] for n in ("owner", "reader", "editor", "manager", "nobody"))
    name = unique("perm")

    # The owner creates, and is MANAGE on what they created.
    login("owner")
    c = gateway()
    exp_id = c.create_experiment(name)
    run = c.create_run(exp_id, run_name="base")
    run_id = run.info.run_id
    c.log_metric(run_id, "m", 1.0)
    c.set_tag(run_id, "t", "orig")
    model = name + "-model"
    c.create_registered_model(model, description="orig")
    a = auth_client()
    eq("creator MANAGE on the experiment", a.get_experiment_permission(exp_id, owner).permission, "MANAGE")
    eq("creator MANAGE on the model", a.get_registered_model_permission(model, owner).permission, "MANAGE")

    # MANAGE can grant.
    for who, level in ((reader, "READ"), (editor, "EDIT"), (manager, "MANAGE")):
        a.create_experiment_permission(exp_id, who, level)
        a.create_registered_model_permission(model, who, level)
    eq("grant read back", a.get_experiment_permission(exp_id, editor).permission, "EDIT")

    def run_state():
        r = direct().get_run(run_id)
        return (r.info.lifecycle_stage, r.info.run_name, r.data.metrics.get("m"), r.data.tags.get("t"))

    def exp_state():
        e = direct().get_experiment(exp_id)
        return (e.name, e.lifecycle_stage, e.tags.get("k"))

    def model_state():
        m = direct().get_registered_model(model)
        return (m.name, m.description, dict(m.tags))

    before = (run_state(), exp_state(), model_state())

    # READ reads, and cannot write.
    login("reader")
    c = gateway()
    eq("READ: get experiment", c.get_experiment(exp_id).name, name)
    eq("READ: get run", c.get_run(run_id).data.metrics["m"], 1.0)
    eq("READ: search runs", [r.info.run_id for r in c.search_runs([exp_id])], [run_id])
    eq("READ: get model", c.get_registered_model(model).description, "orig")
    with refused("READ: log a metric"):
        c.log_metric(run_id, "m", 2.0)
    with refused("READ: set a tag"):
        c.set_tag(run_id, "t", "changed")
    with refused("READ: rename the run"):
        c.update_run(run_id, name="renamed")
    with refused("READ: tag the experiment"):
        c.set_experiment_tag(exp_id, "k", "v")
    with refused("READ: rename the experiment"):
        c.rename_experiment(exp_id, name + "-renamed")
    with refused("READ: delete the run"):
        c.delete_run(run_id)
    with refused("READ: describe the model"):
        c.update_registered_model(model, description="changed")
    with refused("READ: tag the model"):
        c.set_registered_model_tag(model, "k", "v")
    with refused("READ: grant"):
        auth_client().create_experiment_permission(exp_id, nobody, "READ")
    eq("READ's refusals changed nothing in MLflow", (run_state(), exp_state(), model_state()), before)
    status, body, _ = http("POST", "/api/2.0/mlflow/runs/log-metric", "reader",
                           body={"run_id": run_id, "key": "m", "value": 3, "timestamp": 0})
    eq("refusal on the wire", (status, body["error_code"]), (403, "PERMISSION_DENIED"))
    check("refusal says what is needed and what the caller has",
          body["message"].startswith("Permission denied. EDIT on the experiment of run " + run_id + " is needed; you have READ from a grant to you."),
          body["message"])

    # EDIT writes, and cannot delete.
    login("editor")
    c = gateway()
    c.log_metric(run_id, "m", 2.0)
    c.set_tag(run_id, "t", "edited")
    c.set_experiment_tag(exp_id, "k", "v")
    c.update_registered_model(model, description="edited")
    eq("EDIT wrote to MLflow", (run_state()[2:], exp_state()[2], model_state()[1]), ((2.0, "edited"), "v", "edited"))
    with refused("EDIT: delete the run"):
        c.delete_run(run_id)
    with refused("EDIT: delete the experiment"):
        c.delete_experiment(exp_id)
    with refused("EDIT: delete the model"):
        c.delete_registered_model(model)
    with refused("EDIT: grant"):
        auth_client().create_registered_model_permission(model, nobody, "READ")
    eq("EDIT's refusals deleted nothing", (run_state()[0], exp_state()[1], model_state()[0]), ("active", "active", model))

    # MANAGE grants and takes back.
    login("manager")
    a = auth_client()
    a.create_experiment_permission(exp_id, nobody, "READ")
    login("nobody")
    eq("granted by a manager: readable", gateway().get_experiment(exp_id).name, name)
    login("manager")
    a.update_experiment_permission(exp_id, nobody, "EDIT")
    eq("updated by a manager", a.get_experiment_permission(exp_id, nobody).permission, "EDIT")
    a.delete_experiment_permission(exp_id, nobody)

    # No grant: hidden from searches, reads refused.
    login("nobody")
    c = gateway()
    mine = c.create_experiment(name + "-nobody")
    seen = [e.experiment_id for e in c.search_experiments(max_results=1000)]
    check("no grant: the experiment is not listed", exp_id not in seen and mine in seen, seen)
    seen = [m.name for m in c.search_registered_models(max_results=1000)]
    check("no grant: the model is not listed", model not in seen, seen)
    with refused("no grant: get experiment"):
        c.get_experiment(exp_id)
    with refused("no grant: get experiment by name"):
        c.get_experiment_by_name(name)
    with refused("no grant: get run"):
        c.get_run(run_id)
    with refused("no grant: search its runs"):
        c.search_runs([exp_id])
    with refused("no grant: get model"):
        c.get_registered_model(model)
    with refused("no grant: metric history"):
        c.get_metric_history(run_id, "m")
    with refused("no grant: artifacts"):
        c.list_artifacts(run_id)
    with refused("no grant: write"):
        c.log_metric(run_id, "m", 9.0)
    eq("no grant: nothing changed", run_state()[2], 2.0)

    # Renames carry grants.
    login("owner")
    c = gateway()
    c.rename_experiment(exp_id, name + "-renamed")
    c.rename_registered_model(model, model + "-renamed")
    login("reader")
    c = gateway()
    eq("rename: experiment still readable by name", c.get_experiment_by_name(name + "-renamed").experiment_id, exp_id)
    eq("rename: model readable under its new name", c.get_registered_model(model + "-renamed").description, "edited")
    login("owner")
    eq("rename: the grant moved", auth_client().get_registered_model_permission(model + "-renamed", reader).permission, "READ")

    # Deletes carry grants: the grant goes with the model, and a model made
    # later under the same name starts with its creator's grant alone.
    gateway().delete_registered_model(model + "-renamed")
    with refused("delete: the owner's own grant went with the model"):
        auth_client().get_registered_model_permission(model + "-renamed", owner)
    login("admin", "password")
    with refused("delete: the reader's grant went with the model", code="RESOURCE_DOES_NOT_EXIST"):
        auth_client().get_registered_model_permission(model + "-renamed", reader)
    login("nobody")
    gateway().create_registered_model(model + "-renamed")
    login("reader")
    with refused("delete: no grant inherited by a new model of the same name"):
        gateway().get_registered_model(model + "-renamed")
    login("owner")
    with refused("delete: the old owner has nothing on the new model"):
        gateway().delete_registered_model(model + "-renamed")
    eq("the new model is still in MLflow", direct().get_registered_model(model + "-renamed").name, model + "-renamed")
    gateway().delete_experiment(exp_id)
    eq("deleted by its manager", direct().get_experiment(exp_id).lifecycle_stage, "deleted")
    done()


main()
