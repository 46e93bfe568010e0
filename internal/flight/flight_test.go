package flight

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGroupSingleFlight: N concurrent callers of one key cause one call,
// and all get its result. The call is held until every other caller has
// joined it.
func TestGroupSingleFlight(t *testing.T) {
	const n = 50
	var g Group[string, int]
	var calls atomic.Int64
	release := make(chan struct{})
	fn := func() Func[int] {
		return func(context.Context) (int, error) {
			calls.Add(1)
			<-release
			return 42, nil
		}
	}
	first, joined := g.Start(context.Background(), "k", fn)
	require.NotNil(t, first)
	require.False(t, joined)

	var wg sync.WaitGroup
	results := make(chan int, n)
	for range n {
		c, joined := g.Start(context.Background(), "k", fn)
		require.True(t, joined, "a call is in flight for k")
		require.Same(t, first, c)
		wg.Go(func() {
			v, err := c.Wait(context.Background())
			assert.NoError(t, err)
			results <- v
		})
	}
	close(release)
	wg.Wait()
	close(results)
	for v := range results {
		assert.Equal(t, 42, v)
	}
	assert.EqualValues(t, 1, calls.Load())

	g.Wait()
	v, err := g.Do(context.Background(), "k", func(context.Context) (int, error) { return 1, nil })
	require.NoError(t, err)
	assert.Equal(t, 1, v, "once done, the next caller starts a new call")
	assert.EqualValues(t, 1, calls.Load())
	g.Wait()
}

// TestGroupKeysAreIndependent: a call for one key does not hold another.
func TestGroupKeysAreIndependent(t *testing.T) {
	var g Group[string, string]
	hold := make(chan struct{})
	defer close(hold)
	slow, _ := g.Start(context.Background(), "slow", func() Func[string] {
		return func(context.Context) (string, error) { <-hold; return "", nil }
	})
	require.NotNil(t, slow)
	v, err := g.Do(context.Background(), "fast", func(context.Context) (string, error) { return "fast", nil })
	require.NoError(t, err)
	assert.Equal(t, "fast", v)
}

// TestGroupCallerGivesUp: a caller whose context ends gets ErrGaveUp (and
// its context's error) at once; the call goes on, detached, and the others
// get its result.
func TestGroupCallerGivesUp(t *testing.T) {
	var g Group[string, int]
	release := make(chan struct{})
	type key struct{}
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "the starter's"))
	var sawValue any
	var sawErr error
	c, _ := g.Start(ctx, "k", func() Func[int] {
		return func(ctx context.Context) (int, error) {
			<-release
			sawValue, sawErr = ctx.Value(key{}), ctx.Err()
			return 7, nil
		}
	})
	cancel()
	_, err := c.Wait(ctx)
	assert.ErrorIs(t, err, ErrGaveUp)
	assert.ErrorIs(t, err, context.Canceled)

	close(release)
	v, err := c.Wait(context.Background())
	require.NoError(t, err, "the starter giving up did not fail the call")
	assert.Equal(t, 7, v)
	assert.Equal(t, "the starter's", sawValue, "the call keeps the starter's values")
	assert.NoError(t, sawErr, "but not its cancellation")
}

// TestGroupAdmit: admit decides whether a new call starts; it is not asked
// when a call is in flight.
func TestGroupAdmit(t *testing.T) {
	var g Group[int, int]
	c, joined := g.Start(context.Background(), 1, func() Func[int] { return nil })
	assert.Nil(t, c, "refused: nothing started")
	assert.False(t, joined)

	hold := make(chan struct{})
	c, _ = g.Start(context.Background(), 1, func() Func[int] {
		return func(context.Context) (int, error) { <-hold; return 1, nil }
	})
	require.NotNil(t, c)
	asked := false
	again, joined := g.Start(context.Background(), 1, func() Func[int] { asked = true; return nil })
	assert.Same(t, c, again)
	assert.True(t, joined)
	assert.False(t, asked, "joining needs no admission")
	close(hold)
	g.Wait()
}

// TestGroupPanic: a panicking call is an error for every caller, not a
// crash or a wait forever, and the key is free again.
func TestGroupPanic(t *testing.T) {
	var g Group[string, int]
	_, err := g.Do(context.Background(), "k", func(context.Context) (int, error) { panic("boom") })
	var pe *PanicError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "boom", pe.Value)
	assert.NotEmpty(t, pe.Stack)
	assert.Equal(t, "flight: the call panicked: boom", err.Error())

	v, err := g.Do(context.Background(), "k", func(context.Context) (int, error) { return 1, nil })
	require.NoError(t, err)
	assert.Equal(t, 1, v)
}

// TestGroupError: the call's error reaches every caller as it is.
func TestGroupError(t *testing.T) {
	var g Group[string, int]
	want := errors.New("no")
	_, err := g.Do(context.Background(), "k", func(context.Context) (int, error) { return 0, want })
	assert.Same(t, want, err)
}

var (
	t0 = time.Unix(1_700_000_000, 0)
	t1 = t0.Add(time.Minute)
)

func TestCache(t *testing.T) {
	c := NewCache[string, int](3)
	_, _, ok := c.Get("a")
	assert.False(t, ok)

	c.Put("a", 1, t1, t0)
	v, until, ok := c.Get("a")
	require.True(t, ok)
	assert.Equal(t, 1, v)
	assert.Equal(t, t1, until)

	c.Put("a", 2, t0, t1)
	v, until, ok = c.Get("a")
	require.True(t, ok, "an expired entry is still returned")
	assert.Equal(t, 2, v)
	assert.Equal(t, t0, until)

	c.Delete("a")
	_, _, ok = c.Get("a")
	assert.False(t, ok)
}

// TestCacheBound: a full cache drops what has expired first, and
// everything if that is not enough; replacing an entry needs no room.
func TestCacheBound(t *testing.T) {
	for _, tt := range []struct {
		name     string
		expired  int // of the 3 entries, as of the Put
		replace  bool
		wantLen  int
		wantKept bool // the unexpired entries survive
	}{
		{"some expired: only those go", 2, false, 2, true},
		{"none expired: all go", 0, false, 1, false},
		{"all expired: all go", 3, false, 1, false},
		{"a replacement evicts nothing", 0, true, 3, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCache[string, int](3)
			for i := range 3 {
				until := t1
				if i < tt.expired {
					until = t0
				}
				c.Put(fmt.Sprint(i), i, until, t0)
			}
			require.Equal(t, 3, c.Len())
			key := "new"
			if tt.replace {
				key = "2"
			}
			c.Put(key, 9, t1, t0)
			assert.Equal(t, tt.wantLen, c.Len())
			_, _, ok := c.Get(key)
			assert.True(t, ok, "the new entry is stored")
			_, _, kept := c.Get("2")
			assert.Equal(t, tt.wantKept, kept)
		})
	}
	assert.Panics(t, func() { NewCache[string, int](0) })
}

func TestCacheConcurrent(t *testing.T) {
	c := NewCache[int, int](100)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				c.Put(w*1000+i, i, t1, t0)
				c.Get(i)
				if i%7 == 0 {
					c.Delete(i)
				}
			}
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, c.Len(), 100)
}
