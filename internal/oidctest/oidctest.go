// Package oidctest signs a user in at a gateway through a real OpenID
// provider (mockoidc), as a browser would, following the redirects by
// hand so that each step can be checked.
package oidctest

import (
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/oauth2-proxy/mockoidc"
)

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// SignIn queues u at idp, starts a sign-in at base's /login (asking to
// land on next), lets the provider answer, and hands its answer to the
// callback. It returns the session cookie named cookie and where the
// callback sent the browser.
func SignIn(base string, idp *mockoidc.MockOIDC, u *mockoidc.MockUser, next, cookie string) (*http.Cookie, string, error) {
	idp.QueueUser(u)
	resp, err := get(base+"/login?start=1&next="+url.QueryEscape(next), nil)
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode != http.StatusFound || len(resp.Cookies()) == 0 {
		return nil, "", fmt.Errorf("oidctest: /login answered %d with %d cookies", resp.StatusCode, len(resp.Cookies()))
	}
	pending := resp.Cookies()[0]
	authz, err := get(resp.Header.Get("Location"), nil)
	if err != nil {
		return nil, "", err
	}
	if authz.StatusCode != http.StatusFound {
		return nil, "", fmt.Errorf("oidctest: the provider answered %d", authz.StatusCode)
	}
	cb, err := url.Parse(authz.Header.Get("Location"))
	if err != nil {
		return nil, "", err
	}
	resp, err = get(base+cb.RequestURI(), pending)
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode != http.StatusFound {
		return nil, "", fmt.Errorf("oidctest: the callback answered %d", resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if c.Name == cookie && c.Value != "" {
			return c, resp.Header.Get("Location"), nil
		}
	}
	return nil, "", fmt.Errorf("oidctest: no %s cookie after the callback", cookie)
}

func get(target string, c *http.Cookie) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	if c != nil {
		req.AddCookie(c)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, nil
}
