package scim

import (
	"errors"
	"net/http"
	"strings"

	escim "github.com/elimity-com/scim"
	"github.com/elimity-com/scim/filter"
	"github.com/elimity-com/scim/optional"
	scimfilter "github.com/scim2/filter-parser/v2"

	"github.com/mlflowauth/mlflowauth/store"
)

// users serves /Users over the gateway's accounts: the identity
// provider's people.
type users struct{ h *Handler }

func userResource(u store.User) escim.Resource {
	attrs := escim.ResourceAttributes{"userName": u.Username, "active": !u.Deactivated}
	if u.DisplayName != "" {
		attrs["displayName"] = u.DisplayName
	}
	r := escim.Resource{ID: formatID(u.ID), Attributes: attrs, Meta: meta(u.CreatedAt, u.UpdatedAt)}
	if u.ExternalID != "" {
		r.ExternalID = optional.NewString(u.ExternalID)
	}
	return r
}

func (s users) get(r *http.Request, id string) (store.User, error) {
	n, ok := parseID(id)
	if !ok {
		return store.User{}, s.h.storeErr(r, store.ErrNotFound, "User "+id)
	}
	u, err := s.h.cfg.Store.UserByID(r.Context(), n)
	if err == nil && !u.SCIMVisible() {
		err = store.ErrNotFound
	}
	return u, s.h.storeErr(r, err, "User "+id)
}

// userFields is what a request says of a user: nil is not said.
type userFields struct {
	userName, displayName, formatted, givenName, familyName, externalID *string
	active                                                              *bool
}

func str(v any) *string {
	s, ok := v.(string)
	if !ok {
		return nil
	}
	return &s
}

// read takes the attributes the gateway keeps from a validated resource
// body or a path-less PATCH value; the rest (emails, titles, the
// enterprise extension) is accepted and not kept.
func (f *userFields) read(attrs map[string]any) {
	for k, v := range attrs {
		name, ok := attrName(k, userSchema)
		if !ok {
			continue // an extension's
		}
		switch name {
		case "username":
			f.userName = str(v)
		case "displayname":
			f.displayName = str(v)
		case "externalid":
			f.externalID = str(v)
		case "active":
			if b, ok := v.(bool); ok {
				f.active = &b
			}
		case "name":
			if m, ok := v.(map[string]any); ok {
				f.readName(m)
			}
		case "name.formatted", "name.givenname", "name.familyname":
			f.readName(map[string]any{strings.TrimPrefix(name, "name."): v})
		}
	}
}

func (f *userFields) readName(m map[string]any) {
	for k, v := range m {
		switch strings.ToLower(k) {
		case "formatted":
			f.formatted = str(v)
		case "givenname":
			f.givenName = str(v)
		case "familyname":
			f.familyName = str(v)
		}
	}
}

