package groupdetect

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// EntraConfig configures Entra. The zero value asks Microsoft Graph for
// display names.
type EntraConfig struct {
	// GraphURL is Microsoft Graph's base; https://graph.microsoft.com when
	// empty. nextLinks are followed only to this host.
	GraphURL string
	// IDs returns group ids (object ids) instead of display names: Azure's
	// guide matches OIDC_GROUP_NAME against group ids.
	IDs bool
	// Timeout bounds every call; 10s when zero.
	Timeout time.Duration
	// Retries is how many times a 429 is retried after its Retry-After; 3
	// when zero. MaxWait is the longest Retry-After honoured; 10s.
	Retries int
	MaxWait time.Duration
	// Client makes the calls; http.DefaultClient when nil.
	Client *http.Client
}

// Entra asks Microsoft Graph for the groups of the signed-in user,
// nested groups included (/me/transitiveMemberOf/microsoft.graph.group),
// following @odata.nextLink to the end. It needs the sign-in's access token
// for Graph (scope GroupMember.Read.All or Directory.Read.All).
func Entra(cfg EntraConfig) Provider {
	if cfg.GraphURL == "" {
		cfg.GraphURL = "https://graph.microsoft.com"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Retries <= 0 {
		cfg.Retries = 3
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 10 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = http.DefaultClient
	}
	return Func(func(ctx context.Context, in Input) ([]string, error) {
		if in.Token == nil || in.Token.AccessToken == "" {
			return nil, fail("entra", "calling Microsoft Graph", ErrNoToken)
		}
		base, err := url.Parse(cfg.GraphURL)
		if err != nil {
			return nil, fail("entra", "reading GraphURL", err)
		}
		next := cfg.GraphURL + "/v1.0/me/transitiveMemberOf/microsoft.graph.group?$select=id,displayName&$top=999"
		groups := []string{}
		for page := 1; next != ""; page++ {
			if page > 200 {
				return nil, fail("entra", "listing groups", errors.New("more than 200 pages"))
			}
			var resp struct {
				Value []struct {
					ID          string `json:"id"`
					DisplayName string `json:"displayName"`
				} `json:"value"`
				NextLink string `json:"@odata.nextLink"`
			}
			if err := getJSON(ctx, cfg.Client, next, in.Token.AccessToken, cfg.Timeout, cfg.Retries, cfg.MaxWait, &resp); err != nil {
				return nil, fail("entra", fmt.Sprintf("listing groups (page %d)", page), err)
			}
			if resp.Value == nil {
				return nil, fail("entra", fmt.Sprintf("listing groups (page %d)", page), errors.New(`the answer has no "value" list`))
			}
			for _, g := range resp.Value {
				name := g.DisplayName
				if cfg.IDs || name == "" {
					name = g.ID
				}
				if name != "" {
					groups = append(groups, name)
				}
			}
			next = resp.NextLink
			if next != "" {
				u, err := url.Parse(next)
				if err != nil || u.Scheme != base.Scheme || u.Host != base.Host {
					return nil, fail("entra", fmt.Sprintf("following @odata.nextLink (page %d)", page),
						fmt.Errorf("refused: it leads away from %s", base.Host))
				}
			}
		}
		return groups, nil
	})
}
