package gateway

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
)

// DotEnv reads a .env file (as mlflow-oidc-auth's python-dotenv does, for
// the common forms): NAME=value lines, "export " allowed, # comments and
// blank lines skipped, values in single quotes taken literally and in
// double quotes with \n, \" and \\ escapes. A line it cannot read is an
// error with its number. A missing file is not an error: there is none.
func DotEnv(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrConfig, path, err)
	}
	return parseDotEnv(path, b)
}

func parseDotEnv(path string, b []byte) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		name, value, ok := strings.Cut(line, "=")
		name = strings.TrimSpace(name)
		if !ok || !validName(name) {
			return nil, fmt.Errorf("%w: %s line %d: not NAME=value", ErrConfig, path, n)
		}
		value = strings.TrimSpace(value)
		switch {
		case len(value) >= 2 && value[0] == '\'' && value[len(value)-1] == '\'':
			value = value[1 : len(value)-1]
		case len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"':
			value = strings.NewReplacer(`\n`, "\n", `\"`, `"`, `\\`, `\`).Replace(value[1 : len(value)-1])
		case strings.HasPrefix(value, "'") || strings.HasPrefix(value, `"`):
			return nil, fmt.Errorf("%w: %s line %d: unclosed quote", ErrConfig, path, n)
		default:
			if i := strings.Index(value, " #"); i >= 0 {
				value = strings.TrimSpace(value[:i]) // an inline comment
			}
		}
		out[name] = value
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrConfig, path, err)
	}
	return out, nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// WithDotEnv looks a variable up in the environment first, then in the
// .env file's values: the environment wins, as with python-dotenv.
func WithDotEnv(file map[string]string, lookup func(string) (string, bool)) func(string) (string, bool) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	return func(name string) (string, bool) {
		if v, ok := lookup(name); ok {
			return v, true
		}
		v, ok := file[name]
		return v, ok
	}
}