// display is the display name the request implies: displayName, else
// name.formatted, else the given and family names.
func (f *userFields) display() *string {
	switch {
	case f.displayName != nil:
		return f.displayName
	case f.formatted != nil:
		return f.formatted
	case f.givenName != nil || f.familyName != nil:
		var parts []string
		for _, p := range []*string{f.givenName, f.familyName} {
			if p != nil && *p != "" {
				parts = append(parts, *p)
			}
		}
		s := strings.Join(parts, " ")
		return &s
	}
	return nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (s users) Create(r *http.Request, attrs escim.ResourceAttributes) (escim.Resource, error) {
	var f userFields
	f.read(attrs)
	if f.userName == nil || strings.TrimSpace(*f.userName) == "" {
		return escim.Resource{}, invalidValue("userName is required.")
	}
	active := f.active == nil || *f.active
	u, err := s.h.cfg.Store.ProvisionSCIMUser(r.Context(), store.User{Username: *f.userName, DisplayName: deref(f.display()),
		ExternalID: deref(f.externalID), Deactivated: !active})
	if err != nil {
		return escim.Resource{}, s.h.storeErr(r, err, "A user named "+*f.userName)
	}
	s.h.audit(r.Context(), "scim.user.create", u.Username, activeWord(active))
	return userResource(u), nil
}

func activeWord(active bool) string {
	if active {
		return "active"
	}
	return "deactivated"
}

func (s users) Get(r *http.Request, id string) (escim.Resource, error) {
	u, err := s.get(r, id)
	if err != nil {
		return escim.Resource{}, err
	}
	return userResource(u), nil
}

func (s users) GetAll(r *http.Request, params escim.ListRequestParams) (escim.Page, error) {
	var all []store.User
	if name, ok := userNameEq(params.FilterValidator); ok {
		// What Okta and Entra ask before every create: one account, not
		// all of them.
		u, err := s.h.cfg.Store.GetUser(r.Context(), name)
		switch {
		case err == nil:
			all = []store.User{u}
		case !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrInvalid):
			return escim.Page{}, s.h.storeErr(r, err, "")
		}
	} else {
		var err error
		if all, err = s.h.cfg.Store.ListUsers(r.Context()); err != nil {
			return escim.Page{}, s.h.storeErr(r, err, "")
		}
	}
	var matched []escim.Resource
	for _, u := range all {
		if !u.SCIMVisible() {
			continue
		}
		res := userResource(u)
		if params.FilterValidator != nil && params.FilterValidator.PassesFilter(filterable(res)) != nil {
			continue
		}
		matched = append(matched, res)
	}
	return escim.Page{TotalResults: len(matched), Resources: page(matched, params.StartIndex, params.Count)}, nil
}

// userNameEq reads the filter userName eq "name", if it is that.
func userNameEq(v *filter.Validator) (string, bool) {
	if v == nil {
		return "", false
	}
	e, ok := v.GetFilter().(*scimfilter.AttributeExpression)
	if !ok || e.Operator != scimfilter.EQ || e.AttributePath.SubAttribute != nil {
		return "", false
	}
	name, ok := attrName(e.AttributePath.String(), userSchema)
	value, isString := e.CompareValue.(string)
	return value, ok && isString && name == "username"
}

// filterable is a resource as the filter sees it: its attributes with id
// and externalId.
func filterable(r escim.Resource) map[string]any {
	m := make(map[string]any, len(r.Attributes)+2)
	for k, v := range r.Attributes {
		m[k] = v
	}
	m["id"] = r.ID
	if r.ExternalID.Present() {
		m["externalId"] = r.ExternalID.Value()
	}
	return m
}

func (s users) Replace(r *http.Request, id string, attrs escim.ResourceAttributes) (escim.Resource, error) {
	u, err := s.get(r, id)
	if err != nil {
		return escim.Resource{}, err
	}
	var f userFields
	f.read(attrs)
	// A PUT replaces: what it leaves out is cleared, except "active",
	// which only an explicit false ends.
	display, ext := deref(f.display()), deref(f.externalID)
	f.displayName, f.externalID = &display, &ext
	return s.apply(r, u, f)
}

func (s users) Patch(r *http.Request, id string, ops []escim.PatchOperation) (escim.Resource, error) {
	u, err := s.get(r, id)
	if err != nil {
		return escim.Resource{}, err
	}
	var f userFields
	for _, op := range ops {
		if op.Path == nil {
			m, ok := op.Value.(map[string]any)
			if !ok {
				return escim.Resource{}, invalidValue("A PATCH operation without a path needs an object as its value.")
			}
			f.read(m)
			continue
		}
		if uri := op.Path.AttributePath.URI(); uri != "" && !strings.EqualFold(uri, userSchema) {
			continue // an extension's attribute: not kept
		}
		name := op.Path.AttributePath.AttributeName
		if sub := op.Path.AttributePath.SubAttributeName(); sub != "" {
			name += "." + sub
		}
		value := op.Value
		if op.Op == escim.PatchOperationRemove {
			switch strings.ToLower(name) {
			case "active", "username":
				return escim.Resource{}, mutability("%s cannot be removed.", name)
			}
			value = ""
		}
		f.read(map[string]any{name: value})
	}
	// Half a name (Entra sends name.familyName alone when only it
	// changed) says nothing of the whole: the display name stays.
	if f.displayName == nil && f.formatted == nil && (f.givenName == nil || f.familyName == nil) {
		f.givenName, f.familyName = nil, nil
	}
	f.displayName = f.display()
	return s.apply(r, u, f)
}

