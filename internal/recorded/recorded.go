// Package recorded reads the Azure SDK teams' recordings of real Azure
// traffic (STEWARD_AZURE_DIR/recordings, see its README.md) and replays
// them over HTTPS, so tests can run Steward's connector on Azure's own
// answers. The recordings are read at test time, never copied into the
// repository.
package recorded

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stewardhq/steward"
)

// Dir is the folder holding recordings/: $STEWARD_AZURE_DIR, else the
// shared folder beside the repository. The test is skipped when the
// recordings are not there, as the tests of Microsoft's published examples
// are.
func Dir(tb testing.TB) string {
	tb.Helper()
	d := os.Getenv("STEWARD_AZURE_DIR")
	if d == "" {
		d = filepath.Join("..", "..", "shared", "azure")
	}
	if _, err := os.Stat(filepath.Join(d, "recordings", "README.md")); err != nil {
		tb.Skipf("Azure recordings not found at %s (set STEWARD_AZURE_DIR to the azure/ folder): %v", d, err)
	}
	return d
}

// Entry is one recorded exchange.
type Entry struct {
	RequestURI      string                     `json:"RequestUri"`
	RequestMethod   string                     `json:"RequestMethod"`
	RequestBody     json.RawMessage            `json:"RequestBody"`
	StatusCode      int                        `json:"StatusCode"`
	ResponseHeaders map[string]json.RawMessage `json:"ResponseHeaders"`
	ResponseBody    json.RawMessage            `json:"ResponseBody"`
}

// Recording is one file of exchanges.
type Recording struct {
	Name    string
	Entries []Entry
}

// Load reads a recording by its path under recordings/, such as
// "resources/TestTagsClient.json".
func Load(tb testing.TB, rel string) *Recording {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(Dir(tb), "recordings", rel))
	if err != nil {
		tb.Fatalf("recording %s: %v", rel, err)
	}
	var rec struct{ Entries []Entry }
	if err := json.Unmarshal(b, &rec); err != nil {
		tb.Fatalf("recording %s: %v", rel, err)
	}
	return &Recording{Name: rel, Entries: rec.Entries}
}

// Find returns the first entry with the method whose request URI contains
// part, failing the test when there is none.
func (r *Recording) Find(tb testing.TB, method, part string) Entry {
	tb.Helper()
	for _, e := range r.Entries {
		if e.RequestMethod == method && strings.Contains(e.RequestURI, part) {
			return e
		}
	}
	tb.Fatalf("%s has no %s %s", r.Name, method, part)
	return Entry{}
}

// Header is the recorded response headers (a header recorded as a list,
// Set-Cookie, keeps every value).
func (e Entry) Header() http.Header {
	h := http.Header{}
	for k, raw := range e.ResponseHeaders {
		var one string
		if json.Unmarshal(raw, &one) == nil {
			h.Add(k, one)
			continue
		}
		var many []string
		if json.Unmarshal(raw, &many) == nil {
			for _, v := range many {
				h.Add(k, v)
			}
		}
	}
	return h
}

// Request is the recorded request, without its body, its path's doubled
// slashes (the Java recordings' https://REDACTED//subscriptions) made one.
func (e Entry) Request() *http.Request {
	r, err := http.NewRequest(e.RequestMethod, e.RequestURI, nil)
	if err != nil {
		panic("recorded: " + err.Error())
	}
	for strings.Contains(r.URL.Path, "//") {
		r.URL.Path = strings.ReplaceAll(r.URL.Path, "//", "/")
	}
	r.URL.RawPath = ""
	return r
}

// Response is the recorded answer, its body as recorded.
func (e Entry) Response() *http.Response {
	return &http.Response{StatusCode: e.StatusCode, Header: e.Header(), Body: io.NopCloser(bytes.NewReader(e.body()))}
}

// body is the response body as sent: nothing for null, a JSON string's
// text as is, any other JSON as recorded.
func (e Entry) body() []byte {
	raw := bytes.TrimSpace(e.ResponseBody)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var s string
	if raw[0] == '"' && json.Unmarshal(raw, &s) == nil {
		return []byte(s)
	}
	return raw
}

// hosts are the recorded hosts, sanitized or not; the replay answers for
// all of them.
var hosts = []string{
	"https://Sanitized.azure.com", "https://management.azure.com", "https://login.microsoftonline.com",
	"https://graph.microsoft.com", "https://REDACTED",
}

// Exchange is a request the replay answered, with the entry it answered from.
type Exchange struct {
	Method string
	URL    *url.URL
	Body   []byte
	Entry  Entry
}

