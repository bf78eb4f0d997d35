package mlflow

import "strings"

// refKind is what an id in a request names.
type refKind uint8

const (
	refExperiment refKind = iota + 1
	refExperimentName
	refRun
	refLoggedModel
	refTrace
	refModel // a registered model's (or prompt's) name
	refScorer
	refGatewayEndpoint
	refGatewaySecret
	refGatewayModelDefinition
	refArtifactPath        // "<experiment id>/..." of the artifact proxy
	refDataset             // an evaluation dataset: decided on every experiment it is linked to
	refJob                 // a prompt-optimization job: decided on its experiment
	refGatewayEndpointName // a gateway endpoint by its name
	refGatewayProxyPath    // the UI's gateway-proxy: the endpoint named in gateway_path
	refSource              // a model version's source: runs:/<run>/..., models:/<logged model>, mlflow-artifacts:/<experiment>/...
)

// place is where the id is read.
type place uint8

const (
	inFields place = iota // where MLflow's handler reads parameters (ReadFields)
	inQuery               // the query string, whatever the method
	inPath                // a path parameter
	inHeader              // a request header
)

// ref says where one id of a request is and what it names.
type ref struct {
	kind  refKind
	place place
	// names are tried in order, the first present wins (run_id, then its
	// old name run_uuid); two present that disagree are a 400. A scorer
	// has two: experiment_id and name.
	names []string
	many  bool // a list: every id must pass (read-all rows)
	// reference: the id is another resource the request points at, which
	// needs only READ (a trace linked to a run), whatever the row needs.
	reference bool
	// path reaches into nested objects and lists below names[0].
	path []string
	// required: without this id the request is refused (where MLflow would
	// act without one).
	required bool
	// byName is a field that may name the resource instead of its id
	// (endpoints/get takes endpoint_id or name); both given is a 400.
	byName string
}

