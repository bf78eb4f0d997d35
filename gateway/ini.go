package gateway

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/mlflowauth/mlflowauth/basic"
	"github.com/mlflowauth/mlflowauth/permission"
)

// mlflowAuthFunction is basic_auth.ini's authorization_function when MLflow
// does the authenticating itself: the only one the gateway can stand in for.
const mlflowAuthFunction = "mlflow.server.auth:authenticate_request_basic_auth"

// parseINI reads the [mlflow] section of an MLflow basic_auth.ini as
// Python's configparser does for the keys MLflow uses: "key = value" or
// "key: value", keys case-insensitive, "#" and ";" comment lines. A
// continuation line, a line that is neither, or a key given twice is an
// error naming the line: configparser would read something else, or
// refuse the file.
func parseINI(r io.Reader) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	section, n := "", 0
	for sc.Scan() {
		n++
		raw := sc.Text()
		line := strings.TrimSpace(raw)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
			continue
		case raw[0] == ' ' || raw[0] == '\t':
			return nil, fmt.Errorf("line %d: an indented line continues a value, which MLflow's keys never need", n)
		case line[0] == '[':
			if !strings.HasSuffix(line, "]") {
				return nil, fmt.Errorf("line %d: %q is not a [section]", n, line)
			}
			section = strings.TrimSpace(line[1 : len(line)-1])
			continue
		}
		i := strings.IndexAny(line, "=:")
		if i <= 0 {
			return nil, fmt.Errorf("line %d: not key = value", n)
		}
		if section != "mlflow" {
			continue
		}
		key := strings.ToLower(strings.TrimSpace(line[:i]))
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("line %d: %s given twice", n, key)
		}
		out[key] = strings.TrimSpace(line[i+1:])
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if section == "" && len(out) == 0 {
		return nil, fmt.Errorf("no [mlflow] section")
	}
	return out, nil
}

// applyAuthINI takes what an MLflow basic_auth.ini says where the
// environment does not: default_permission, the admin to create, the
// database to import. Each value taken is noted for the log.
func (e *env) applyAuthINI(c *Config, r io.Reader) {
	const name = "MLFLOW_AUTH_CONFIG_PATH"
	ini, err := parseINI(r)
	if err != nil {
		e.fail(name, "%s: %v", c.AuthConfigPath, err)
		return
	}
	if f := ini["authorization_function"]; f != "" && f != mlflowAuthFunction {
		e.fail(name, "authorization_function %q: the gateway authenticates by itself and cannot call a Python function (write an auth.Authenticator)", f)
	}
	if v := ini["default_permission"]; v != "" {
		if _, set := e.lookup("DEFAULT_MLFLOW_PERMISSION"); !set {
			l, err := permission.ParseLevel(v)
			if err != nil {
				e.fail(name, "default_permission: %v", err)
			}
			c.Permissions.Default = l
			c.Notes = append(c.Notes, name+": default_permission "+l.String())
		}
	}
	if user, pw := ini["admin_username"], ini["admin_password"]; user != "" && c.AdminUsername == "" {
		if len(pw) < 12 || basic.IsShippedDefault(pw) {
			c.Warnings = append(c.Warnings, name+": admin_password is MLflow's shipped default or shorter than 12 characters: no admin is created from it (set MLFLOW_AUTH_ADMIN_USERNAME and MLFLOW_AUTH_ADMIN_PASSWORD)")
		} else {
			c.AdminUsername, c.AdminPassword = user, pw
			c.Notes = append(c.Notes, name+": admin_username "+user)
		}
	}
	if db := ini["database_uri"]; db != "" && c.ImportDBURI == "" {
		c.ImportDBURI = db
		c.Notes = append(c.Notes, name+": database_uri is imported (once)")
	}
}
