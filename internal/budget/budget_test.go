package budget

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func drain(l *Limiter, c Class) (n int) {
	for l.Acquire(c) {
		l.Release()
		n++
	}
	return n
}

func TestLimiterKeepsTheReserveForKnownWork(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	l := New(100, 16, c.now)
	assert.Equal(t, 75, drain(l, Unknown), "unknown work stops at the reserve")
	assert.Equal(t, 25, drain(l, Known), "known work takes the reserve")
	assert.Zero(t, drain(l, Known))

	c.t = c.t.Add(500 * time.Millisecond) // half a second: half the bucket
	assert.Equal(t, 25, drain(l, Unknown))
	c.t = c.t.Add(time.Hour) // a full bucket, no more
	assert.Equal(t, 75, drain(l, Unknown))
}

func TestLimiterBoundsCallsInFlight(t *testing.T) {
	l := New(1000, 8, nil)
	for range 6 { // 8 less the reserve of 2
		assert.True(t, l.Acquire(Unknown))
	}
	assert.False(t, l.Acquire(Unknown), "unknown work may not take the reserved slots")
	assert.True(t, l.Acquire(Known))
	assert.True(t, l.Acquire(Known))
	assert.False(t, l.Acquire(Known), "all slots taken")
	l.Release()
	assert.True(t, l.Acquire(Known))
}

func TestLimiterTiny(t *testing.T) {
	l := New(1, 1, (&clock{t: time.Unix(1e9, 0)}).now)
	assert.True(t, l.Acquire(Unknown), "a budget of one is not all reserve")
	assert.False(t, l.Acquire(Known), "in flight")
	l.Release()
	assert.False(t, l.Acquire(Known), "spent")
	var zero Limiter
	assert.False(t, zero.Acquire(Known), "the zero Limiter refuses")
}

func TestRecent(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	r := NewRecent[string, int](3, time.Minute, c.now)
	r.Add("a", 1)
	v, ok := r.Get("a")
	assert.True(t, ok)
	assert.Equal(t, 1, v)
	c.t = c.t.Add(time.Minute)
	_, ok = r.Get("a")
	assert.False(t, ok, "expired")

	r.Add("b", 2)
	r.Add("c", 3)
	r.Add("d", 4) // full: "a" expired, so it goes
	_, ok = r.Get("b")
	assert.True(t, ok)
	r.Add("e", 5) // full, nothing expired: start over
	_, ok = r.Get("b")
	assert.False(t, ok)
	_, ok = r.Get("e")
	assert.True(t, ok)
	assert.LessOrEqual(t, len(r.entries), 3)
}
