package mlflow

import (
	"fmt"
	"strings"

	"github.com/mlflowauth/mlflowauth/auth"
	"github.com/mlflowauth/mlflowauth/permission"
)

// denied is the refusal a data scientist reads: the level needed, on what
// the request named (never an id only the lookup found: a run's
// experiment is "the experiment of run R"), and what the caller has and
// from where.
func denied(need permission.Capability, what string, d permission.Decision) *auth.Error {
	return auth.PermissionDenied(fmt.Sprintf("%s on %s is needed; you have %s.", need.MinLevel(), what, have(d)))
}

// have is a decision told to the person it is about.
func have(d permission.Decision) string {
	var b strings.Builder
	b.WriteString(d.Level.String())
	switch d.Source {
	case permission.SourceDefault:
		b.WriteString(", the default: no grant or rule gives you access")
	case permission.SourceUser:
		b.WriteString(" from a grant to you")
	case permission.SourceGroup:
		fmt.Fprintf(&b, " from group %s", d.Group)
	case permission.SourceRegex:
		fmt.Fprintf(&b, " from the rule %q for you", d.Rule.Pattern)
	case permission.SourceGroupRegex:
		fmt.Fprintf(&b, " from the rule %q for group %s", d.Rule.Pattern, d.Group)
	case permission.SourceInactive:
		b.WriteString(": your account is deactivated")
	case permission.SourceUnknownKind:
		b.WriteString(": the gateway does not know this kind of resource")
	}
	if d.Via == permission.RegisteredModel {
		b.WriteString(" (on the registered model of the same name)")
	}
	return b.String()
}

// named is how a request named a resource, for a refusal's message.
func named(kind refKind, v string, res permission.Resource) string {
	switch kind {
	case refExperiment, refArtifactPath:
		if res.Kind == permission.Experiment {
			return "experiment " + res.ID
		}
	case refExperimentName:
		return fmt.Sprintf("experiment %q", v)
	case refRun:
		return "the experiment of run " + v
	case refLoggedModel:
		return "the experiment of logged model " + v
	case refTrace:
		return "the experiment of trace " + v
	case refJob:
		return "the experiment of job " + v
	case refDataset:
		return "the experiments of dataset " + v
	case refSource:
		return fmt.Sprintf("what the source %q names", v)
	case refModel:
		if res.Kind == permission.Prompt {
			return "prompt " + v
		}
		return "registered model " + v
	case refGatewayEndpoint, refGatewayEndpointName, refGatewayProxyPath:
		if res.Name != "" {
			return "gateway endpoint " + res.Name
		}
		return "gateway endpoint " + v
	case refGatewaySecret:
		return "gateway secret " + v
	case refGatewayModelDefinition:
		return "gateway model definition " + v
	}
	return res.Kind.String() + " " + v
}
