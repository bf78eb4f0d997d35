package jwtauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// ErrUnknownKey: no key with the token's kid, even after a refetch (or a
// refetch was not allowed yet).
var ErrUnknownKey = errors.New("jwtauth: unknown signing key")

// keySet is an issuer's JWKS: fetched once, fetched again for an unknown
// kid at most once per minInterval, and refreshed when older than refresh
// so that removed keys stop verifying.
type keySet struct {
	url         string
	client      *http.Client
	minInterval time.Duration
	refresh     time.Duration

	mu        sync.Mutex
	keys      map[string]jwk
	fetched   time.Time // last successful fetch
	attempted time.Time // last fetch, successful or not
	fetches   int       // for tests and metrics
}

type jwk struct {
	key any    // *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey
	alg string // the JWK's alg, if it names one
}

func (k *keySet) lookup(ctx context.Context, kid string, now time.Time) (jwk, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	key, ok := k.keys[kid]
	stale := now.Sub(k.fetched) >= k.refresh
	if (ok && !stale) || now.Sub(k.attempted) < k.minInterval {
		if ok {
			return key, nil
		}
		return jwk{}, fmt.Errorf("%w %q (the keys were fetched moments ago)", ErrUnknownKey, kid)
	}
	if err := k.fetch(ctx, now); err != nil {
		if ok {
			return key, nil // the IdP is unreachable: keep the keys we have
		}
		return jwk{}, err
	}
	if key, ok = k.keys[kid]; !ok {
		return jwk{}, fmt.Errorf("%w %q", ErrUnknownKey, kid)
	}
	return key, nil
}

// fetch reads the JWKS; the caller holds k.mu.
func (k *keySet) fetch(ctx context.Context, now time.Time) error {
	k.attempted = now
	k.fetches++
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return err
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return fmt.Errorf("jwtauth: fetching keys from %s: %w", k.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("jwtauth: fetching keys from %s: HTTP %d", k.url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("jwtauth: fetching keys from %s: %w", k.url, err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return fmt.Errorf("jwtauth: keys from %s: %w", k.url, err)
	}
	keys := map[string]jwk{}
	for _, key := range set.Keys {
		if key.Use == "enc" || !key.IsPublic() {
			continue
		}
		switch key.Key.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
			keys[key.KeyID] = jwk{key: key.Key, alg: key.Algorithm}
		}
	}
	k.keys, k.fetched = keys, now
	return nil
}
