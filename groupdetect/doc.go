// Package groupdetect finds a user's groups, which decide who may sign in
// (Gate), who is an admin, and which group grants and rules apply.
//
// A Provider takes the sign-in's OAuth2 token and the verified ID-token (or
// bearer JWT) claims and returns group names. The shipped providers:
//
//	// A claim of the ID token (OIDC_GROUPS_ATTRIBUTE): a list, a string, or a
//	// dotted path such as Keycloak's realm_access.roles.
//	p := groupdetect.Claims("groups")
//	p = groupdetect.Okta()    // urn:mlflow:groups, set by an Okta/Auth0 post-login action
//	p = groupdetect.Cognito() // cognito:groups
//
//	// Microsoft Entra ID through Microsoft Graph, nested groups included.
//	p = groupdetect.Entra(groupdetect.EntraConfig{})          // display names
//	p = groupdetect.Entra(groupdetect.EntraConfig{IDs: true}) // group ids
//
//	// Google: the userinfo endpoint, a verified email of an allowed domain,
//	// and a mapping file for the groups.
//	m, err := groupdetect.NewMapping("/etc/mlflowauth/groups.json", logger)
//	p, err = groupdetect.Google(groupdetect.GoogleConfig{HostedDomains: []string{"example.com"}, Mapping: m})
//
//	// An internal directory over HTTPS.
//	p, err = groupdetect.HTTP(groupdetect.HTTPConfig{URL: "https://dir.internal/users/{email}/groups"})
//
//	// Your own, in a few lines.
//	p = groupdetect.Func(func(ctx context.Context, in groupdetect.Input) ([]string, error) {
//		email, _ := in.Claims["email"].(string)
//		return ldapGroups(ctx, email)
//	})
//
// A Registry names providers, so OIDC_GROUP_DETECTION_PLUGIN can choose one;
// mlflow-oidc-auth's name for its Entra plugin is an alias of Entra. Cached
// remembers answers per user for a while.
//
// Failures name the provider and the step ("groupdetect: entra: listing
// groups (page 2): HTTP 503"), and a provider that cannot tell returns an
// error: sign-in is then refused, never granted with no groups.
package groupdetect
