"""An ordinary account against someone else's work, through the gateway
(DEFAULT_MLFLOW_PERMISSION=NO_PERMISSIONS): every attack found against
real MLflow, with its variations, as a user with no grant (bob), with READ
(reader) and with EDIT (editor) on alice's experiment and model. Each must
be refused, and MLflow's own state, read back past the gateway, must show
nothing changed and nothing leaked.

Users (from the Go test): alice, bob, reader, editor. MLFLOW_STATE is the
MLflow server's directory (its database and artifacts).
"""
import base64
import json
import os

from e2elib import DIRECT, GATEWAY, MAJOR, check, direct, done, eq, gateway, http, login, refused, unique, user

import mlflow
from mlflow.server import get_app_client

STATE = os.environ["MLFLOW_STATE"]
REFUSED = (403, "PERMISSION_DENIED")


def refused_http(name, method, path, who, body=None, headers=None):
    status, answer, _ = http(method, path, who, body=body, headers=headers)
    code = answer.get("error_code") if isinstance(answer, dict) else None
    eq(name, (status, code), REFUSED)
    msg = answer.get("message", "")
    check(name + " (message)", msg.startswith("Permission denied."), msg)


def versions_of(model):
    status, answer, _ = http("GET", f"/api/2.0/mlflow/registered-models/get?name={model}", base=DIRECT)
    return answer.get("registered_model", {}).get("latest_versions", []) if status == 200 else None


