package scim

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	escim "github.com/elimity-com/scim"
	"github.com/elimity-com/scim/optional"
	filter "github.com/scim2/filter-parser/v2"

	"github.com/mlflowauth/mlflowauth/store"
)

// groups serves /Groups: the groups SCIM keeps. Groups sign-ins made from
// ID-token claims are not listed; a POST of one's name takes it over.
type groups struct{ h *Handler }

func groupResource(g store.Group, members bool) escim.Resource {
	attrs := escim.ResourceAttributes{"displayName": g.Name}
	if members {
		list := make([]any, len(g.Members))
		for i, name := range g.Members {
			list[i] = map[string]any{"value": formatID(g.MemberIDs[i]), "display": name, "type": "User"}
		}
		attrs["members"] = list
	}
	r := escim.Resource{ID: formatID(g.ID), Attributes: attrs}
	if g.ExternalID != "" {
		r.ExternalID = optional.NewString(g.ExternalID)
	}
	return r
}

// wantMembers reports whether the answer should list members: not when
// the client asked to leave them out (Okta and Entra do, for big groups).
func wantMembers(r *http.Request) bool {
	q := r.URL.Query()
	for _, name := range strings.Split(q.Get("excludedAttributes"), ",") {
		if strings.EqualFold(strings.TrimSpace(name), "members") {
			return false
		}
	}
	if attrs := q.Get("attributes"); attrs != "" {
		for _, name := range strings.Split(attrs, ",") {
			if strings.EqualFold(strings.TrimSpace(name), "members") {
				return true
			}
		}
		return false
	}
	return true
}

func (s groups) get(r *http.Request, id string) (store.Group, error) {
	n, ok := parseID(id)
	if !ok {
		return store.Group{}, s.h.storeErr(r, store.ErrNotFound, "Group "+id)
	}
	g, err := s.h.cfg.Store.GroupByID(r.Context(), n)
	if err == nil && !g.SCIM {
		err = store.ErrNotFound
	}
	return g, s.h.storeErr(r, err, "Group "+id)
}

