package steward

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to exactly one HTTP status in package web; an error
// without a code is internal and is shown to users only as "Internal error.".
const (
	EINVALID       = "invalid"                // 400: malformed input
	EUNAUTHORIZED  = "unauthorized"           // 401: no or bad credentials
	EFORBIDDEN     = "forbidden"              // 403: authenticated but not allowed
	ENOTFOUND      = "not_found"              // 404
	ECONFLICT      = "conflict"               // 409: state does not allow it (duplicate, in progress)
	ETOOLARGE      = "too_large"              // 413
	EUNSUPPORTED   = "unsupported_media_type" // 415
	EUNPROCESSABLE = "unprocessable"          // 422: well-formed but breaks a rule
	ETHROTTLED     = "throttled"              // 429
	EINTERNAL      = "internal"               // 500
	EUNAVAILABLE   = "unavailable"            // 503
)

// Error is Steward's one error type. Message is safe to show to the caller;
// Err is the cause, which may name tenants, hosts or SQL and is only logged.
type Error struct {
	Code    string
	Message string
	Err     error
}

// Error returns the safe message followed by the cause, for logs.
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

// Unwrap lets errors.Is and errors.As see the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted safe message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// WrapError returns an *Error with a safe message and a cause kept apart from it.
func WrapError(code string, cause error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: cause}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// when there is none, and "" for a nil error.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Code != "" {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the safe message of the first *Error in err's chain,
// or "Internal error." when err carries no code.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Code != "" && e.Code != EINTERNAL {
		return e.Message
	}
	return "Internal error."
}