// apply writes what f says to u, in one transaction: the account becomes
// SCIM's (linked); a new userName renames it (grants and rules follow, its
// tokens stay, its browser sessions end); "active": false deactivates (its
// tokens and sessions stop on every replica at once). SCIM reactivates
// only what SCIM deactivated: an account an administrator deactivated
// stays so, and the answer says so.
func (s users) apply(r *http.Request, u store.User, f userFields) (escim.Resource, error) {
	var rename *string
	if f.userName != nil && !strings.EqualFold(strings.TrimSpace(*f.userName), u.Username) {
		if strings.TrimSpace(*f.userName) == "" {
			return escim.Resource{}, invalidValue("userName cannot be empty.")
		}
		rename = f.userName
		if u.Admin {
			// A bearer JWT acts as the account its name claim names (its
			// subject differs between an identity provider's tokens), so a
			// rename hands the account to whoever the provider calls by
			// the new name: SCIM, which never makes anyone an
			// administrator, does not rename one.
			return escim.Resource{}, mutability("userName of an administrator cannot be changed through SCIM. An administrator can take the role away first, and give it back after the rename.")
		}
	}
	state := store.SCIMLinked
	if u.SCIM == store.SCIMSuspended {
		state = store.SCIMSuspended
	}
	c := store.UserChange{ExternalID: f.externalID, DisplayName: f.displayName, Username: rename}
	action := ""
	if f.active != nil {
		switch on := *f.active; {
		case !on && !u.Deactivated:
			c.Active, state, action = f.active, store.SCIMSuspended, "scim.user.deactivate"
		case on && u.Deactivated && u.SCIM == store.SCIMSuspended:
			c.Active, state, action = f.active, store.SCIMLinked, "scim.user.reactivate"
		case on && u.Deactivated:
			s.h.cfg.Logger.InfoContext(r.Context(), "scim: not reactivating an account an administrator deactivated", "user", u.Username)
			action = "scim.user.reactivate-refused"
		}
	}
	c.SCIM = &state
	out, err := s.h.cfg.Store.UpdateUser(r.Context(), u.Username, c)
	if err != nil {
		what := "User " + formatID(u.ID)
		if rename != nil {
			what = "A user named " + *rename
		}
		return escim.Resource{}, s.h.storeErr(r, err, what)
	}
	if rename != nil {
		s.h.audit(r.Context(), "scim.user.rename", out.Username, "was "+u.Username)
	}
	switch {
	case action == "scim.user.reactivate-refused":
		s.h.audit(r.Context(), action, u.Username, "deactivated by an administrator: only an administrator reactivates it")
	case action != "":
		s.h.audit(r.Context(), action, u.Username, "")
	case u.SCIM == store.SCIMNone:
		s.h.audit(r.Context(), "scim.user.link", u.Username, "")
	}
	return userResource(out), nil
}

func (s users) Delete(r *http.Request, id string) error {
	u, err := s.get(r, id)
	if err != nil {
		return err
	}
	if err := s.h.cfg.Store.RemoveSCIMUser(r.Context(), u.Username, s.h.cfg.RemoveOnDelete); err != nil {
		return s.h.storeErr(r, err, "User "+id)
	}
	detail := "deactivated, tokens revoked, unbound from the identity provider; grants kept"
	if s.h.cfg.RemoveOnDelete {
		detail = "removed with its grants"
	}
	s.h.audit(r.Context(), "scim.user.delete", u.Username, detail)
	return nil
}