// memberIDs reads a members value: a list of {"value": "<user id>"}.
func memberIDs(v any) ([]int64, error) {
	list, ok := v.([]any)
	if !ok {
		if m, ok := v.(map[string]any); ok { // one member, not in a list
			list = []any{m}
		} else {
			return nil, invalidValue("members must be a list of {\"value\": \"<user id>\"}.")
		}
	}
	ids := make([]int64, 0, len(list))
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, invalidValue("members must be a list of {\"value\": \"<user id>\"}.")
		}
		raw, _ := field(m, "value").(string)
		id, ok := parseID(raw)
		if !ok {
			return nil, invalidValue("members: %q is not the id of a user of this service.", raw)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// filterIDs reads the user ids a members filter names: members[value eq
// "id"], with "or" between such comparisons (what Okta and Entra send to
// remove members).
func filterIDs(e filter.Expression) ([]int64, error) {
	switch e := e.(type) {
	case *filter.AttributeExpression:
		if !strings.EqualFold(e.AttributePath.AttributeName, "value") || e.Operator != filter.EQ {
			break
		}
		raw, _ := e.CompareValue.(string)
		id, ok := parseID(raw)
		if !ok {
			return nil, invalidValue("members: %q is not the id of a user of this service.", raw)
		}
		return []int64{id}, nil
	case *filter.LogicalExpression:
		if e.Operator != filter.OR {
			break
		}
		l, err := filterIDs(e.Left)
		if err != nil {
			return nil, err
		}
		r, err := filterIDs(e.Right)
		return append(l, r...), err
	}
	return nil, invalidValue("members can be chosen by value eq \"<user id>\" (joined with or), nothing else.")
}

func (s groups) Create(r *http.Request, attrs escim.ResourceAttributes) (escim.Resource, error) {
	name, _ := field(attrs, "displayName").(string)
	if strings.TrimSpace(name) == "" {
		return escim.Resource{}, invalidValue("displayName is required.")
	}
	ext, _ := field(attrs, "externalId").(string)
	var ids []int64
	if v := field(attrs, "members"); v != nil {
		var err error
		if ids, err = memberIDs(v); err != nil {
			return escim.Resource{}, err
		}
	}
	g, err := s.h.cfg.Store.ProvisionSCIMGroup(r.Context(), name, ext, ids)
	if err != nil {
		return escim.Resource{}, s.h.storeErr(r, err, "A group named "+name)
	}
	s.h.audit(r.Context(), "scim.group.create", g.Name, fmt.Sprintf("%d members", len(g.Members)))
	return groupResource(g, true), nil
}

func (s groups) Get(r *http.Request, id string) (escim.Resource, error) {
	g, err := s.get(r, id)
	if err != nil {
		return escim.Resource{}, err
	}
	return groupResource(g, wantMembers(r)), nil
}

func (s groups) GetAll(r *http.Request, params escim.ListRequestParams) (escim.Page, error) {
	all, err := s.h.cfg.Store.ListGroupDetails(r.Context())
	if err != nil {
		return escim.Page{}, s.h.storeErr(r, err, "")
	}
	members := wantMembers(r)
	var matched []escim.Resource
	for _, g := range all {
		if !g.SCIM {
			continue
		}
		if params.FilterValidator != nil && params.FilterValidator.PassesFilter(filterable(groupResource(g, true))) != nil {
			continue
		}
		matched = append(matched, groupResource(g, members))
	}
	return escim.Page{TotalResults: len(matched), Resources: page(matched, params.StartIndex, params.Count)}, nil
}

func (s groups) Replace(r *http.Request, id string, attrs escim.ResourceAttributes) (escim.Resource, error) {
	g, err := s.get(r, id)
	if err != nil {
		return escim.Resource{}, err
	}
	var ids []int64
	if v := field(attrs, "members"); v != nil {
		if ids, err = memberIDs(v); err != nil {
			return escim.Resource{}, err
		}
	}
	ext, _ := field(attrs, "externalId").(string)
	name, _ := field(attrs, "displayName").(string)
	return s.apply(r, g, &name, &ext, ids)
}

func (s groups) Patch(r *http.Request, id string, ops []escim.PatchOperation) (escim.Resource, error) {
	g, err := s.get(r, id)
	if err != nil {
		return escim.Resource{}, err
	}
	members := slices.Clone(g.MemberIDs)
	var name, ext *string
	setMembers := func(op string, ids []int64) {
		switch op {
		case escim.PatchOperationAdd:
			for _, id := range ids {
				if !slices.Contains(members, id) {
					members = append(members, id)
				}
			}
		case escim.PatchOperationRemove:
			members = slices.DeleteFunc(members, func(id int64) bool { return slices.Contains(ids, id) })
		default:
			members = slices.Clone(ids)
		}
	}
	for _, op := range ops {
		if op.Path == nil {
			m, ok := op.Value.(map[string]any)
			if !ok {
				return escim.Resource{}, invalidValue("A PATCH operation without a path needs an object as its value.")
			}
			for k, v := range m {
				key, ok := attrName(k, groupSchema)
				if !ok {
					continue
				}
				switch key {
				case "displayname":
					name = str(v)
				case "externalid":
					ext = str(v)
				case "members":
					ids, err := memberIDs(v)
					if err != nil {
						return escim.Resource{}, err
					}
					setMembers(op.Op, ids)
				}
			}
			continue
		}
		if uri := op.Path.AttributePath.URI(); uri != "" && !strings.EqualFold(uri, groupSchema) {
			continue
		}
		switch strings.ToLower(op.Path.AttributePath.AttributeName) {
		case "displayname":
			if op.Op == escim.PatchOperationRemove {
				return escim.Resource{}, mutability("displayName cannot be removed.")
			}
			name = str(op.Value)
		case "externalid":
			v := ""
			if op.Op != escim.PatchOperationRemove {
				v, _ = op.Value.(string)
			}
			ext = &v
		case "members":
			var ids []int64
			switch {
			case op.Path.ValueExpression != nil:
				if ids, err = filterIDs(op.Path.ValueExpression); err != nil {
					return escim.Resource{}, err
				}
			case op.Value != nil:
				if ids, err = memberIDs(op.Value); err != nil {
					return escim.Resource{}, err
				}
			case op.Op == escim.PatchOperationRemove: // every member
				ids = slices.Clone(members)
			}
			setMembers(op.Op, ids)
		}
	}
	return s.apply(r, g, name, ext, members)
}

// apply writes a group's new name (its grants and rules move with it),
// external id and members, in one transaction: a refused request changes
// nothing.
func (s groups) apply(r *http.Request, g store.Group, name, ext *string, members []int64) (escim.Resource, error) {
	c := store.GroupChange{ExternalID: ext}
	if name != nil && *name != g.Name {
		if strings.TrimSpace(*name) == "" {
			return escim.Resource{}, invalidValue("displayName cannot be empty.")
		}
		c.Name = name
	}
	var add, remove []int64
	for _, id := range members {
		if !slices.Contains(g.MemberIDs, id) && !slices.Contains(add, id) {
			add = append(add, id)
		}
	}
	for _, id := range g.MemberIDs {
		if !slices.Contains(members, id) {
			remove = append(remove, id)
		}
	}
	if len(add)+len(remove) > 0 {
		c.Members = &store.MemberChange{Add: add, Remove: remove}
	}
	out, err := s.h.cfg.Store.ChangeGroup(r.Context(), g.ID, c)
	if err != nil {
		what := "Group " + formatID(g.ID)
		if c.Name != nil {
			what = "A group named " + *c.Name
		}
		return escim.Resource{}, s.h.storeErr(r, err, what)
	}
	if c.Name != nil {
		s.h.audit(r.Context(), "scim.group.rename", out.Name, "was "+g.Name)
	}
	if c.Members != nil {
		s.h.audit(r.Context(), "scim.group.members", out.Name, fmt.Sprintf("%d added, %d removed", len(add), len(remove)))
	}
	return groupResource(out, wantMembers(r)), nil
}

func (s groups) Delete(r *http.Request, id string) error {
	g, err := s.get(r, id)
	if err != nil {
		return err
	}
	if err := s.h.cfg.Store.DeleteGroup(r.Context(), g.Name); err != nil {
		return s.h.storeErr(r, err, "Group "+id)
	}
	s.h.audit(r.Context(), "scim.group.delete", g.Name, "with its grants and rules")
	return nil
}
