"""MLflow 3's GenAI features through the gateway, as a user with an access
token: traces (@mlflow.trace, search, get, delete), OTLP ingestion on
/v1/traces with and without credentials, logged models, assessments,
prompts, evaluation datasets, scorers, GraphQL as the UI sends it; and
webhooks, which are for administrators.

Users (from the Go test): dev (no grants), other (no grants).
"""
import json
import os

from e2elib import DIRECT, GATEWAY, check, direct, done, eq, gateway, http, login, refused, unique, user

import mlflow
from mlflow.entities import AssessmentSource, AssessmentSourceType


@mlflow.trace(name="predict")
def predict(question):
    return {"answer": question.upper(), "inner": helper(question)}


@mlflow.trace
def helper(q):
    return len(q)


def trace_info(trace_id):
    """A trace's info from MLflow itself (its spans would be downloaded
    through the tracking URI, the gateway)."""
    return direct()._tracing_client.get_trace_info(trace_id)


def traces_in(exp_id):
    return direct().search_traces(experiment_ids=[exp_id], max_results=100, include_spans=False)


def otlp_request(trace_hex, span_hex):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
    span = Span(trace_id=bytes.fromhex(trace_hex), span_id=bytes.fromhex(span_hex), name="otlp-root",
                start_time_unix_nano=1_700_000_000_000_000_000, end_time_unix_nano=1_700_000_001_000_000_000)
    req = ExportTraceServiceRequest(resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[span])])])
    return req.SerializeToString()


