package groupdetect

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// GoogleConfig configures Google. HostedDomains or EmailDomains must name
// who may come in at all, and Mapping gives the groups.
type GoogleConfig struct {
	// UserinfoURL is Google's userinfo endpoint;
	// https://openidconnect.googleapis.com/v1/userinfo when empty.
	UserinfoURL string
	// HostedDomains are Google Workspace domains (the hd claim) let in.
	HostedDomains []string
	// EmailDomains are email domains let in (for accounts outside a
	// Workspace); the email must be verified.
	EmailDomains []string
	// Mapping gives an allowed account its groups. An allowed account the
	// mapping does not list has none, and the gate refuses it.
	Mapping Provider
	Timeout time.Duration // 10s when zero
	Client  *http.Client  // http.DefaultClient when nil
}

// Google asks Google's userinfo endpoint who signed in, lets in only a
// verified email of an allowed hosted domain or email domain, and takes the
// groups from a mapping. Unlike a plugin that gives every Google account a
// group, an account nobody listed never gets in.
func Google(cfg GoogleConfig) (Provider, error) {
	if len(cfg.HostedDomains) == 0 && len(cfg.EmailDomains) == 0 {
		return nil, errors.New("groupdetect: google: name the allowed hosted domains or email domains")
	}
	if cfg.Mapping == nil {
		return nil, errors.New("groupdetect: google: a mapping of accounts to groups is required")
	}
	if cfg.UserinfoURL == "" {
		cfg.UserinfoURL = "https://openidconnect.googleapis.com/v1/userinfo"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = http.DefaultClient
	}
	lower := func(in []string) []string {
		out := make([]string, len(in))
		for i, s := range in {
			out[i] = strings.ToLower(strings.TrimSpace(s))
		}
		return out
	}
	hosted, domains := lower(cfg.HostedDomains), lower(cfg.EmailDomains)
	return Func(func(ctx context.Context, in Input) ([]string, error) {
		if in.Token == nil || in.Token.AccessToken == "" {
			return nil, fail("google", "calling userinfo", ErrNoToken)
		}
		var info struct {
			Sub           string `json:"sub"`
			Email         string `json:"email"`
			EmailVerified *bool  `json:"email_verified"`
			HD            string `json:"hd"`
		}
		if err := getJSON(ctx, cfg.Client, cfg.UserinfoURL, in.Token.AccessToken, cfg.Timeout, 1, 5*time.Second, &info); err != nil {
			return nil, fail("google", "calling userinfo", err)
		}
		if info.Sub == "" || info.Email == "" {
			return nil, fail("google", "reading userinfo", errors.New("no sub or email in the answer"))
		}
		if info.EmailVerified == nil || !*info.EmailVerified {
			return nil, fail("google", "checking the account", fmt.Errorf("%w: the email is not verified", ErrNotAllowed))
		}
		_, domain, _ := strings.Cut(strings.ToLower(info.Email), "@")
		if !slices.Contains(hosted, strings.ToLower(info.HD)) && !slices.Contains(domains, domain) {
			return nil, fail("google", "checking the account", fmt.Errorf("%w: neither its hosted domain nor its email domain is allowed", ErrNotAllowed))
		}
		return cfg.Mapping.Groups(ctx, Input{Token: in.Token, Claims: map[string]any{
			"sub": info.Sub, "email": info.Email, "email_verified": true, "hd": info.HD,
		}})
	}), nil
}
