package clerkauth

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// warnInterval is how often one kind of warning may be logged: a warning
// that any request can cause (a made-up handshake nonce, a redirect loop)
// would otherwise be one log line per request, which an attacker turns
// into a flood of its own.
const warnInterval = time.Minute

// warnings rate-limits the log lines that requests can cause, by kind.
// The kinds are the package's own constant messages, so the map stays
// small.
type warnings struct {
	mu         sync.Mutex
	next       map[string]time.Time
	suppressed map[string]int
}

// warn logs msg at level at most once per warnInterval, with the request's
// context (for handlers that add trace IDs) and the number of lines left
// out since the last one.
func (a *Auth) warn(ctx context.Context, level slog.Level, msg string, attrs ...any) {
	now := a.now()
	w := &a.warnings
	w.mu.Lock()
	if w.next == nil {
		w.next, w.suppressed = map[string]time.Time{}, map[string]int{}
	}
	if now.Before(w.next[msg]) {
		w.suppressed[msg]++
		w.mu.Unlock()
		return
	}
	w.next[msg] = now.Add(warnInterval)
	if n := w.suppressed[msg]; n > 0 {
		attrs = append(attrs, "suppressed", n)
		w.suppressed[msg] = 0
	}
	w.mu.Unlock()
	a.log.Log(ctx, level, msg, attrs...)
}