// Replay is an HTTPS server that answers each request with a recorded
// exchange of the same method and path (hosts mapped to its own, the
// api-version and the rest of the query not compared): the first of them
// not yet used, so a request repeated gets the next recorded answer. Entra
// ID's discovery and token answers may be used again, as a credential asks
// for them whenever its cache is cold. A request with no exchange left
// fails the test.
type Replay struct {
	URL string
	srv *httptest.Server
	tb  testing.TB

	mu      sync.Mutex
	subst   [][2]string // recorded (sanitized) value -> the test's
	entries []Entry
	used    []bool
	served  []Exchange
}

// Serve starts a replay of entries, stopped when the test ends.
func Serve(tb testing.TB, entries ...Entry) *Replay {
	tb.Helper()
	r := &Replay{tb: tb, entries: entries, used: make([]bool, len(entries))}
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	r.srv.EnableHTTP2 = true // armauthorization sends $filter unescaped; only HTTP/2 carries it
	r.srv.StartTLS()
	tb.Cleanup(r.srv.Close)
	r.URL = r.srv.URL
	return r
}

// Connection describes the replay as an emulator connection file, so
// azure.NewFromConnection points every service at it and trusts its
// certificate.
func (r *Replay) Connection() *steward.ConnectionFile {
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.srv.Certificate().Raw})
	return &steward.ConnectionFile{URL: r.URL, CACertPEM: string(ca), GraphAudience: r.URL}
}

// Map answers with value wherever the recordings have recordedValue (a
// sanitized ID or scope), in paths, headers and bodies alike, so a test
// can replay Azure's answers for objects of its own. Mappings apply in
// the order given.
func (r *Replay) Map(recordedValue, value string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.subst = append(r.subst, [2]string{recordedValue, value})
}

// Served lists the exchanges answered so far, in order.
func (r *Replay) Served() []Exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Exchange(nil), r.served...)
}

// recordedPath is an entry's path with its host dropped and doubled
// slashes (the Java recordings' https://REDACTED//subscriptions) made one.
func recordedPath(uri string) string {
	for _, h := range hosts {
		if len(uri) >= len(h) && strings.EqualFold(uri[:len(h)], h) {
			uri = uri[len(h):]
			break
		}
	}
	uri, _, _ = strings.Cut(uri, "?")
	for strings.Contains(uri, "//") {
		uri = strings.ReplaceAll(uri, "//", "/")
	}
	return strings.TrimSuffix(uri, "/")
}

func reusable(e Entry) bool {
	p := strings.ToLower(e.RequestURI)
	return strings.Contains(p, "/.well-known/openid-configuration") || strings.Contains(p, "/oauth2/v2.0/token")
}

func (r *Replay) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	path := strings.TrimSuffix(req.URL.Path, "/")
	r.mu.Lock()
	pick := -1
	for i, e := range r.entries {
		if e.RequestMethod != req.Method || !strings.EqualFold(r.mapped(recordedPath(e.RequestURI)), path) {
			continue
		}
		if !r.used[i] {
			pick = i
			break
		}
		if reusable(e) && pick < 0 {
			pick = i
		}
	}
	if pick < 0 {
		r.mu.Unlock()
		r.tb.Errorf("replay: no recorded exchange left for %s %s", req.Method, req.URL)
		http.Error(w, "no recorded exchange", http.StatusNotImplemented)
		return
	}
	r.used[pick] = true
	e := r.entries[pick]
	r.served = append(r.served, Exchange{Method: req.Method, URL: req.URL, Body: body, Entry: e})
	out := []byte(r.mapped(string(e.body())))
	h := http.Header{}
	for k, vs := range e.Header() {
		for _, v := range vs {
			h.Add(k, r.mapped(v))
		}
	}
	r.mu.Unlock()

	for k, vs := range h {
		switch k {
		case "Content-Length", "Content-Encoding", "Transfer-Encoding", "Connection":
			continue // net/http writes these for the body it sends
		}
		w.Header()[k] = vs
	}
	if len(out) == 0 && w.Header().Get("Content-Length") == "" {
		w.Header().Set("Content-Length", "0")
	}
	w.WriteHeader(e.StatusCode)
	if req.Method != http.MethodHead {
		_, _ = w.Write(out)
	}
}

// mapped points the recorded hosts at the replay and applies Map's
// values; r.mu is held.
func (r *Replay) mapped(s string) string {
	for _, h := range hosts {
		s = replaceFold(s, h, r.URL)
	}
	for _, m := range r.subst {
		s = strings.ReplaceAll(s, m[0], m[1])
	}
	return s
}

func replaceFold(s, old, repl string) string {
	lo, lold := strings.ToLower(s), strings.ToLower(old)
	var b strings.Builder
	for {
		i := strings.Index(lo, lold)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(repl)
		s, lo = s[i+len(old):], lo[i+len(old):]
	}
}
