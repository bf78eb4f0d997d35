package permission

import (
	"fmt"
	"strings"
)

// Source is where a decision came from.
type Source uint8

// The sources. User, Group, Regex and GroupRegex are the configurable
// resolution order; the others are how a decision can end without them.
const (
	SourceDefault     Source = iota // no source answered: the configured default
	SourceUser                      // an explicit grant to the user
	SourceGroup                     // explicit grants to the user's groups
	SourceRegex                     // a regex rule for the user
	SourceGroupRegex                // a regex rule for one of the user's groups
	SourceAdmin                     // admins are allowed everything
	SourceInactive                  // a deactivated user is allowed nothing
	SourceUnknownKind               // a resource kind the engine does not know: denied
)

var sourceNames = [...]string{"default", "user", "group", "regex", "group-regex", "admin", "inactive", "unknown-kind"}

// String returns the source's name as PERMISSION_SOURCE_ORDER writes it.
func (s Source) String() string {
	if int(s) < len(sourceNames) {
		return sourceNames[s]
	}
	return fmt.Sprintf("Source(%d)", uint8(s))
}

// DefaultOrder is mlflow-oidc-auth's PERMISSION_SOURCE_ORDER default.
func DefaultOrder() []Source {
	return []Source{SourceUser, SourceGroup, SourceRegex, SourceGroupRegex}
}

// ParseOrder parses a PERMISSION_SOURCE_ORDER value such as
// "user,group,regex,group-regex" (commas and/or spaces). Every source may
// appear once; a source left out is never consulted. Empty means
// DefaultOrder.
func ParseOrder(s string) ([]Source, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	if len(fields) == 0 {
		return DefaultOrder(), nil
	}
	var order []Source
	seen := map[Source]bool{}
	for _, f := range fields {
		var src Source
		switch f {
		case "user":
			src = SourceUser
		case "group":
			src = SourceGroup
		case "regex":
			src = SourceRegex
		case "group-regex":
			src = SourceGroupRegex
		default:
			return nil, fmt.Errorf("permission: unknown permission source %q (expected user, group, regex or group-regex)", f)
		}
		if seen[src] {
			return nil, fmt.Errorf("permission: permission source %q given twice", f)
		}
		seen[src] = true
		order = append(order, src)
	}
	return order, nil
}

// Decision is a level with what decided it.
type Decision struct {
	Level  Level
	Source Source
	// Group is the group whose grant or rule decided (group, group-regex).
	Group string
	// Rule is the rule that decided (regex, group-regex). It is shared
	// with the snapshot: do not modify it.
	Rule *Rule
	// Via is RegisteredModel when a prompt was decided by the grants on
	// the registered model of the same name.
	Via Kind
}

// Allows reports whether the decided level has capability c.
func (d Decision) Allows(c Capability) bool { return d.Level.Allows(c) }

// Explain renders the decision for people, as in
// "EDIT from group `ml-team` regex `^team-a/` priority 10".
func (d Decision) Explain() string {
	var b strings.Builder
	b.WriteString(d.Level.String())
	switch d.Source {
	case SourceDefault:
		b.WriteString(" by default (no grant or rule applies)")
	case SourceUser:
		b.WriteString(" from a grant to the user")
	case SourceGroup:
		fmt.Fprintf(&b, " from group `%s`", d.Group)
	case SourceRegex:
		fmt.Fprintf(&b, " from user regex `%s` priority %d", d.Rule.Pattern, d.Rule.Priority)
	case SourceGroupRegex:
		fmt.Fprintf(&b, " from group `%s` regex `%s` priority %d", d.Group, d.Rule.Pattern, d.Rule.Priority)
	case SourceAdmin:
		b.WriteString(": administrator")
	case SourceInactive:
		b.WriteString(": the user is deactivated")
	case SourceUnknownKind:
		b.WriteString(": unknown resource kind")
	}
	if d.Via == RegisteredModel {
		b.WriteString(" on the registered model of the same name")
	}
	return b.String()
}

func (d Decision) String() string { return d.Explain() }
