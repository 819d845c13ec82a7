package emulator

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Each face of the emulator fails in its own service's shape:
//
//	ARM:   {"error":{"code":"AuthorizationFailed","message":"…"}}
//	Graph: {"error":{"code":"Request_ResourceNotFound","message":"…","innerError":{…}}}
//	Entra: {"error":"invalid_client","error_description":"AADSTS7000215: …","error_codes":[7000215],…}

// armError is an ARM failure to report.
type armError struct {
	Status  int
	Code    string
	Message string
}

func (e *armError) Error() string { return e.Code + ": " + e.Message }

func newARMError(status int, code, format string, args ...any) *armError {
	return &armError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func writeARMError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	b := make([]byte, 0, 128+len(message))
	b = append(b, `{"error":{"code":`...)
	b = appendJSONString(b, code)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, message)
	b = append(b, `}}`...)
	w.Header().Set("x-ms-failure-cause", failureCause(status))
	writeJSONBytes(w, status, b)
}

func failureCause(status int) string {
	if status >= 500 {
		return "service"
	}
	return "gateway"
}

func (e *armError) write(w http.ResponseWriter, r *http.Request) {
	writeARMError(w, r, e.Status, e.Code, e.Message)
}

func writeGraphError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"code":    code,
		"message": message,
		"innerError": map[string]string{
			"date":              time.Now().UTC().Format("2006-01-02T15:04:05"),
			"request-id":        w.Header().Get("request-id"),
			"client-request-id": w.Header().Get("client-request-id"),
		},
	}})
}

// entraErr is an Entra ID token-endpoint failure.
type entraErr struct {
	Status int
	Code   string // OAuth error: invalid_client, invalid_grant, …
	AADSTS int
	Desc   string // message without the AADSTS prefix, unless AADSTS is 0
}

func (e *entraErr) Error() string { return fmt.Sprintf("%s: AADSTS%d: %s", e.Code, e.AADSTS, e.Desc) }

func newEntraErr(status int, code string, aadsts int, format string, args ...any) *entraErr {
	return &entraErr{Status: status, Code: code, AADSTS: aadsts, Desc: fmt.Sprintf(format, args...)}
}

// description is Entra's error_description: the AADSTS code and message,
// then the trace and correlation IDs and the timestamp.
func (e *entraErr) description(trace, corr string, ts time.Time) string {
	msg := e.Desc
	if e.AADSTS != 0 && !strings.HasPrefix(msg, "AADSTS") {
		msg = "AADSTS" + strconv.Itoa(e.AADSTS) + ": " + msg
	}
	return fmt.Sprintf("%s Trace ID: %s Correlation ID: %s Timestamp: %s", msg, trace, corr, ts.Format("2006-01-02 15:04:05Z"))
}

func writeEntraError(w http.ResponseWriter, r *http.Request, status int, e entraErr) {
	if e.Status == 0 {
		e.Status = status
	}
	trace := newGUID()
	corr := r.Header.Get("client-request-id")
	if corr == "" {
		corr = newGUID()
	}
	ts := time.Now().UTC()
	body := map[string]any{
		"error":             e.Code,
		"error_description": e.description(trace, corr, ts),
		"error_codes":       []int{e.AADSTS},
		"timestamp":         ts.Format("2006-01-02 15:04:05Z"),
		"trace_id":          trace,
		"correlation_id":    corr,
	}
	if e.AADSTS != 0 {
		body["error_uri"] = "https://login.microsoftonline.com/error?code=" + strconv.Itoa(e.AADSTS)
	} else {
		body["error_codes"] = []int{}
	}
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("x-ms-ests-server", "steward-emulator")
	writeJSON(w, e.Status, body)
}
