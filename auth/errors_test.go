package auth

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestWriteError(t *testing.T) {
	cause := errors.New("pq: password authentication failed for user gateway")
	tests := []struct {
		name       string
		err        error
		status     int
		body       string
		retryAfter string
	}{
		{
			name:   "unauthenticated, MLflow's sentence",
			err:    Unauthenticated(""),
			status: 401,
			body:   `{"error_code":"UNAUTHENTICATED","message":"You are not authenticated. Please see https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow on how to authenticate."}`,
		},
		{
			name:   "unauthenticated, own message",
			err:    Unauthenticated("Access token expired"),
			status: 401,
			body:   `{"error_code":"UNAUTHENTICATED","message":"Access token expired"}`,
		},
		{
			name:   "permission denied, MLflow's sentence",
			err:    PermissionDenied(""),
			status: 403,
			body:   `{"error_code":"PERMISSION_DENIED","message":"Permission denied."}`,
		},
		{
			name:   "permission denied, own message",
			err:    PermissionDenied("READ on experiment 7 is needed; you have NO_PERMISSIONS by default."),
			status: 403,
			body:   `{"error_code":"PERMISSION_DENIED","message":"Permission denied. READ on experiment 7 is needed; you have NO_PERMISSIONS by default."}`,
		},
		{
			name:   "bad request",
			err:    BadRequest(CodeInvalidParameterValue, "Invalid permission 'OWNER'"),
			status: 400,
			body:   `{"error_code":"INVALID_PARAMETER_VALUE","message":"Invalid permission 'OWNER'"}`,
		},
		{
			name:   "wrapped *Error keeps its shape, cause not sent",
			err:    fmt.Errorf("lookup: %w", &Error{Status: 503, Code: CodeTemporarilyUnavailable, Message: "MLflow did not answer", Err: cause}),
			status: 503,
			body:   `{"error_code":"TEMPORARILY_UNAVAILABLE","message":"MLflow did not answer"}`,
		},
		{
			name:       "retry after, rounded up",
			err:        &Error{Status: 429, Code: CodeRequestLimitExceeded, Message: "Too many failed sign-ins", RetryAfter: 30*time.Second + time.Millisecond},
			status:     429,
			body:       `{"error_code":"REQUEST_LIMIT_EXCEEDED","message":"Too many failed sign-ins"}`,
			retryAfter: "31",
		},
		{
			name:   "plain error: 500, text not sent",
			err:    cause,
			status: 500,
			body:   `{"error_code":"INTERNAL_ERROR","message":"Internal error"}`,
		},
		{
			name:   "an *Error with a status that is not an error status is a 500",
			err:    &Error{Status: 200, Code: CodeInternalError, Message: "oops"},
			status: 500,
			body:   `{"error_code":"INTERNAL_ERROR","message":"oops"}`,
		},
		{
			name:   "message with characters JSON must escape",
			err:    Unauthenticated(`bad "scheme" <x>`),
			status: 401,
			body:   `{"error_code":"UNAUTHENTICATED","message":"bad \"scheme\" \u003cx\u003e"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			WriteError(w, tt.err)
			assert.Equal(t, tt.status, w.Code)
			assert.JSONEq(t, tt.body, w.Body.String())
			assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
			assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
			assert.Equal(t, "nosniff", w.Header().Get("X-Content-Type-Options"))
			assert.Equal(t, tt.retryAfter, w.Header().Get("Retry-After"))
			assert.Empty(t, w.Header().Get("WWW-Authenticate"), "the challenge is Middleware's decision")
			assert.NotContains(t, w.Body.String(), "pq:")
		})
	}
}

func TestErrorWrapping(t *testing.T) {
	cause := errors.New("connection refused")
	err := error(&Error{Status: http.StatusServiceUnavailable, Code: CodeTemporarilyUnavailable, Message: "store down", Err: cause})
	assert.ErrorIs(t, err, cause)
	assert.Equal(t, "TEMPORARILY_UNAVAILABLE: store down: connection refused", err.Error())
	assert.Equal(t, "PERMISSION_DENIED: Permission denied.", PermissionDenied("").Error())
	var e *Error
	assert.ErrorAs(t, fmt.Errorf("outer: %w", err), &e)
}

func TestUnavailable(t *testing.T) {
	cause := errors.New("dial tcp: connection refused")
	e := Unavailable("The store is unavailable; try again", cause)
	assert.ErrorIs(t, e, cause)
	w := httptest.NewRecorder()
	WriteError(w, e)
	assert.Equal(t, 503, w.Code)
	assert.Equal(t, "1", w.Header().Get("Retry-After"))
	assert.JSONEq(t, `{"error_code":"TEMPORARILY_UNAVAILABLE","message":"The store is unavailable; try again"}`, w.Body.String())
}
