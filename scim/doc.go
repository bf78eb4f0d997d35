// Package scim is SCIM 2.0 provisioning (RFC 7643, RFC 7644) for the
// gateway's accounts and groups: the identity provider (Okta, Microsoft
// Entra ID) creates, updates, deactivates and deletes them, and pushes
// group memberships, so that access ends when employment does, on every
// replica within the change feed's delivery time.
//
// It serves Users, Groups, ServiceProviderConfig, ResourceTypes and
// Schemas under Prefix, parsed, filtered and answered by
// github.com/elimity-com/scim (filters by github.com/scim2/filter-parser).
// Requests are authenticated by SCIM tokens only: Config.Tokens (the
// gateway's SCIM_TOKEN) and the live tokens in the store, made by an
// administrator. SCIM is off (404) while neither exists.
//
// Users are the gateway's accounts, by username (userName, compared
// lower-cased); the store's id is SCIM's id. "active": false
// deactivates: the account's tokens and sessions stop at once. DELETE
// deactivates and hides the account, keeping its grants for when SCIM
// creates it again, or with Config.RemoveOnDelete removes it and its
// grants. Groups SCIM creates are SCIM's alone: sign-ins' ID-token claims
// neither add nor remove their members.
//
// Use:
//
//	h, err := scim.New(scim.Config{Store: db, Tokens: []scim.Token{scim.StaticToken("SCIM_TOKEN", os.Getenv("SCIM_TOKEN"))}})
//	if err != nil { ... }
//	mux.Handle(scim.Prefix+"/", h) // outside the gateway's authentication
package scim
