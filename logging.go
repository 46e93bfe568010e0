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
// The kinds are the package's own constant messages (and, for webhook
// refusals, reason codes), so the map stays small.
type warnings struct {
	mu         sync.Mutex
	next       map[string]time.Time
	suppressed map[string]int
}

// warn logs msg at level at most once per warnInterval, with the request's
// context (for handlers that add trace IDs) and the number of lines left
// out since the last one.
func (a *Auth) warn(ctx context.Context, level slog.Level, msg string, attrs ...any) {
	a.warnings.log(ctx, a.log, a.now(), level, msg, msg, attrs...)
}

// log logs msg at most once per warnInterval per key.
func (w *warnings) log(ctx context.Context, logger *slog.Logger, now time.Time, level slog.Level, key, msg string, attrs ...any) {
	w.mu.Lock()
	if w.next == nil {
		w.next, w.suppressed = map[string]time.Time{}, map[string]int{}
	}
	if now.Before(w.next[key]) {
		w.suppressed[key]++
		w.mu.Unlock()
		return
	}
	w.next[key] = now.Add(warnInterval)
	if n := w.suppressed[key]; n > 0 {
		attrs = append(attrs, "suppressed", n)
		w.suppressed[key] = 0
	}
	w.mu.Unlock()
	logger.Log(ctx, level, msg, attrs...)
}
