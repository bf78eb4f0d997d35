package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mlflowauth/mlflowauth/basic"
	"github.com/mlflowauth/mlflowauth/store"
)

// ErrUsage: an operator command given the wrong words.
var ErrUsage = errors.New("usage: admin restore-admin USER | admin import [--force] URI | admin prune-sessions")

// Admin runs an operator command on the gateway's database (the `admin`
// subcommands of the gateway binary): restore-admin USER makes USER an
// active administrator (the way back in when no administrator can sign
// in); import URI brings an MLflow basic-auth or mlflow-oidc-auth database
// over (once, unless --force); prune-sessions deletes expired and revoked
// sessions. It reports to out.
func Admin(ctx context.Context, db *store.Store, args []string, out io.Writer) error {
	if len(args) == 0 {
		return ErrUsage
	}
	switch args[0] {
	case "restore-admin":
		if len(args) != 2 {
			return ErrUsage
		}
		if err := db.RestoreAdmin(ctx, args[1]); err != nil {
			return fmt.Errorf("restore-admin %s: %w", args[1], err)
		}
		fmt.Fprintf(out, "%s is an active administrator\n", args[1])
		return nil
	case "import":
		force := len(args) == 3 && args[1] == "--force"
		if len(args) != 2 && !force {
			return ErrUsage
		}
		report, err := db.Import(ctx, args[len(args)-1], store.ImportOptions{Force: force, IsDefaultPassword: isDefaultPassword})
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		fmt.Fprintln(out, report)
		return nil
	case "prune-sessions":
		if len(args) != 1 {
			return ErrUsage
		}
		n, err := db.PruneSessions(ctx, time.Now())
		if err != nil {
			return fmt.Errorf("prune-sessions: %w", err)
		}
		fmt.Fprintf(out, "%d sessions pruned\n", n)
		return nil
	}
	return ErrUsage
}

// isDefaultPassword reports a hash of one of MLflow's shipped default
// passwords: such imported accounts get password sign-in off.
func isDefaultPassword(hash string) bool {
	for _, p := range []string{"password1234", "password"} {
		if ok, err := basic.VerifyPassword(hash, p); err == nil && ok {
			return true
		}
	}
	return false
}
