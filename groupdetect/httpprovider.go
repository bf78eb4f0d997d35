package groupdetect

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// HTTPConfig configures HTTP.
type HTTPConfig struct {
	// URL is the directory's endpoint, HTTPS. {sub}, {email} and
	// {username} in it are replaced by the user's claims, escaped.
	URL string
	// ResponsePath is where the list of groups is in the JSON answer, as
	// a dotted path ("groups" when empty; "data.memberships" reaches in).
	ResponsePath string
	// ForwardToken sends the sign-in's access token as the bearer token.
	ForwardToken bool
	// AllowHTTP permits a plain http:// URL (tests, a sidecar on loopback).
	AllowHTTP bool
	Timeout   time.Duration // 10s when zero
	Client    *http.Client  // http.DefaultClient when nil
}

// HTTP asks an internal directory service for the user's groups.
func HTTP(cfg HTTPConfig) (Provider, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && cfg.AllowHTTP)) {
		return nil, fmt.Errorf("groupdetect: http: URL %q must be an https:// URL", cfg.URL)
	}
	if cfg.ResponsePath == "" {
		cfg.ResponsePath = "groups"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = http.DefaultClient
	}
	return Func(func(ctx context.Context, in Input) ([]string, error) {
		claim := func(k string) string { s, _ := in.Claims[k].(string); return url.PathEscape(s) }
		target := strings.NewReplacer("{sub}", claim("sub"), "{email}", claim("email"), "{username}", claim("preferred_username")).Replace(cfg.URL)
		bearer := ""
		if cfg.ForwardToken {
			if in.Token == nil || in.Token.AccessToken == "" {
				return nil, fail("http", "calling the directory", ErrNoToken)
			}
			bearer = in.Token.AccessToken
		}
		var body map[string]any
		if err := getJSON(ctx, cfg.Client, target, bearer, cfg.Timeout, 1, 5*time.Second, &body); err != nil {
			return nil, fail("http", "calling the directory", err)
		}
		v, ok := lookup(body, cfg.ResponsePath)
		if !ok {
			return nil, fail("http", "reading the answer", errors.New("no "+cfg.ResponsePath+" in it"))
		}
		groups, err := stringList(v)
		if err != nil {
			return nil, fail("http", "reading the answer", err)
		}
		return groups, nil
	}), nil
}
