package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pages holds each page's template, parsed together with the layout.
type pages struct {
	byName map[string]*template.Template
}

var templateFuncs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"grantLabel": grantLabel,
	"money":      money,
	"deref": func(s *string) string {
		if s == nil {
			return "—"
		}
		return *s
	},
	"percent": func(f float64) int { return int(f * 100) },
	"intval": func(p *int) int {
		if p == nil {
			return 0
		}
		return *p
	},
	"date": func(t time.Time) string { return t.UTC().Format(time.DateOnly) },
	"optwhen": func(t *time.Time) string {
		if t == nil {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"join": strings.Join,
	// resname is the last segment of an ARM ID, to show beside the full ID.
	"resname": func(id string) string { return id[strings.LastIndex(id, "/")+1:] },
	"roles":   func() []steward.Role { return steward.Roles },
}

func loadPages() (*pages, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" || base == "partials.html" {
			continue
		}
		t, err := template.New("layout.html").Funcs(templateFuncs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html", n)
		if err != nil {
			return nil, fmt.Errorf("parsing %s: %w", n, err)
		}
		p.byName[strings.TrimSuffix(base, ".html")] = t
	}
	return p, nil
}

// view is what every page template receives.
type view struct {
	Title    string
	Nav      string // which navigation entry is current
	Actor    *steward.Actor
	CanAudit bool
	CanUsers bool
	Flash    string // a success message
	Error    string // what went wrong with the last form
	Refresh  int    // reload after this many seconds (progress without a script)
	CanRead  bool   // may see inventory
	Data     any
}

// render writes a page. It renders into a buffer first so that a template
// error becomes a clean error page, not half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, page string, v view) {
	t, ok := s.pages.byName[page]
	if !ok {
		s.log.ErrorContext(r.Context(), "no such page template", "page", page)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	v.Actor = steward.ActorFromContext(r.Context())
	if v.Actor != nil {
		v.CanAudit = v.Actor.CanSome(steward.PermAuditRead)
		v.CanUsers = v.Actor.Can(steward.PermUsersManage, "")
		v.CanRead = v.Actor.CanSome(steward.PermInventoryRead)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		s.log.ErrorContext(r.Context(), "rendering page", "page", page, "error", err)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// renderError shows an error page with a message that is safe to show.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, status int, message string) {
	s.render(w, r, status, "error", view{Title: http.StatusText(status), Data: struct {
		Status  int
		Message string
	}{status, message}})
}

func (s *Server) handleStatic(w http.ResponseWriter, r *http.Request) error {
	sub, _ := fs.Sub(staticFS, "static")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	http.StripPrefix("/static/", http.FileServerFS(sub)).ServeHTTP(w, r)
	return nil
}
