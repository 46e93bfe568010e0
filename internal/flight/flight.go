// Package flight holds what the three caches of clerkauth (the instance's
// keys, CurrentUser's users, the machine-token verdicts) have in common:
// a [Group] that makes one call per key at a time, however many requests
// need it, and a [Cache] that remembers results for a while, bounded in
// size. Each user keeps only its own policy (when to call, what to
// remember, for how long).
package flight

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
)

// ErrGaveUp is matched (errors.Is) by the error [Call.Wait] and
// [Group.Do] return when the caller's context ends before the call does.
// That error also wraps the context's own error. The call goes on for the
// other callers.
var ErrGaveUp = errors.New("flight: gave up waiting for the call")

// Group runs at most one call per key at a time: a caller that needs a
// key whose call is in flight joins it instead of starting another (single
// flight). The call runs on a goroutine of its own with a context detached
// from the caller that started it (its values, never its cancellation or
// deadline), so that one caller giving up does not fail the others; the
// call must bound its own work. The zero value is ready to use.
type Group[K comparable, V any] struct {
	mu    sync.Mutex
	calls map[K]*Call[V]
	busy  sync.WaitGroup // the calls in flight, for Wait
}

// Call is one call in flight, or done.
type Call[V any] struct {
	done chan struct{}
	val  V
	err  error
}

// Func is the work of one call. Its context carries the values of the
// caller that started it, never that caller's cancellation or deadline.
type Func[V any] func(context.Context) (V, error)

// Start joins the call in flight for key or, when there is none, asks
// admit for the function to start: admit runs with the group's lock held,
// so that deciding and starting are one step, and returns nil to start
// nothing (then Start returns nil). joined tells whether the call was
// already in flight. Only an admitted call builds its function, so a
// caller refused (or joining) allocates nothing for it.
func (g *Group[K, V]) Start(ctx context.Context, key K, admit func() Func[V]) (c *Call[V], joined bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c := g.calls[key]; c != nil {
		return c, true
	}
	fn := admit()
	if fn == nil {
		return nil, false
	}
	if g.calls == nil {
		g.calls = map[K]*Call[V]{}
	}
	c = &Call[V]{done: make(chan struct{})}
	g.calls[key] = c
	g.busy.Add(1)
	go g.run(context.WithoutCancel(ctx), key, c, fn)
	return c, false
}

// Do starts fn for key, or joins the call in flight, and waits for it as
// [Call.Wait] does.
func (g *Group[K, V]) Do(ctx context.Context, key K, fn Func[V]) (V, error) {
	c, _ := g.Start(ctx, key, func() Func[V] { return fn })
	return c.Wait(ctx)
}

// Wait blocks until no call is in flight (for tests). A call started
// while Wait blocks may or may not be waited for.
func (g *Group[K, V]) Wait() { g.busy.Wait() }

func (g *Group[K, V]) run(ctx context.Context, key K, c *Call[V], fn Func[V]) {
	defer g.busy.Done()
	defer func() {
		// A panic on this goroutine would end the process, whatever the
		// server's own recovery, and leave the callers waiting: they get
		// it as an error instead.
		if p := recover(); p != nil {
			var zero V
			c.val, c.err = zero, &PanicError{Value: p, Stack: debug.Stack()}
		}
		g.mu.Lock()
		delete(g.calls, key)
		g.mu.Unlock()
		close(c.done)
	}()
	c.val, c.err = fn(ctx)
}

// Wait returns the call's result once it is done, or, if ctx ends first,
// an error matching [ErrGaveUp] and wrapping ctx.Err().
func (c *Call[V]) Wait(ctx context.Context) (V, error) {
	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		var zero V
		return zero, fmt.Errorf("%w: %w", ErrGaveUp, ctx.Err())
	}
}

// PanicError is the error of a call whose function panicked.
type PanicError struct {
	Value any    // what fn panicked with
	Stack []byte // the goroutine's stack at the panic
}

func (e *PanicError) Error() string { return fmt.Sprintf("flight: the call panicked: %v", e.Value) }