// byPath are the rules of rows whose contract leaves the id to
// gateway_required (id_source "n/a"), read from its gateway_note.
var byPath = map[string][]ref{
	"/api/2.0/mlflow/artifacts/presigned-upload-url": {{kind: refRun, names: []string{"run_id"}}},
	"/ajax-api/2.0/mlflow/gateway-proxy":             {{kind: refGatewayProxyPath, names: []string{"gateway_path"}, required: true}},
	"/api/2.0/mlflow/runs/log-inputs":                {{kind: refRun, names: []string{"run_id"}}},
	"/api/2.0/mlflow/runs/outputs": {
		{kind: refRun, names: []string{"run_id"}},
		// The logged models recorded as the run's outputs: READ on each.
		{kind: refLoggedModel, names: []string{"models"}, path: []string{"model_id"}, reference: true},
	},
	"/api/2.0/mlflow/metrics/get-history-bulk-interval": {{kind: refRun, names: []string{"run_ids", "run_id"}, many: true}},
	"/api/2.0mlflow/experiments/search-datasets":        {{kind: refExperiment, names: []string{"experiment_ids"}, many: true}},
	"/api/2.0/mlflow/traces":                            nil, // by method, below
	"/api/3.0/mlflow/traces/get":                        {{kind: refTrace, names: []string{"trace_id"}}},
	"/api/3.0/mlflow/traces/batchGet":                   {{kind: refTrace, names: []string{"trace_ids"}, many: true}},
	"/api/3.0/mlflow/traces/batchGetInfos":              {{kind: refTrace, names: []string{"trace_ids"}, many: true}},
	// MLflow 3.5 reads only locations[].mlflow_experiment.experiment_id;
	// later versions and older clients send experiment_ids: every
	// experiment named either way is decided.
	"/api/3.0/mlflow/traces/search": {
		{kind: refExperiment, names: []string{"experiment_ids"}, many: true},
		{kind: refExperiment, names: []string{"locations"}, path: []string{"mlflow_experiment", "experiment_id"}},
	},
	"/api/3.0/mlflow/traces/calculate-filter-correlation": {{kind: refExperiment, names: []string{"experiment_ids"}, many: true}},
	"/api/3.0/mlflow/traces/metrics":                      {{kind: refExperiment, names: []string{"experiment_ids"}, many: true}},
	"/api/2.0/mlflow/traces/link-to-run": {
		{kind: refRun, names: []string{"run_id"}},
		{kind: refTrace, names: []string{"trace_ids"}, many: true, reference: true},
	},
	"/api/2.0/mlflow/traces/delete-traces":                     {{kind: refExperiment, names: []string{"experiment_id"}}},
	"/api/3.0/mlflow/traces/delete-traces":                     {{kind: refExperiment, names: []string{"experiment_id"}}},
	"/api/3.0/mlflow/datasets/create":                          {{kind: refExperiment, names: []string{"experiment_ids"}, many: true}},
	"/api/3.0/mlflow/datasets/search":                          {{kind: refExperiment, names: []string{"experiment_ids"}, many: true}},
	"/api/2.0/mlflow-artifacts/presigned/<path:artifact_path>": {{kind: refArtifactPath, place: inPath, names: []string{"artifact_path"}}},
	"/api/3.0/mlflow/scorers/online-configs":                   {{kind: refExperiment, names: []string{"experiment_id"}}},
	"/api/3.0/mlflow/scorers/online-config":                    {{kind: refExperiment, names: []string{"experiment_id"}}},
	"/ajax-api/3.0/mlflow/scorers/online-configs":              {{kind: refExperiment, names: []string{"experiment_id"}}},
	"/ajax-api/3.0/mlflow/scorers/online-config":               {{kind: refExperiment, names: []string{"experiment_id"}}},
	// Trace creation: the experiment inside the trace's location.
	// MLflow merges a start into a trace that exists (by its trace_id):
	// that trace's experiment needs EDIT too, or a trace could be moved
	// out of its owner's experiment.
	"/api/3.0/mlflow/traces": {
		{kind: refExperiment, names: []string{"trace"},
			path: []string{"trace_info", "trace_location", "mlflow_experiment", "experiment_id"}, required: true},
		{kind: refTrace, names: []string{"trace"}, path: []string{"trace_info", "trace_id"}},
	},
	// A new gateway endpoint needs USE on every model definition it uses.
	"/api/3.0/mlflow/gateway/endpoints/create": {{kind: refGatewayModelDefinition, names: []string{"model_configs"},
		path: []string{"model_definition_id"}, required: true}},
	// A scorer run: on its experiment (update when it logs assessments,
	// see needFor); without an experiment it is refused.
	"/ajax-api/3.0/mlflow/scorer/invoke": {{kind: refExperiment, names: []string{"experiment_id"}, required: true}},
	// Linking prompts to a trace: update on the trace's experiment, READ
	// on every prompt named.
	"/api/2.0/mlflow/traces/link-prompts": {
		{kind: refTrace, names: []string{"trace_id"}, required: true},
		{kind: refModel, names: []string{"prompt_versions"}, path: []string{"name"}, reference: true},
	},
	// References count: READ on what a new object points at.
	"/api/2.0/mlflow/model-versions/create": {
		{kind: refModel, names: []string{"name"}},
		{kind: refRun, names: []string{"run_id"}, reference: true},
		{kind: refSource, names: []string{"source"}, reference: true},
		// MLflow 3 links the version to a logged model (and answers with
		// its run): READ on the logged model's experiment.
		{kind: refLoggedModel, names: []string{"model_id"}, reference: true},
	},
	"/api/2.0/mlflow/logged-models": {
		{kind: refExperiment, names: []string{"experiment_id"}},
		{kind: refRun, names: []string{"source_run_id"}, reference: true},
	},
}

