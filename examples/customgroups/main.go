// Command customgroups shows a group provider of your own: registered by
// name, selected with OIDC_GROUP_DETECTION_PLUGIN, and judged by the same
// sign-in gate the gateway uses.
//
//	OIDC_GROUP_DETECTION_PLUGIN=team-file TEAM_FILE=teams.csv go run ./examples/customgroups ada@example.com
//
// The provider here reads a CSV of "email,group" lines: the Go answer to a
// Python group plugin such as the Google example in MLflow's SSO guide.
package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mlflowauth/mlflowauth/groupdetect"
)

// teamFile is the provider: groups from a CSV of email,group lines.
func teamFile(path string) groupdetect.Provider {
	return groupdetect.Func(func(ctx context.Context, in groupdetect.Input) ([]string, error) {
		email, _ := in.Claims["email"].(string)
		if verified, _ := in.Claims["email_verified"].(bool); !verified {
			return nil, errors.New("team-file: the email is not verified")
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("team-file: %w", err)
		}
		defer f.Close()
		rows, err := csv.NewReader(f).ReadAll()
		if err != nil {
			return nil, fmt.Errorf("team-file: %s: %w", path, err)
		}
		var groups []string
		for _, row := range rows {
			if len(row) == 2 && strings.EqualFold(strings.TrimSpace(row[0]), email) {
				groups = append(groups, strings.TrimSpace(row[1]))
			}
		}
		return groups, nil
	})
}

func run(args []string, getenv func(string) string, out io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: customgroups EMAIL")
	}
	registry := groupdetect.NewRegistry()
	registry.Register("team-file", teamFile(getenv("TEAM_FILE")))

	name := getenv("OIDC_GROUP_DETECTION_PLUGIN")
	if name == "" {
		name = "team-file"
	}
	provider, err := registry.Lookup(name)
	if err != nil {
		return err // names the variable and the providers known
	}
	gate := groupdetect.Gate{
		Allowed: groupdetect.ParseList(getenv("OIDC_GROUP_NAME")),
		Admin:   groupdetect.ParseList(getenv("OIDC_ADMIN_GROUP_NAME")),
	}
	claims := map[string]any{"email": args[0], "email_verified": true}
	groups, err := provider.Groups(context.Background(), groupdetect.Input{Claims: claims})
	if err != nil {
		return err
	}
	v := gate.Check(groups)
	fmt.Fprintf(out, "%s: groups %v, may sign in: %v, admin: %v\n", args[0], groups, v.SignIn, v.Admin)
	if !v.SignIn {
		fmt.Fprintln(out, gate.Refusal())
	}
	return nil
}

func main() {
	if err := run(os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
