package groupdetect

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// maxBody bounds what is read of any answer.
const maxBody = 4 << 20

// getJSON GETs url with the bearer token and decodes the JSON answer into
// v. A 429 is retried after its Retry-After (at most maxWait, at most
// retries times); anything but 200 is an error with the status.
func getJSON(ctx context.Context, client *http.Client, url, bearer string, timeout time.Duration, retries int, maxWait time.Duration, v any) error {
	for attempt := 0; ; attempt++ {
		wait, err := getOnce(ctx, client, url, bearer, timeout, v)
		if wait == 0 || attempt >= retries {
			return err
		}
		if wait > maxWait {
			return fmt.Errorf("rate limited: Retry-After %s is longer than %s", wait, maxWait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// getOnce returns a positive wait when the answer was 429.
func getOnce(ctx context.Context, client *http.Client, url, bearer string, timeout time.Duration, v any) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return 0, err
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		wait := time.Second
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
			wait = max(time.Duration(s)*time.Second, time.Millisecond)
		}
		return wait, fmt.Errorf("HTTP 429 (rate limited)")
	case resp.StatusCode != http.StatusOK:
		return 0, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return 0, fmt.Errorf("malformed JSON: %w", err)
	}
	return 0, nil
}