// ruleFor returns where a row's ids are, from the contract's id_source.
// A row with a per-resource requirement and no rule is refused to
// non-admins: the gateway does not let through what it cannot decide.
func ruleFor(ep *Endpoint) ([]ref, bool) {
	if ep.Path == "/api/3.0/mlflow/traces" && ep.Method != "POST" {
		return nil, false
	}
	if ep.Path == "/api/2.0/mlflow/traces" {
		if ep.Method == "POST" {
			return []ref{{kind: refExperiment, names: []string{"experiment_id"}}}, true
		}
		return []ref{{kind: refExperiment, names: []string{"experiment_ids"}, many: true}}, true
	}
	if refs, ok := byPath[ep.Path]; ok && refs != nil {
		return refs, true
	}
	for _, twin := range ep.Twins {
		if refs, ok := byPath[twin]; ok && refs != nil {
			return refs, true
		}
	}
	src := ep.IDSource
	has := func(p string) bool { return strings.HasPrefix(src, p) }
	switch {
	case has("experiment_id + name"):
		return []ref{{kind: refScorer, names: []string{"experiment_id", "name"}}}, true
	case has("experiment_id (JSON body)"), has("experiment_id (query string)"):
		return []ref{{kind: refExperiment, names: []string{"experiment_id"}}}, true
	case has("experiment_ids (JSON body"):
		return []ref{{kind: refExperiment, names: []string{"experiment_ids"}, many: true}}, true
	case has("experiment_name (query string)"):
		return []ref{{kind: refExperimentName, names: []string{"experiment_name"}}}, true
	case has("run_id or run_uuid (QUERY string"):
		return []ref{{kind: refRun, place: inQuery, names: []string{"run_id", "run_uuid"}}}, true
	case has("run_id (JSON body; falls back to run_uuid)"), has("run_id (query string; falls back to run_uuid)"), has("run_id or run_uuid (query)"):
		return []ref{{kind: refRun, names: []string{"run_id", "run_uuid"}}}, true
	case has("run_id (query, repeated)"):
		return []ref{{kind: refRun, names: []string{"run_id"}, many: true}}, true
	case has("run_ids (query, repeated)"):
		return []ref{{kind: refRun, names: []string{"run_ids"}, many: true}}, true
	case has("name (JSON body) = registered model name"), has("name (query string) = registered model name"),
		has("name (the JSON body"), has("name (query) -> registered_model_permissions"):
		return []ref{{kind: refModel, names: []string{"name"}}}, true
	case has("model_id (URL path"):
		return []ref{{kind: refLoggedModel, place: inPath, names: []string{"model_id"}}}, true
	case has("experiment id parsed from the artifact path"):
		if strings.Contains(ep.Path, "<path:artifact_path>") {
			return []ref{{kind: refArtifactPath, place: inPath, names: []string{"artifact_path"}}}, true
		}
		return []ref{{kind: refArtifactPath, place: inQuery, names: []string{"path"}}}, true
	case has("request_id (query)"):
		return []ref{{kind: refTrace, names: []string{"request_id"}}}, true
	case has("secret_id ("):
		return []ref{{kind: refGatewaySecret, names: []string{"secret_id"}}}, true
	case has("endpoint_id (query string)") && ep.Path == "/api/3.0/mlflow/gateway/endpoints/get":
		return []ref{{kind: refGatewayEndpoint, names: []string{"endpoint_id"}, byName: "name"}}, true
	case has("endpoint_id ("):
		return []ref{{kind: refGatewayEndpoint, names: []string{"endpoint_id"}}}, true
	case has("endpoint_name (URL path)"), has("endpoint_name from URL path"):
		return []ref{{kind: refGatewayEndpointName, place: inPath, names: []string{"endpoint_name"}}}, true
	case has("'model' field of the JSON body"):
		return []ref{{kind: refGatewayEndpointName, names: []string{"model"}, required: true}}, true
	case has("model_definition_id ("):
		return []ref{{kind: refGatewayModelDefinition, names: []string{"model_definition_id"}}}, true
	case has("header X-Mlflow-Experiment-Id"):
		return []ref{{kind: refExperiment, place: inHeader, names: []string{"X-Mlflow-Experiment-Id"}}}, true
	}
	// Rows the contract leaves to gateway_required: traces named in the path.
	if strings.Contains(ep.Path, "/prompt-optimization/jobs/<job_id>") {
		return []ref{{kind: refJob, place: inPath, names: []string{"job_id"}}}, true
	}
	if strings.Contains(ep.Path, "/datasets/<dataset_id>") {
		return []ref{{kind: refDataset, place: inPath, names: []string{"dataset_id"}}}, true
	}
	if strings.Contains(ep.Path, "/traces/<trace_id>") {
		return []ref{{kind: refTrace, place: inPath, names: []string{"trace_id"}}}, true
	}
	if strings.Contains(ep.Path, "/traces/<request_id>") {
		return []ref{{kind: refTrace, place: inPath, names: []string{"request_id"}}}, true
	}
	return nil, false
}
