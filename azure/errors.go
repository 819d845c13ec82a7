package azure

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/stewardhq/steward"
)

// Entra ID's AADSTS codes that mean the credential itself is bad.
const (
	aadstsBadSecret     = 7000215 // invalid client secret provided
	aadstsExpiredSecret = 7000222 // the provided client secret keys are expired
	aadstsAppNotFound   = 700016  // application not found in the directory
)

var (
	reAADSTS   = regexp.MustCompile(`AADSTS(\d{4,9})`)
	reAction   = regexp.MustCompile(`perform action '([^']+)'`)
	reOverScop = regexp.MustCompile(`over scope '([^']+)'`)
)

// aadsts returns the first AADSTS code in err's text, or 0.
func aadsts(err error) int {
	if err == nil {
		return 0
	}
	m := reAADSTS.FindStringSubmatch(err.Error())
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// azError turns an error of azcore, azidentity or the network into a
// steward error whose safe message says what failed while doing what. The
// cause is kept for logs; neither holds a secret or a token (azcore's
// errors carry the URL and the response body, never the Authorization
// header or the request body).
func azError(err error, doing string) error {
	if err == nil {
		return nil
	}
	var se *steward.Error
	if errors.As(err, &se) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return steward.WrapError(steward.EUNAVAILABLE, err, "Azure did not answer in time while %s.", doing)
	}
	var afe *azidentity.AuthenticationFailedError
	if errors.As(err, &afe) {
		status := 0
		if afe.RawResponse != nil {
			status = afe.RawResponse.StatusCode
		}
		code := aadsts(err)
		switch {
		case status >= 500 || status == 0 && code == 0:
			return steward.WrapError(steward.EUNAVAILABLE, err, "Entra ID failed while %s; try again later.", doing)
		case code == aadstsBadSecret || code == aadstsExpiredSecret:
			return steward.WrapError(steward.EUNAUTHORIZED, err, "Entra ID refused the sign-in while %s: the client secret is wrong or expired (AADSTS%d).", doing, code)
		case code == aadstsAppNotFound:
			return steward.WrapError(steward.EUNAUTHORIZED, err, "Entra ID refused the sign-in while %s: the application is not known in that tenant (AADSTS%d).", doing, code)
		case code != 0:
			return steward.WrapError(steward.EUNAUTHORIZED, err, "Entra ID refused the sign-in while %s (AADSTS%d).", doing, code)
		}
		return steward.WrapError(steward.EUNAUTHORIZED, err, "Entra ID refused the sign-in while %s.", doing)
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return responseError(re.StatusCode, re.ErrorCode, responseMessage(re.RawResponse), err, doing)
	}
	return steward.WrapError(steward.EUNAVAILABLE, err, "Cannot reach Azure while %s.", doing)
}

// responseError maps an HTTP failure of Resource Manager or Graph.
func responseError(status int, code, msg string, cause error, doing string) error {
	withCode := func(s string) string {
		if s == "" {
			s = http.StatusText(status)
		}
		s = strings.TrimSpace(s)
		if code != "" {
			return fmt.Sprintf("%s (%s)", strings.TrimSuffix(s, "."), code)
		}
		return s
	}
	switch {
	case status == http.StatusUnauthorized:
		if n := reAADSTS.FindStringSubmatch(msg); n != nil {
			return steward.WrapError(steward.EUNAUTHORIZED, cause, "Azure refused the credential while %s (AADSTS%s).", doing, n[1])
		}
		return steward.WrapError(steward.EUNAUTHORIZED, cause, "Azure refused the credential while %s: %s.", doing, withCode(msg))
	case status == http.StatusForbidden:
		if a := reAction.FindStringSubmatch(msg); a != nil {
			scope := ""
			if s := reOverScop.FindStringSubmatch(msg); s != nil {
				scope = " over " + s[1]
			}
			return steward.WrapError(steward.EFORBIDDEN, cause, "The identity lacks permission for %s%s (%s).", a[1], scope, cmp.Or(code, "AuthorizationFailed"))
		}
		return steward.WrapError(steward.EFORBIDDEN, cause, "Azure refused %s: %s.", doing, withCode(msg))
	case status == http.StatusNotFound:
		return steward.WrapError(steward.ENOTFOUND, cause, "Azure found nothing while %s: %s.", doing, withCode(msg))
	case status == http.StatusConflict:
		return steward.WrapError(steward.ECONFLICT, cause, "Azure refused %s: %s.", doing, withCode(msg))
	case status == http.StatusTooManyRequests:
		return steward.WrapError(steward.ETHROTTLED, cause, "Azure throttled %s; try again later.", doing)
	case status >= 400 && status < 500:
		return steward.WrapError(steward.EINVALID, cause, "Azure refused %s: %s.", doing, withCode(msg))
	}
	return steward.WrapError(steward.EUNAVAILABLE, cause, "Azure failed while %s (HTTP %d); try again later.", doing, status)
}

// responseMessage extracts error.message from Azure's error shapes
// (Resource Manager and Graph: {"error":{"code","message"}}; Entra ID:
// {"error","error_description"}).
func responseMessage(resp *http.Response) string {
	if resp == nil {
		return ""
	}
	b, err := runtime.Payload(resp)
	if err != nil || len(b) == 0 {
		return ""
	}
	var body struct {
		Error json.RawMessage `json:"error"`
		Desc  string          `json:"error_description"`
	}
	if json.Unmarshal(b, &body) != nil {
		return ""
	}
	var inner struct {
		Message string `json:"message"`
	}
	if len(body.Error) > 0 && json.Unmarshal(body.Error, &inner) == nil && inner.Message != "" {
		return inner.Message
	}
	return body.Desc
}

// newResponseError builds azcore's error for an unexpected status of a
// thin-client call.
func newResponseError(resp *http.Response) error {
	return runtime.NewResponseError(resp)
}
