package mlflow

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var updateReferences = flag.Bool("update-references", false, "rewrite references.md from the rules")

var refKindNames = map[refKind]string{
	refExperiment: "experiment", refExperimentName: "experiment (by name)", refRun: "run → its experiment",
	refLoggedModel: "logged model → its experiment", refTrace: "trace → its experiment", refModel: "registered model or prompt",
	refScorer: "scorer", refGatewayEndpoint: "gateway endpoint", refGatewaySecret: "gateway secret",
	refGatewayModelDefinition: "gateway model definition", refArtifactPath: "artifact path → its experiment",
	refDataset: "dataset → its experiments", refJob: "job → its experiment", refGatewayEndpointName: "gateway endpoint (by name)",
	refGatewayProxyPath: "gateway endpoint (in gateway_path)", refSource: "source URI → run, logged model, artifact path or registered model",
}

// checked are the reference checks made beside the rules (extraChecks):
// fields that name objects the rules' table cannot express.
var checked = []string{
	"| POST /v1/traces | every span's OTel trace id, and its `mlflow.traceRequestId` attribute (protobuf body) | trace → its experiment | EDIT when the trace exists |",
	"| POST /api/2.0/mlflow/traces, POST /api/3.0/mlflow/traces, PATCH and DELETE …/traces/<id>/tags | tag `mlflow.artifactLocation` | where MLflow reads the trace's spans | administrators only |",
	"| POST /api/3.0/mlflow/traces | `trace.trace_info.trace_id` | trace → its experiment (MLflow merges a start into an existing trace) | EDIT when the trace exists |",
	"| POST /ajax-api/2.0/mlflow/upload-artifact | Content-Type | — | not one a page of another site may post (text/plain, form, multipart) |",
	"| POST /api/2.0/mlflow/experiments/create | artifact_location | a storage location | administrators only |",
}

// referencesDoc renders every field that names another object than the
// one the request acts on: the rows' references, which need READ on what
// they name, and the checks made beside the rules.
func referencesDoc() string {
	var rows []string
	for _, e := range Endpoints() {
		refs, ok := ruleFor(&e)
		if !ok {
			continue
		}
		for _, r := range refs {
			if !r.reference && r.kind != refSource {
				continue
			}
			field := strings.Join(r.names, " or ")
			if len(r.path) > 0 {
				field += "[]." + strings.Join(r.path, ".")
			}
			rows = append(rows, fmt.Sprintf("| %s %s | `%s` | %s | READ |", e.Method, e.Path, field, refKindNames[r.kind]))
		}
	}
	sort.Strings(rows)
	var b strings.Builder
	b.WriteString("# Fields that name other objects\n\n")
	b.WriteString("Generated from `mlflow/rules.go` by `go test ./mlflow -run TestReferencesDoc -update-references`; the test fails when\n")
	b.WriteString("this file and the rules disagree. Each field is read where MLflow's handler reads it and resolved as\n")
	b.WriteString("MLflow resolves it; a value the gateway cannot resolve is refused to non-administrators.\n\n")
	b.WriteString("## References: READ on what they name\n\n| endpoint | field | names | needs |\n|---|---|---|---|\n")
	b.WriteString(strings.Join(rows, "\n") + "\n\n")
	b.WriteString("## Checked beside the rules\n\n| endpoint | field | names | needs |\n|---|---|---|---|\n")
	b.WriteString(strings.Join(checked, "\n") + "\n")
	return b.String()
}

// TestReferencesDoc keeps references.md, the list of reference fields
// per endpoint, in step with the rules that decide them.
func TestReferencesDoc(t *testing.T) {
	doc := referencesDoc()
	if *updateReferences {
		require.NoError(t, os.WriteFile("references.md", []byte(doc), 0o644))
	}
	b, err := os.ReadFile("references.md")
	require.NoError(t, err)
	assert.Equal(t, doc, string(b), "references.md is stale: go test ./mlflow -run TestReferencesDoc -update-references")
	for _, must := range []string{"`source`", "`model_id`", "`models[].model_id`", "`trace_ids`", "`prompt_versions[].name`"} {
		assert.Contains(t, doc, must)
	}
}
