package steward

import (
	"context"
	"log/slog"
)

// LogHandler wraps h so that every record logged with a context carries the
// request ID and the acting user of that context, without each call site
// adding them.
func LogHandler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ slog.Handler }

func (l logHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestIDFromContext(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	if a := ActorFromContext(ctx); a != nil && a.Name != "" {
		r.AddAttrs(slog.String("actor", a.Name))
	}
	return l.Handler.Handle(ctx, r)
}

func (l logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{l.Handler.WithAttrs(attrs)}
}

func (l logHandler) WithGroup(name string) slog.Handler { return logHandler{l.Handler.WithGroup(name)} }
