package auth

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// MLflow error codes used on the wire. The MLflow Python client turns a JSON
// body with one of these into an MlflowException.
const (
	CodeUnauthenticated        = "UNAUTHENTICATED"
	CodePermissionDenied       = "PERMISSION_DENIED"
	CodeBadRequest             = "BAD_REQUEST"
	CodeInvalidParameterValue  = "INVALID_PARAMETER_VALUE"
	CodeResourceDoesNotExist   = "RESOURCE_DOES_NOT_EXIST"
	CodeEndpointNotFound       = "ENDPOINT_NOT_FOUND"
	CodeRequestLimitExceeded   = "REQUEST_LIMIT_EXCEEDED"
	CodeTemporarilyUnavailable = "TEMPORARILY_UNAVAILABLE"
	CodeInternalError          = "INTERNAL_ERROR"
)

// Messages MLflow clients and tests match word for word.
const (
	MessageUnauthenticated  = "You are not authenticated. Please see https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow on how to authenticate."
	MessagePermissionDenied = "Permission denied."
)

// ErrNoCredentials is returned by an Authenticator when the request carries
// no credentials of its kind, so the chain asks the next one.
var ErrNoCredentials = errors.New("auth: no credentials for this authenticator")

// Error is an error with the HTTP status and MLflow error code it is answered
// with. Authenticators return one to choose the response (429 with
// RetryAfter, 503 when a store is unreachable); any other error from an
// authenticator is answered 401.
type Error struct {
	Status     int           // HTTP status
	Code       string        // MLflow error_code, such as CodeUnauthenticated
	Message    string        // sent to the client: never put a secret here
	RetryAfter time.Duration // sent as Retry-After (whole seconds, rounded up) when positive
	Err        error         // the cause, for logs and errors.Is; never sent
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Message + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Unauthenticated returns a 401 UNAUTHENTICATED error with msg, or MLflow's
// standard sentence when msg is empty.
func Unauthenticated(msg string) *Error {
	if msg == "" {
		msg = MessageUnauthenticated
	}
	return &Error{Status: http.StatusUnauthorized, Code: CodeUnauthenticated, Message: msg}
}

// PermissionDenied returns a 403 PERMISSION_DENIED error whose message is
// MLflow's "Permission denied." followed by why, a sentence a data
// scientist understands ("EDIT on experiment 12 is needed; you have READ
// from group data-science."). MLflow's clients and its own auth tests
// match "Permission denied." at the start, so why never replaces it.
func PermissionDenied(why string) *Error {
	msg := MessagePermissionDenied
	if why != "" {
		msg += " " + why
	}
	return &Error{Status: http.StatusForbidden, Code: CodePermissionDenied, Message: msg}
}

// Unavailable returns a 503 TEMPORARILY_UNAVAILABLE error with msg that
// asks the client to retry in a second (MLflow's clients do), wrapping the
// cause err (which is logged, never sent).
func Unavailable(msg string, err error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeTemporarilyUnavailable, Message: msg, RetryAfter: time.Second, Err: err}
}

// BadRequest returns a 400 with the given MLflow code and message.
func BadRequest(code, msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: code, Message: msg}
}

// body is MLflow's error JSON.
type body struct {
	ErrorCode string `json:"error_code"`
	Message   string `json:"message"`
}

// WriteError writes err as MLflow's JSON error body. An *Error (found with
// errors.As) chooses status, code and message; anything else is a 500
// INTERNAL_ERROR whose text is not sent, since it may say more than a client
// should see. WriteError never sets WWW-Authenticate: whether a 401 carries
// the Basic challenge depends on the request, which Middleware decides.
func WriteError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: http.StatusInternalServerError, Code: CodeInternalError, Message: "Internal error"}
	}
	status := e.Status
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if e.RetryAfter > 0 {
		secs := int64((e.RetryAfter + time.Second - 1) / time.Second)
		h.Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	w.WriteHeader(status)
	// Encoding two strings cannot fail; a write error means the client left.
	_ = json.NewEncoder(w).Encode(body{ErrorCode: e.Code, Message: e.Message})
}
