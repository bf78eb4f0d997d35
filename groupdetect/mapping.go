package groupdetect

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// MappingFile is the file Mapping reads, in JSON:
//
//	{
//	  "emails":   {"ada@example.com": ["mlflow-admin"]},
//	  "domains":  {"example.com": ["mlflow"]},
//	  "subjects": {"10769150350006150715113082367": ["mlflow"]}
//	}
//
// A user gets the groups of their subject, their (verified) email and their
// email's domain, together. Emails and domains compare lower-cased.
type MappingFile struct {
	Emails   map[string][]string `json:"emails"`
	Domains  map[string][]string `json:"domains"`
	Subjects map[string][]string `json:"subjects"`
}

// Mapping gives groups from a MappingFile: how the prebuilt gateway does
// what a Python group plugin would, without writing code. The file is read
// again when it changes; a file that no longer parses keeps the last good
// mapping, with an error logged.
type Mapping struct {
	path string
	log  *slog.Logger
	mu   sync.Mutex
	mod  time.Time
	size int64
	cur  *MappingFile
}

// NewMapping reads the mapping at path; a bad file is an error naming it.
func NewMapping(path string, logger *slog.Logger) (*Mapping, error) {
	if logger == nil {
		logger = slog.Default()
	}
	m := &Mapping{path: path, log: logger}
	if err := m.reload(); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Mapping) reload() error {
	st, err := os.Stat(m.path)
	if err != nil {
		return fail("mapping", "reading "+m.path, err)
	}
	if m.cur != nil && st.ModTime().Equal(m.mod) && st.Size() == m.size {
		return nil
	}
	b, err := os.ReadFile(m.path)
	if err != nil {
		return fail("mapping", "reading "+m.path, err)
	}
	var f MappingFile
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return fail("mapping", "parsing "+m.path, err)
	}
	norm := func(in map[string][]string) map[string][]string {
		out := make(map[string][]string, len(in))
		for k, v := range in {
			out[strings.ToLower(strings.TrimSpace(k))] = clean(v)
		}
		return out
	}
	f.Emails, f.Domains = norm(f.Emails), norm(f.Domains)
	m.cur, m.mod, m.size = &f, st.ModTime(), st.Size()
	return nil
}

// Groups implements Provider from the claims' sub, and email when
// email_verified is true.
func (m *Mapping) Groups(ctx context.Context, in Input) ([]string, error) {
	m.mu.Lock()
	if err := m.reload(); err != nil {
		m.log.ErrorContext(ctx, "groupdetect: keeping the last good mapping", "error", err)
	}
	f := m.cur
	m.mu.Unlock()
	sub, _ := in.Claims["sub"].(string)
	email, _ := in.Claims["email"].(string)
	verified, _ := in.Claims["email_verified"].(bool)
	return f.lookup(sub, email, verified), nil
}

func (f *MappingFile) lookup(sub, email string, verified bool) []string {
	groups := []string{}
	seen := map[string]bool{}
	add := func(gs []string) {
		for _, g := range gs {
			if !seen[g] {
				seen[g] = true
				groups = append(groups, g)
			}
		}
	}
	if sub != "" {
		add(f.Subjects[sub])
	}
	if email = strings.ToLower(strings.TrimSpace(email)); email != "" && verified {
		add(f.Emails[email])
		if _, domain, ok := strings.Cut(email, "@"); ok {
			add(f.Domains[domain])
		}
	}
	return groups
}

func (m *Mapping) String() string { return fmt.Sprintf("mapping(%s)", m.path) }
