package permission_test

import (
	"context"
	"fmt"

	"github.com/mlflowauth/mlflowauth/permission"
)

// The store satisfies permission.Loader; here the state is given directly.
func ExampleEngine() {
	state := &permission.Data{
		Users: []permission.User{{Name: "alice", Active: true, Groups: []string{"ml-team"}}},
		Grants: []permission.Grant{{
			Resource:  permission.Resource{Kind: permission.Experiment, ID: "7"},
			Principal: permission.ForUser("alice"),
			Level:     permission.Read,
		}},
		Rules: []permission.Rule{{
			ID: 1, Kind: permission.Experiment, Principal: permission.ForGroup("ml-team"),
			Pattern: `^team-a/`, Priority: 10, Level: permission.Edit,
		}},
	}
	engine, err := permission.NewEngine(context.Background(),
		permission.LoaderFunc(func(context.Context) (*permission.Data, error) { return state, nil }),
		permission.Config{})
	if err != nil {
		panic(err)
	}
	alice := engine.Snapshot().Subject("alice", nil) // stored groups: ml-team
	for _, res := range []permission.Resource{
		{Kind: permission.Experiment, ID: "7", Name: "team-a/churn"},
		{Kind: permission.Experiment, ID: "8", Name: "team-a/fraud"},
		{Kind: permission.Experiment, ID: "9", Name: "team-b/ads"},
	} {
		d := engine.Decide(alice, res)
		fmt.Printf("%s: update allowed: %v (%s)\n", res.Name, d.Allows(permission.CanUpdate), d.Explain())
	}
	// Output:
	// team-a/churn: update allowed: false (READ from a grant to the user)
	// team-a/fraud: update allowed: true (EDIT from group `ml-team` regex `^team-a/` priority 10)
	// team-b/ads: update allowed: false (NO_PERMISSIONS by default (no grant or rule applies))
}

// Changes arrive as deltas from the store's change feed.
func ExampleEngine_Apply() {
	engine, _ := permission.NewEngine(context.Background(),
		permission.LoaderFunc(func(context.Context) (*permission.Data, error) { return &permission.Data{}, nil }),
		permission.Config{})
	bob := permission.Subject{Username: "bob", Active: true}
	model := permission.Resource{Kind: permission.RegisteredModel, ID: "churn-model"}

	fmt.Println(engine.Decide(bob, model).Level)
	_ = engine.Apply(1, permission.PutGrant{Grant: permission.Grant{Resource: model, Principal: permission.ForUser("bob"), Level: permission.Manage}})
	fmt.Println(engine.Decide(bob, model).Level)
	// Output:
	// NO_PERMISSIONS
	// MANAGE
}

// Patterns are Python's, matched as re.match matches them.
func ExampleCompilePattern() {
	p, _ := permission.CompilePattern(`\w+-prod$`)
	fmt.Println(p.Match("café-prod"), p.Match("café-prod\n"), p.Match("my café-prod-2"))
	_, err := permission.CompilePattern(`^(?!tmp)`)
	fmt.Println(err)
	// Output:
	// true true false
	// invalid pattern "^(?!tmp)": lookahead cannot be expressed in RE2
}