def main():
    # alice's work: an experiment with a run and a model artifact, a
    # registered model with a version; READ for reader, EDIT for editor.
    login("alice")
    c = gateway()
    exp_a = c.create_experiment(unique("alice"))
    mlflow.set_experiment(experiment_id=exp_a)
    with mlflow.start_run() as run:
        mlflow.log_text("alice's secret notes", "notes/secret.txt")
        mlflow.log_dict({"k": 1}, "model/MLmodel")
    run_a = run.info.run_id
    model_a = unique("alice-model")
    c.create_registered_model(model_a)
    c.create_model_version(model_a, f"runs:/{run_a}/model", run_id=run_a)
    a = get_app_client("basic-auth", tracking_uri=GATEWAY)
    for who, level in (("reader", "READ"), ("editor", "EDIT")):
        a.create_experiment_permission(exp_a, user(who)["name"], level)
        a.create_registered_model_permission(model_a, user(who)["name"], level)

    # Each attacker works from something of their own: their experiment,
    # run and registered model (as its creator, MANAGE).
    own = {}
    for who in ("bob", "reader", "editor"):
        login(who)
        g = gateway()
        e = g.create_experiment(unique(who))
        r = g.create_run(e).info.run_id
        m = unique(who + "-model")
        g.create_registered_model(m)
        own[who] = (e, r, m)

    # 1, 2: model version sources MLflow would read files from, or that name
    # what the attacker may not read, in every spelling MLflow accepts.
    art = f"{exp_a}/{run_a}/artifacts/model"
    # Sources no one but an administrator may use: MLflow would read a file,
    # a bucket or another host, or a path that climbs out.
    unresolvable = [
        f"file://{STATE}", STATE, "/etc", "relative/path", f"file:///{STATE}/mlflow.db", "s3://bucket/secret",
        f"mlflow-artifacts:/{own['bob'][0]}/../{art}", f"mlflow-artifacts:/{own['bob'][0]}/%2e%2e/{art}",
        f"https://evil.example/api/2.0/mlflow-artifacts/artifacts/../../{art}",
        f"http://127.0.0.1:1/somewhere/{art}",
        # urlparse ends a netloc at "?" or "#" (an empty path: the whole
        # artifact store) and drops tabs anywhere
        f"mlflow-artifacts://x?/{own['bob'][0]}/", f"mlflow-artifacts://x#/{own['bob'][0]}/",
        f"runs:/{own['bob'][1]}/.\t./.\t./{art}",
    ]
    # Sources naming alice's objects, in every spelling MLflow accepts:
    # READ on them is needed, which bob lacks.
    alices = [
        f"models:/{model_a}/1", f"MODELS:/{model_a}/1", f"models:/{model_a}@champion", f"models://profile/{model_a}/1",
        f"runs:/{run_a}/model", f"RUNS:/{run_a}/model", f"runs://host/{run_a}/model",
        f"mlflow-artifacts:/{art}", f"MLFLOW-ARTIFACTS:/{art}", f"mlflow-artifacts://host:5000/{art}",
        f"http://127.0.0.1:1/api/2.0/mlflow-artifacts/artifacts/{art}",
        f"https://evil.example/api/2.0/mlflow-artifacts/artifacts/{art}",
    ]
    for who in ("bob", "reader", "editor"):
        _, r, m = own[who]
        for src in unresolvable + (alices if who == "bob" else []):
            for tags in ([], [{"key": "mlflow.prompt.is_prompt", "value": "true"}]):
                status, answer, _ = http("POST", "/api/2.0/mlflow/model-versions/create", who,
                                         body={"name": m, "source": src, "tags": tags})
                check(f"{who}: a version of their model from {src!r}{' as a prompt' if tags else ''} is refused",
                      status == 403, (status, answer))
        eq(f"{who}: their model has no version in MLflow", versions_of(m), [])
    # EDIT on alice's model does not make a file source hers to use either.
    status, _, _ = http("POST", "/api/2.0/mlflow/model-versions/create", "editor", body={"name": model_a, "source": f"file://{STATE}"})
    eq("editor: a file source on alice's model", status, 403)
    eq("alice's model still has one version", len(versions_of(model_a)), 1)
    # Reading alice's artifacts through a version of one's own: nothing to
    # read, and directly refused.
    refused_http("bob: alice's run artifacts", "GET", f"/get-artifact?path=notes/secret.txt&run_uuid={run_a}", "bob")
    refused_http("bob: alice's artifacts through the proxy", "GET", f"/api/2.0/mlflow-artifacts/artifacts/{exp_a}/{run_a}/artifacts/notes/secret.txt", "bob")
    # READ is enough to base one's own version on what one can read.
    _, r_reader, m_reader = own["reader"]
    status, _, _ = http("POST", "/api/2.0/mlflow/model-versions/create", "reader",
                        body={"name": m_reader, "source": f"runs:/{run_a}/model", "run_id": run_a})
    eq("reader: a version from a run they may read", status, 200)

    # 11: HEAD with a body: ids are read where MLflow reads them.
    status, _, _ = http("HEAD", "/api/2.0/mlflow/runs/get", "bob", body={"run_id": run_a})
    eq("bob: HEAD runs/get with alice's run in the body", status, 403)

    # 12: a name that does not exist yet is not remembered as free.
    name = unique("soon")
    status, _, _ = http("GET", f"/api/2.0/mlflow/experiments/get-by-name?experiment_name={name}", "bob")
    eq("bob: a name nobody has", status, 404)
    login("alice")
    gateway().create_experiment(name)
    refused_http("bob: the same name right after alice made it", "GET", f"/api/2.0/mlflow/experiments/get-by-name?experiment_name={name}", "bob")

    # 13: a cross-site write with the browser's Basic credentials.
    _, r_bob, _ = own["bob"]
    for hdrs in ({"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}):
        status, _, _ = http("POST", f"/ajax-api/2.0/mlflow/upload-artifact?run_uuid={r_bob}&path=csrf.html", "bob",
                            body=b"<script>alert(1)</script>", headers=dict(hdrs, **{"Content-Type": "text/plain"}))
        eq(f"cross-site upload with Basic credentials ({', '.join(hdrs)})", status, 403)
    check("nothing was uploaded", not os.path.exists(os.path.join(STATE, "artifacts", own["bob"][0], r_bob, "artifacts", "csrf.html")))
    status, _, _ = http("POST", f"/ajax-api/2.0/mlflow/upload-artifact?run_uuid={r_bob}&path=ok.txt", "bob",
                        body=b"fine", headers={"Content-Type": "text/plain"})
    eq("an upload in a type any page may post (text/plain) is refused", status, 400)
    status, _, _ = http("POST", f"/ajax-api/2.0/mlflow/upload-artifact?run_uuid={r_bob}&path=ok.txt", "bob",
                        body=b"fine", headers={"Content-Type": "application/octet-stream"})
    eq("the same upload from a script", status, 200)
    check("which MLflow stored", os.path.exists(os.path.join(STATE, "artifacts", own["bob"][0], r_bob, "artifacts", "ok.txt")))

    # 7: squatting a model name: everything bob held on the name goes with
    # his delete, whatever kind the gateway believed it was.
    squat = unique("churn-model")
    login("bob")
    b = gateway()
    b.create_registered_model(squat)
    b.set_registered_model_tag(squat, "mlflow.prompt.is_prompt", "true")
    # (MLflow 3's client will not delete what is now a prompt: the REST call)
    status, _, _ = http("DELETE", "/api/2.0/mlflow/registered-models/delete", "bob", body={"name": squat})
    eq("bob deletes his squatted name", status, 200)
    login("alice")
    gateway().create_registered_model(squat)
    for method, path, body in (("GET", f"/api/2.0/mlflow/registered-models/get?name={squat}", None),
                               ("DELETE", "/api/2.0/mlflow/registered-models/delete", {"name": squat})):
        refused_http(f"bob: {method} alice's {squat} made after his was deleted", method, path, "bob", body=body)
    status, _, _ = http("POST", "/api/2.0/mlflow/registered-models/permissions/create", "bob",
                        body={"name": squat, "username": user("bob")["name"], "permission": "MANAGE"})
    eq("bob: granting himself alice's model", status, 403)
    eq("alice's model is in MLflow", direct().get_registered_model(squat).name, squat)

    if MAJOR >= 3:
        genai(exp_a, run_a, model_a, own)
    done()


def genai(exp_a, run_a, model_a, own):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

    login("alice")
    mlflow.set_experiment(experiment_id=exp_a)

    @mlflow.trace(name="alice-secret")
    def secret(x):
        return {"answer": "alice's output " + x}

    secret("input")
    trace_a = mlflow.get_last_active_trace_id()
    info = direct()._tracing_client.get_trace_info(trace_a)
    lm = mlflow.initialize_logged_model(name="alice-agent", experiment_id=exp_a)

    # 3: trace search naming alice's experiment in locations.
    loc = {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": exp_a}}
    for who in ("bob",):
        e, _, _ = own[who]
        refused_http(f"{who}: traces/search with alice's experiment among the locations", "POST", "/api/3.0/mlflow/traces/search", who,
                     body={"locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": e}}, loc]})
        refused_http(f"{who}: traces/search, camelCase", "POST", "/api/3.0/mlflow/traces/search", who,
                     body={"locations": [{"type": "MLFLOW_EXPERIMENT", "mlflowExperiment": {"experimentId": exp_a}}]})
    status, answer, _ = http("POST", "/api/3.0/mlflow/traces/search", "reader", body={"locations": [loc]})
    eq("reader: search alice's traces", (status, [t["trace_id"] for t in answer.get("traces", [])]), (200, [trace_a]))

    # 4: starting a trace with alice's trace id, into one's own experiment.
    for who in ("bob", "reader"):
        e, _, _ = own[who]
        body = {"trace": {"trace_info": {"trace_id": trace_a, "trace_location": {"type": "MLFLOW_EXPERIMENT",
                "mlflow_experiment": {"experiment_id": e}}, "request_time": "2025-01-01T00:00:00Z", "state": "OK"}}}
        refused_http(f"{who}: start a trace with alice's trace id", "POST", "/api/3.0/mlflow/traces", who, body=body)
    eq("alice's trace stays in her experiment", direct()._tracing_client.get_trace_info(trace_a).experiment_id, exp_a)

    # 5: spans into alice's trace over OTLP, by its OTel id or by the
    # attribute MLflow reads first.
    hex_id = trace_a[len("tr-"):]
    for name, span in (
        ("by its OTel trace id", Span(trace_id=bytes.fromhex(hex_id), span_id=bytes.fromhex("1111111111111111"), name="injected")),
        ("by mlflow.traceRequestId", Span(trace_id=bytes.fromhex("ab" * 16), span_id=bytes.fromhex("2222222222222222"), name="injected",
                                          attributes=[KeyValue(key="mlflow.traceRequestId", value=AnyValue(string_value=json.dumps(trace_a)))])),
        ("by mlflow.traceRequestId as bytes", Span(trace_id=bytes.fromhex("cd" * 16), span_id=bytes.fromhex("3333333333333333"), name="injected",
                                                   attributes=[KeyValue(key="mlflow.traceRequestId", value=AnyValue(bytes_value=json.dumps(trace_a).encode()))])),
    ):
        body = ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[span])])]).SerializeToString()
        for who in ("bob", "reader"):
            status, _, _ = http("POST", "/v1/traces", who, body=body,
                                headers={"Content-Type": "application/x-protobuf", "X-Mlflow-Experiment-Id": own[who][0]})
            check(f"{who}: OTLP spans into alice's trace {name}", status in (400, 403), status)
    status, spans, _ = http("GET", f"/ajax-api/2.0/mlflow/get-trace-artifact?request_id={trace_a}", base=DIRECT)
    check("alice's spans are in MLflow, none injected", status == 200 and "alice-secret" in json.dumps(spans) and "injected" not in json.dumps(spans),
          (status, str(spans)[:300]))

    # 6: pointing one's own trace at alice's spans.
    login("bob")
    mlflow.set_experiment(experiment_id=own["bob"][0])

    @mlflow.trace(name="bob")
    def mine(x):
        return x

    mine("x")
    trace_b = mlflow.get_last_active_trace_id()
    loc_a = info.tags.get("mlflow.artifactLocation")
    for path in (f"/api/3.0/mlflow/traces/{trace_b}/tags", f"/api/2.0/mlflow/traces/{trace_b}/tags"):
        refused_http(f"bob: set mlflow.artifactLocation on his trace ({path[:8]})", "PATCH", path, "bob",
                     body={"key": "mlflow.artifactLocation", "value": loc_a})
    refused_http("bob: delete mlflow.artifactLocation", "DELETE", f"/api/3.0/mlflow/traces/{trace_b}/tags", "bob",
                 body={"key": "mlflow.artifactLocation"})
    check("bob's trace points at his own spans", direct()._tracing_client.get_trace_info(trace_b).tags.get("mlflow.artifactLocation") != loc_a)
    status, answer, _ = http("GET", f"/ajax-api/2.0/mlflow/get-trace-artifact?request_id={trace_b}", "bob")
    check("bob reads only his own spans", status == 200 and "alice's output" not in json.dumps(answer), answer)

    # 9: linking alice's logged model into one's own model version.
    _, r_bob, m_bob = own["bob"]
    refused_http("bob: model-versions/create with alice's model_id", "POST", "/api/2.0/mlflow/model-versions/create", "bob",
                 body={"name": m_bob, "source": f"models:/{lm.model_id}", "model_id": lm.model_id})
    refused_http("bob: alice's model_id beside a source of his own", "POST", "/api/2.0/mlflow/model-versions/create", "bob",
                 body={"name": m_bob, "source": f"runs:/{r_bob}/model", "run_id": r_bob, "model_id": lm.model_id})
    eq("bob's model still has no version", versions_of(m_bob), [])

    # 10: recording alice's logged model as an output of one's own run.
    refused_http("bob: runs/outputs with alice's logged model", "POST", "/api/2.0/mlflow/runs/outputs", "bob",
                 body={"run_id": r_bob, "models": [{"model_id": lm.model_id, "step": 0}]})

    # 8: registering a scorer again under the name of alice's: EDIT on the
    # experiment writes a version, and gives no MANAGE on her scorer.
    serialized = json.dumps({"name": "s", "call_source": "return True", "call_signature": "(outputs)", "original_func_name": "s"})
    status, answer, _ = http("POST", "/api/3.0/mlflow/scorers/register", "alice",
                             body={"experiment_id": exp_a, "name": "alice-scorer", "serialized_scorer": serialized})
    eq("alice registers a scorer", (status, answer.get("version")), (200, 1))
    status, answer, _ = http("POST", "/api/3.0/mlflow/scorers/register", "editor",
                             body={"experiment_id": exp_a, "name": "alice-scorer", "serialized_scorer": serialized})
    eq("editor registers over it (MLflow: a new version)", (status, answer.get("version")), (200, 2))
    refused_http("editor: delete alice's scorer", "DELETE", "/api/3.0/mlflow/scorers/delete", "editor",
                 body={"experiment_id": exp_a, "name": "alice-scorer"})
    status, answer, _ = http("GET", f"/api/3.0/mlflow/scorers/list?experiment_id={exp_a}", base=DIRECT)
    eq("alice's scorer is still in MLflow", [s["scorer_name"] for s in answer.get("scorers", [])], ["alice-scorer"])


main()