def main():
    login("dev")
    c = gateway()
    exp_id = mlflow.create_experiment(unique("genai"))
    mlflow.set_experiment(experiment_id=exp_id)

    # traces
    for q in ("a", "bb", "ccc"):
        predict(q)
    trace_id = mlflow.get_last_active_trace_id()
    t = c.get_trace(trace_id)
    eq("trace read back", (t.info.experiment_id, [s.name for s in t.data.spans][:1]), (exp_id, ["predict"]))
    found = c.search_traces(experiment_ids=[exp_id])
    eq("search_traces", len(found), 3)
    df = mlflow.search_traces(locations=[exp_id])
    eq("mlflow.search_traces", len(df), 3)
    c.set_trace_tag(trace_id, "reviewed", "yes")
    eq("trace tag in MLflow", trace_info(trace_id).tags.get("reviewed"), "yes")

    # assessments
    fb = mlflow.log_feedback(trace_id=trace_id, name="quality", value=True,
                             source=AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id="dev"))
    got = mlflow.get_assessment(trace_id, fb.assessment_id)
    eq("feedback read back", (got.name, got.value), ("quality", True))
    ex = mlflow.log_expectation(trace_id=trace_id, name="expected", value="A")
    mlflow.update_assessment(trace_id, fb.assessment_id, mlflow.entities.Feedback(name="quality", value=False))
    mlflow.delete_assessment(trace_id, ex.assessment_id)
    names = sorted(a.name for a in trace_info(trace_id).assessments if a.valid is not False)
    check("assessments in MLflow", "quality" in names and "expected" not in names, names)

    # another user sees none of it
    login("other")
    o = gateway()
    with refused("other: get_trace"):
        o.get_trace(trace_id)
    with refused("other: search_traces"):
        o.search_traces(experiment_ids=[exp_id])
    with refused("other: log_feedback"):
        mlflow.log_feedback(trace_id=trace_id, name="quality", value=False)
    with refused("other: delete_traces"):
        o.delete_traces(exp_id, trace_ids=[trace_id])
    eq("other's refusals left the trace", trace_info(trace_id).trace_id, trace_id)
    login("dev")

    # OTLP: /v1/traces needs credentials and EDIT on the experiment named
    body = otlp_request("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")
    hdrs = {"Content-Type": "application/x-protobuf", "X-Mlflow-Experiment-Id": exp_id}
    status, _, _ = http("POST", "/v1/traces", None, body=body, headers=hdrs)
    eq("OTLP without credentials", status, 401)
    status, _, _ = http("POST", "/v1/traces", "other", body=body, headers=hdrs)
    eq("OTLP into someone else's experiment", status, 403)
    status, _, _ = http("POST", "/v1/traces", "dev", body=body, headers=hdrs)
    eq("OTLP with credentials", status, 200)
    ids = [t.info.trace_id for t in traces_in(exp_id)]
    eq("the OTLP trace reached MLflow", len(ids), 4)

    c.delete_traces(exp_id, trace_ids=[trace_id])
    eq("trace deleted", len(traces_in(exp_id)), 3)

    # logged models
    lm = mlflow.initialize_logged_model(name="agent", experiment_id=exp_id)
    c.set_logged_model_tags(lm.model_id, {"k": "v"})
    mlflow.log_model_params({"temperature": "0.1"}, model_id=lm.model_id)
    c.finalize_logged_model(lm.model_id, "READY")
    got = c.get_logged_model(lm.model_id)
    eq("logged model", (got.tags.get("k"), str(getattr(got.status, "value", got.status)), got.params.get("temperature")), ("v", "READY", "0.1"))
    eq("search_logged_models", [m.model_id for m in c.search_logged_models(experiment_ids=[exp_id])], [lm.model_id])
    login("other")
    with refused("other: get_logged_model"):
        gateway().get_logged_model(lm.model_id)
    login("dev")
    c.delete_logged_model(lm.model_id)

    # prompts
    pname = unique("prompt")
    p1 = mlflow.genai.register_prompt(name=pname, template="Answer {{question}}")
    p2 = mlflow.genai.register_prompt(name=pname, template="Answer briefly: {{question}}")
    eq("prompt versions", (p1.version, p2.version), (1, 2))
    mlflow.genai.set_prompt_alias(pname, "production", 1)
    eq("load_prompt", mlflow.genai.load_prompt(f"prompts:/{pname}/2").template, "Answer briefly: {{question}}")
    eq("load_prompt by alias", mlflow.genai.load_prompt(f"prompts:/{pname}@production").version, 1)
    eq("formatted", mlflow.genai.load_prompt(f"prompts:/{pname}/1").format(question="why"), "Answer why")
    login("other")
    # (load_prompt remembers prompts in the process: ask the registry)
    with refused("other: read the prompt's version"):
        gateway().get_model_version(pname, "1")
    status, _, _ = http("GET", f"/api/2.0/mlflow/registered-models/get?name={pname}", "other")
    eq("other: read the prompt", status, 403)
    try:
        mlflow.genai.register_prompt(name=pname, template="hijacked {{question}}")
        raise AssertionError("other: register_prompt on someone else's prompt went through")
    except mlflow.exceptions.MlflowException as e:
        # the client cannot read the prompt, so it tries to create it, which
        # MLflow refuses for a name that is taken
        check("other: register_prompt refused", e.error_code in ("PERMISSION_DENIED", "RESOURCE_ALREADY_EXISTS"), str(e))
    status, body, _ = http("POST", "/api/2.0/mlflow/model-versions/create", "other",
                           body={"name": pname, "source": "dummy", "tags": [{"key": "mlflow.prompt.is_prompt", "value": "true"}]})
    eq("other: add a version to it", (status, body.get("error_code")), (403, "PERMISSION_DENIED"))
    login("dev")
    got = [http("GET", f"/api/2.0/mlflow/model-versions/get?name={pname}&version={v}", base=DIRECT)[0] for v in (2, 3)]
    eq("in MLflow: version 2 and no third", got, [200, 404])

    # evaluation datasets
    from mlflow.genai.datasets import create_dataset, delete_dataset, get_dataset
    ds = create_dataset(name=unique("ds"), experiment_id=[exp_id])
    ds.merge_records([{"inputs": {"question": "what"}, "expectations": {"answer": "WHAT"}}])
    eq("dataset records", len(get_dataset(dataset_id=ds.dataset_id).to_df()), 1)
    login("other")
    with refused("other: get_dataset"):
        get_dataset(dataset_id=ds.dataset_id)
    login("dev")
    delete_dataset(dataset_id=ds.dataset_id)

    # scorers, through the client's store (Scorer.register needs pydantic 2,
    # which this machine's Debian lacks; the REST calls are the same)
    from mlflow.tracking._tracking_service.utils import _get_store
    serialized = json.dumps({"name": "has_answer", "builtin_scorer_class": None, "call_source": "return True",
                             "call_signature": "(outputs)", "original_func_name": "has_answer"})
    eq("register_scorer", _get_store().register_scorer(exp_id, "has_answer", serialized), 1)
    eq("list_scorers", [v.scorer_name for v in _get_store().list_scorers(exp_id)], ["has_answer"])
    eq("get_scorer", _get_store().get_scorer(exp_id, "has_answer").scorer_name, "has_answer")
    login("other")
    with refused("other: list_scorers"):
        _get_store().list_scorers(exp_id)
    with refused("other: register over it"):
        _get_store().register_scorer(exp_id, "has_answer", serialized)
    login("dev")
    _get_store().delete_scorer(exp_id, "has_answer")
    eq("scorer deleted in MLflow", http("GET", f"/api/3.0/mlflow/scorers/list?experiment_id={exp_id}", base=DIRECT)[1].get("scorers", []), [])

    # GraphQL as MLflow 3.5.1's UI sends it (run page)
    run = c.create_run(exp_id)
    query = {"operationName": "GetRun", "variables": {"data": {"runId": run.info.run_id}}, "query": """
query GetRun($data: MlflowGetRunInput!) @component(name: "MLflow.ExperimentRunTracking") {
  mlflowGetRun(input: $data) {
    run {
      info { runUuid experimentId runName status lifecycleStage artifactUri }
      data { metrics { key value step timestamp } params { key value } tags { key value } }
      inputs { datasetInputs { dataset { name digest } } modelInputs { modelId } }
      outputs { modelOutputs { modelId step } }
      modelVersions { name version }
    }
  }
}"""}
    status, body, _ = http("POST", "/graphql", "dev", body=query)
    eq("GraphQL run page", (status, body.get("data", {}).get("mlflowGetRun", {}).get("run", {}).get("info", {}).get("runUuid")),
       (200, run.info.run_id))
    status, body, _ = http("POST", "/graphql", "other", body=query)
    eq("GraphQL run page for another user", status, 403)

    # webhooks: administrators only
    from mlflow.entities.webhook import WebhookEvent
    with refused("dev: create_webhook"):
        c.create_webhook(name="w", url="https://example.com/hook", events=[WebhookEvent("registered_model", "created")])
    login("admin", "password")
    a = gateway()
    w = a.create_webhook(name=unique("hook"), url="https://example.com/hook", events=[WebhookEvent("registered_model", "created")])
    eq("get_webhook", a.get_webhook(w.webhook_id).url, "https://example.com/hook")
    check("list_webhooks", w.webhook_id in [x.webhook_id for x in a.list_webhooks()])
    a.update_webhook(w.webhook_id, description="updated")
    eq("update_webhook", a.get_webhook(w.webhook_id).description, "updated")
    a.delete_webhook(w.webhook_id)
    done()


main()
