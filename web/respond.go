package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/stewardhq/steward"
)

// statusOf maps error codes to HTTP statuses; it is the only such mapping.
var statusOf = map[string]int{
	steward.EINVALID:       http.StatusBadRequest,
	steward.EUNAUTHORIZED:  http.StatusUnauthorized,
	steward.EFORBIDDEN:     http.StatusForbidden,
	steward.ENOTFOUND:      http.StatusNotFound,
	steward.ECONFLICT:      http.StatusConflict,
	steward.ETOOLARGE:      http.StatusRequestEntityTooLarge,
	steward.EUNSUPPORTED:   http.StatusUnsupportedMediaType,
	steward.EUNPROCESSABLE: http.StatusUnprocessableEntity,
	steward.ETHROTTLED:     http.StatusTooManyRequests,
	steward.EINTERNAL:      http.StatusInternalServerError,
	steward.EUNAVAILABLE:   http.StatusServiceUnavailable,
}

// errorStatus returns the HTTP status for an error.
func errorStatus(err error) int {
	if s, ok := statusOf[steward.ErrorCode(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// apiError is the error body of every API response.
type apiError struct {
	Error apiErrorBody `json:"error"`
}

type apiErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeJSON writes v with the status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	writeJSONBody(w, v)
}

// writeJSONBody encodes v; a failure here means the client went away.
func writeJSONBody(w io.Writer, v any) {
	json.NewEncoder(w).Encode(v)
}

// logError logs what the caller will not see: internal errors in full.
func (s *Server) logError(r *http.Request, err error) {
	if steward.ErrorCode(err) == steward.EINTERNAL {
		s.log.ErrorContext(r.Context(), "request failed", slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("error", err))
	}
}

// writeAPIError writes err as {"error":{"code","message"}} with its status.
// Internal errors show only "Internal error."; the cause is logged.
func (s *Server) writeAPIError(w http.ResponseWriter, r *http.Request, err error) {
	s.logError(r, err)
	if steward.ErrorCode(err) == steward.ETHROTTLED {
		var te *steward.ThrottledError
		if errors.As(err, &te) {
			w.Header().Set("Retry-After", strconv.Itoa(te.RetryAfterSeconds()))
		}
	}
	writeJSON(w, errorStatus(err), apiError{Error: apiErrorBody{Code: steward.ErrorCode(err), Message: steward.ErrorMessage(err)}})
}

// decodeJSON reads a JSON request body into v: the content type must be
// JSON, the body at most the configured size, with no unknown fields and
// nothing after the value.
func (s *Server) decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return steward.Errorf(steward.EUNSUPPORTED, "Send the request body as application/json.")
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		return jsonError(err, s.cfg.MaxBodyBytes)
	}
	// The decoder would quietly turn bytes that are not UTF-8 into U+FFFD.
	if !utf8.Valid(raw) {
		return steward.Errorf(steward.EINVALID, "The request body is not valid UTF-8.")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, s.cfg.MaxBodyBytes)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return steward.Errorf(steward.EINVALID, "The request body must hold exactly one JSON value.")
	}
	return checkDecoded(v)
}

// jsonError turns a decoding error into a message that says what is wrong.
func jsonError(err error, limit int64) error {
	var tooBig *http.MaxBytesError
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		return steward.Errorf(steward.ETOOLARGE, "The request body is larger than %d bytes.", limit)
	case errors.As(err, &syntax):
		return steward.Errorf(steward.EINVALID, "The request body is not valid JSON (at byte %d).", syntax.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return steward.Errorf(steward.EINVALID, "Field %q must be %s, not %s.", typ.Field, typ.Type, typ.Value)
		}
		return steward.Errorf(steward.EINVALID, "The request body must be %s, not %s.", typ.Type, typ.Value)
	case errors.Is(err, io.EOF):
		return steward.Errorf(steward.EINVALID, "The request body is empty.")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return steward.Errorf(steward.EINVALID, "The request body is not valid JSON (it ends too early).")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return steward.Errorf(steward.EINVALID, "Unknown field %s.", strings.TrimPrefix(err.Error(), "json: unknown field "))
	default:
		return steward.WrapError(steward.EINVALID, err, "The request body could not be read.")
	}
}

// pathID reads a positive integer path parameter.
func pathID(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, steward.Errorf(steward.EINVALID, "%q is not a valid %s.", r.PathValue(name), name)
	}
	return id, nil
}
