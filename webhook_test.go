package clerkauth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
	"github.com/clerkauth/clerkauth/internal/testutil"
)

// recorder records the events its callbacks (users and event) receive,
// and fails or panics on command.
type recorder struct {
	mu      sync.Mutex
	created []*clerkauth.UserEvent
	updated []*clerkauth.UserEvent
	deleted []*clerkauth.DeletedEvent
	other   []*clerkauth.Event
	calls   atomic.Int64
	fail    atomic.Int64 // fail the next n calls
	panics  atomic.Int64 // panic in the next n calls
}

func (r *recorder) before() error {
	r.calls.Add(1)
	if r.panics.Add(-1) >= 0 {
		panic("callback exploded")
	}
	r.panics.Store(0)
	if r.fail.Add(-1) >= 0 {
		return errors.New("database is down")
	}
	r.fail.Store(0)
	return nil
}

// record appends e to list unless the recorder is told to fail or panic.
func record[T any](r *recorder, list *[]T, e T) error {
	if err := r.before(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	*list = append(*list, e)
	return nil
}

// users returns the recorder's user callbacks.
func (r *recorder) users() clerkauth.UserEventFuncs {
	return clerkauth.UserEventFuncs{
		Created: func(_ context.Context, e *clerkauth.UserEvent) error { return record(r, &r.created, e) },
		Updated: func(_ context.Context, e *clerkauth.UserEvent) error { return record(r, &r.updated, e) },
		Deleted: func(_ context.Context, e *clerkauth.DeletedEvent) error { return record(r, &r.deleted, e) },
	}
}

func (r *recorder) event(_ context.Context, e *clerkauth.Event) error {
	return record(r, &r.other, e)
}

var (
	webhookNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	nowUnix    = strconv.FormatInt(webhookNow.Unix(), 10)
)

type webhookFixture struct {
	secret string
	rec    *recorder
	h      *clerkauth.WebhookHandler
	logs   *testutil.LockedBuffer
}

func newWebhookFixture(t *testing.T, edit func(*clerkauth.WebhookConfig)) *webhookFixture {
	t.Helper()
	f := &webhookFixture{secret: clerktest.NewWebhookSecret(), rec: &recorder{}, logs: &testutil.LockedBuffer{}}
	cfg := clerkauth.WebhookConfig{
		Secret: f.secret,
		Users:  f.rec.users(),
		Events: f.rec.event,
		Now:    func() time.Time { return webhookNow },
		Logger: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if edit != nil {
		edit(&cfg)
	}
	h, err := clerkauth.NewWebhookHandler(cfg)
	require.NoError(t, err)
	f.h = h
	return f
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "webhooks", name+".json"))
	require.NoError(t, err)
	return b
}

// signed builds a delivery of body, signed with the fixture's secret.
func (f *webhookFixture) signed(t *testing.T, id string, at time.Time, body []byte) *http.Request {
	t.Helper()
	r := httptest.NewRequest("POST", "/api/webhooks/clerk", bytes.NewReader(body))
	for k, v := range clerktest.SignWebhook(t, f.secret, id, at, body) {
		r.Header[k] = v
	}
	return r
}

func (f *webhookFixture) serve(r *http.Request) response { return serve(f.h, r) }

func assertWebhookRefused(t *testing.T, res response, status int, reason string) {
	t.Helper()
	assert.Equal(t, status, res.status, res.body)
	var body map[string]string
	require.NoError(t, json.Unmarshal([]byte(res.body), &body), res.body)
	assert.Equal(t, reason, body["reason"])
	assert.NotContains(t, res.body, "whsec_")
}

func TestWebhookDeliversUserEvents(t *testing.T) {
	f := newWebhookFixture(t, nil)
	for i, name := range []string{"user.created", "user.updated", "user.deleted"} {
		res := f.serve(f.signed(t, "msg_"+name, webhookNow, readFixture(t, name)))
		require.Equal(t, 200, res.status, "%s: %s", name, res.body)
		assert.JSONEq(t, `{"status":"ok"}`, res.body)
		assert.Equal(t, int64(i+1), f.rec.calls.Load())
	}
	require.Len(t, f.rec.created, 1)
	c := f.rec.created[0]
	assert.Equal(t, "msg_user.created", c.ID)
	assert.Equal(t, "user.created", c.Type)
	assert.Equal(t, "ins_123", c.InstanceID)
	assert.Equal(t, time.UnixMilli(1654012591835), c.Timestamp, "Clerk's timestamps are milliseconds")
	assert.Equal(t, "user_29w83sxmDNGwOuEthce5gg56FcC", c.User.ID)
	require.Len(t, c.User.EmailAddresses, 1)
	assert.Equal(t, "example@example.org", c.User.EmailAddresses[0].EmailAddress)
	require.NotNil(t, c.User.ExternalID)
	assert.Equal(t, "567772", *c.User.ExternalID)
	assert.Equal(t, "0.0.0.0", c.ClientIP, "event_attributes.http_request")
	assert.Contains(t, c.UserAgent, "Mozilla/5.0")
	assert.Contains(t, string(c.Data), `"gender"`, "the raw data keeps fields clerk.User lacks")

	require.Len(t, f.rec.updated, 1)
	assert.Nil(t, f.rec.updated[0].User.ExternalID)
	assert.Equal(t, "Example", *f.rec.updated[0].User.FirstName)

	require.Len(t, f.rec.deleted, 1)
	d := f.rec.deleted[0]
	assert.Equal(t, "user_29wBMCtzATuFJut8jO2VNTVekS4", d.ID)
	assert.Equal(t, "msg_user.deleted", d.EventMeta.ID, "the svix-id stays on EventMeta")
	assert.Equal(t, "user", d.Object)
	assert.True(t, d.Deleted)
	assert.Empty(t, d.ExternalID)
	assert.Equal(t, time.UnixMilli(1661861640000), d.Timestamp)

	res := f.serve(f.signed(t, "msg_del_ext", webhookNow, clerktest.Envelope(t, "user.deleted", map[string]any{"id": "user_1", "object": "user", "deleted": true, "external_id": "ext-9"}, webhookNow)))
	require.Equal(t, 200, res.status)
	assert.Equal(t, "ext-9", f.rec.deleted[1].ExternalID)

	// event_attributes.http_request is optional: without it, "".
	body := []byte(`{"type":"user.deleted","object":"event","data":{"id":"user_2","deleted":true},"event_attributes":{"http_request":null}}`)
	require.Equal(t, 200, f.serve(f.signed(t, "msg_del_noreq", webhookNow, body)).status)
	assert.Empty(t, f.rec.deleted[2].ClientIP)
	assert.Empty(t, f.rec.deleted[2].UserAgent)
	// A client_ip that is not a string is a bad envelope, as it was.
	body = []byte(`{"type":"user.deleted","object":"event","data":{"id":"user_3"},"event_attributes":{"http_request":{"client_ip":1}}}`)
	assertWebhookRefused(t, f.serve(f.signed(t, "msg_del_badreq", webhookNow, body)), 400, "invalid-payload")
}

func TestWebhookOtherEvents(t *testing.T) {
	f := newWebhookFixture(t, nil)
	for _, name := range []string{"session.created", "organization.created", "email.created"} {
		require.Equal(t, 200, f.serve(f.signed(t, "msg_"+name, webhookNow, readFixture(t, name))).status)
	}
	require.Len(t, f.rec.other, 3)
	assert.Equal(t, "session.created", f.rec.other[0].Type)
	assert.Equal(t, time.Unix(1654630591, 0), f.rec.other[0].Timestamp, "a timestamp in seconds is recognised")
	assert.Contains(t, string(f.rec.other[1].Data), `"slug": "acme-inc"`)
	assert.Equal(t, "event", f.rec.other[1].Object)

	// Without an Events handler, other events are acknowledged and logged
	// at debug level.
	usersOnly := newWebhookFixture(t, func(c *clerkauth.WebhookConfig) { c.Events = nil })
	res := usersOnly.serve(usersOnly.signed(t, "msg_1", webhookNow, readFixture(t, "organization.created")))
	assert.Equal(t, 200, res.status)
	assert.Zero(t, usersOnly.rec.calls.Load())
	assert.Contains(t, usersOnly.logs.String(), "level=DEBUG")
	assert.Contains(t, usersOnly.logs.String(), "organization.created")

	// Without Users, user events reach Events raw.
	eventsOnly := newWebhookFixture(t, func(c *clerkauth.WebhookConfig) { c.Users = clerkauth.UserEventFuncs{} })
	require.Equal(t, 200, eventsOnly.serve(eventsOnly.signed(t, "msg_2", webhookNow, readFixture(t, "user.created"))).status)
	require.Len(t, eventsOnly.rec.other, 1)
	assert.Equal(t, "user.created", eventsOnly.rec.other[0].Type)
}

func TestWebhookUserEventFuncs(t *testing.T) {
	var created atomic.Int64
	f := newWebhookFixture(t, func(c *clerkauth.WebhookConfig) {
		c.Events = nil
		c.Users = clerkauth.UserEventFuncs{Created: func(ctx context.Context, e *clerkauth.UserEvent) error {
			created.Add(1)
			return nil
		}}
	})
	for _, name := range []string{"user.created", "user.updated", "user.deleted"} {
		assert.Equal(t, 200, f.serve(f.signed(t, "msg_"+name, webhookNow, readFixture(t, name))).status)
	}
	assert.Equal(t, int64(1), created.Load())
}

func TestWebhookRefusals(t *testing.T) {
	f := newWebhookFixture(t, func(c *clerkauth.WebhookConfig) { c.MaxBodyBytes = 64 << 10 })
	body := readFixture(t, "user.created")
	good := func() *http.Request { return f.signed(t, "msg_1", webhookNow, body) }

	t.Run("method", func(t *testing.T) {
		r := good()
		r.Method = "GET"
		res := f.serve(r)
		assertWebhookRefused(t, res, 405, "method-not-allowed")
		assert.Equal(t, "POST", res.header.Get("Allow"))
	})
	for _, h := range []string{"svix-id", "svix-timestamp", "svix-signature"} {
		t.Run("missing "+h, func(t *testing.T) {
			r := good()
			r.Header.Del(h)
			assertWebhookRefused(t, f.serve(r), 400, "missing-headers")
		})
	}
	// The good delivery with one change each: the change alone is refused.
	setBody := func(b []byte) func(*http.Request) {
		return func(r *http.Request) { r.Body = io.NopCloser(bytes.NewReader(b)) }
	}
	setHeader := func(k, v string) func(*http.Request) { return func(r *http.Request) { r.Header.Set(k, v) } }
	for _, tt := range []struct {
		name   string
		change func(*http.Request)
		reason string
	}{
		{"timestamp not a number", setHeader("svix-timestamp", "yesterday"), "invalid-timestamp"},
		{"tampered body", setBody(bytes.Replace(body, []byte("example@example.org"), []byte("attacker@evil.test"), 1)), "invalid-signature"},
		{"whitespace added to the body", setBody(append(bytes.Clone(body), '\n')), "invalid-signature"},
		{"other id, same signature", setHeader("svix-id", "msg_2"), "invalid-signature"},
		{"other timestamp, same signature", setHeader("svix-timestamp", strconv.FormatInt(webhookNow.Unix()+1, 10)), "invalid-signature"},
		{"wrong secret", func(r *http.Request) {
			maps.Copy(r.Header, clerktest.SignWebhook(t, clerktest.NewWebhookSecret(), "msg_1", webhookNow, body))
		}, "invalid-signature"},
		{"signature of another version", func(r *http.Request) {
			r.Header.Set("svix-signature", strings.Replace(r.Header.Get("svix-signature"), "v1,", "v2,", 1))
		}, "invalid-signature"},
		{"body read fails midway", func(r *http.Request) {
			r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body[:100]), errReader{}))
		}, "body-unreadable"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := good()
			tt.change(r)
			assertWebhookRefused(t, f.serve(r), 400, tt.reason)
		})
	}
	t.Run("expired", func(t *testing.T) {
		assertWebhookRefused(t, f.serve(f.signed(t, "msg_1", webhookNow.Add(-6*time.Minute), body)), 400, "timestamp-too-old")
	})
	t.Run("future-dated", func(t *testing.T) {
		assertWebhookRefused(t, f.serve(f.signed(t, "msg_1", webhookNow.Add(6*time.Minute), body)), 400, "timestamp-too-new")
	})
	t.Run("oversized", func(t *testing.T) {
		big := clerktest.Envelope(t, "user.created", map[string]any{"id": "user_1", "object": "user", "first_name": strings.Repeat("a", 100<<10)}, webhookNow)
		assertWebhookRefused(t, f.serve(f.signed(t, "msg_big", webhookNow, big)), 413, "body-too-large")
	})
	t.Run("not JSON", func(t *testing.T) {
		assertWebhookRefused(t, f.serve(f.signed(t, "msg_1", webhookNow, []byte("hello"))), 400, "invalid-payload")
	})
	t.Run("no type", func(t *testing.T) {
		assertWebhookRefused(t, f.serve(f.signed(t, "msg_1", webhookNow, []byte(`{"data":{},"object":"event"}`))), 400, "invalid-payload")
	})
	for name, data := range map[string]string{
		"user.created without id":           `{"object":"user"}`,
		"user.updated data a string":        `"user_1"`,
		"user.deleted without id":           `{"deleted":true}`,
		"user.deleted id a number":          `{"id":42,"deleted":true}`,
		"user.deleted external_id a number": `{"id":"user_1","external_id":42}`,
		"user.created id a number":          `{"id":42}`,
	} {
		t.Run(name, func(t *testing.T) {
			typ := strings.Fields(name)[0]
			res := f.serve(f.signed(t, "msg_bad", webhookNow, clerktest.Envelope(t, typ, []byte(data), webhookNow)))
			assertWebhookRefused(t, res, 400, "invalid-data")
		})
	}
	assert.Zero(t, f.rec.calls.Load(), "no refused delivery reached the callback")
	assert.NotContains(t, f.logs.String(), f.secret)
	assert.NotContains(t, f.logs.String(), "example@example.org", "payloads are never logged")

	// The same delivery, intact, is accepted: every refusal above was
	// caused by its one change.
	assert.Equal(t, 200, f.serve(good()).status)
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestWebhookHeaderVariants(t *testing.T) {
	f := newWebhookFixture(t, nil)
	body := readFixture(t, "user.updated")
	sign := func(secret, id string) string {
		return clerktest.SignWebhook(t, secret, id, webhookNow, body).Get("svix-signature")
	}

	t.Run("standard webhooks headers", func(t *testing.T) {
		r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		r.Header.Set("webhook-id", "msg_std")
		r.Header.Set("webhook-timestamp", nowUnix)
		r.Header.Set("webhook-signature", sign(f.secret, "msg_std"))
		assert.Equal(t, 200, f.serve(r).status)
	})
	t.Run("rotated secret: several signatures", func(t *testing.T) {
		r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		r.Header.Set("svix-id", "msg_rot")
		r.Header.Set("svix-timestamp", nowUnix)
		r.Header.Set("svix-signature", sign(clerktest.NewWebhookSecret(), "msg_rot")+" "+sign(f.secret, "msg_rot"))
		assert.Equal(t, 200, f.serve(r).status)
	})
	t.Run("signature split at its commas by a proxy", func(t *testing.T) {
		r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		r.Header.Set("svix-id", "msg_split")
		r.Header.Set("svix-timestamp", nowUnix)
		old := sign(clerktest.NewWebhookSecret(), "msg_split")
		cur := sign(f.secret, "msg_split")
		joined := old + " " + cur // "v1,A v1,B" → ["v1", "A v1", "B"]
		for _, part := range strings.Split(joined, ",") {
			r.Header.Add("svix-signature", part)
		}
		assert.Equal(t, 200, f.serve(r).status)
	})
	t.Run("split and re-joined with a space", func(t *testing.T) {
		r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		r.Header.Set("svix-id", "msg_space")
		r.Header.Set("svix-timestamp", nowUnix)
		r.Header.Set("svix-signature", strings.Replace(sign(f.secret, "msg_space"), ",", ", ", 1))
		assert.Equal(t, 200, f.serve(r).status)
	})
	t.Run("within tolerance", func(t *testing.T) {
		for i, d := range []time.Duration{-4 * time.Minute, 4 * time.Minute} {
			id := "msg_tol_" + string(rune('a'+i))
			assert.Equal(t, 200, f.serve(f.signed(t, id, webhookNow.Add(d), body)).status)
		}
	})
	assert.Equal(t, int64(6), f.rec.calls.Load())
}

func TestWebhookIdempotency(t *testing.T) {
	t.Run("replayed delivery is acknowledged once", func(t *testing.T) {
		f := newWebhookFixture(t, nil)
		body := readFixture(t, "user.created")
		assert.JSONEq(t, `{"status":"ok"}`, f.serve(f.signed(t, "msg_1", webhookNow, body)).body)
		// Svix retries re-sign with a new timestamp but keep the id.
		res := f.serve(f.signed(t, "msg_1", webhookNow.Add(time.Minute), body))
		assert.Equal(t, 200, res.status)
		assert.JSONEq(t, `{"status":"duplicate"}`, res.body)
		assert.Equal(t, int64(1), f.rec.calls.Load())
		// Another id is another delivery.
		assert.Equal(t, 200, f.serve(f.signed(t, "msg_2", webhookNow, body)).status)
		assert.Equal(t, int64(2), f.rec.calls.Load())
	})
	t.Run("callback error: 500, logged and reported, then the retry runs", func(t *testing.T) {
		var failures []clerkauth.WebhookFailure
		f := newWebhookFixture(t, func(c *clerkauth.WebhookConfig) {
			c.OnError = func(_ context.Context, fl clerkauth.WebhookFailure) { failures = append(failures, fl) }
		})
		body := readFixture(t, "user.created")
		f.rec.fail.Store(1)
		res := f.serve(f.signed(t, "msg_1", webhookNow, body))
		assertWebhookRefused(t, res, 500, "callback-failed")
		assert.NotContains(t, res.body, "database is down", "the callback's error text is not sent to Svix")
		logs := f.logs.String()
		assert.Contains(t, logs, `level=ERROR`)
		assert.Contains(t, logs, `error="database is down"`, "the operator sees why")
		assert.Contains(t, logs, "svix_id=msg_1 type=user.created")
		assert.NotContains(t, logs, "example@example.org", "never the payload")
		require.Len(t, failures, 1)
		assert.Equal(t, clerkauth.WebhookFailure{ID: "msg_1", Type: "user.created", Status: 500, Reason: "callback-failed", Err: failures[0].Err}, failures[0])
		assert.EqualError(t, failures[0].Err, "database is down")
		assert.Equal(t, 200, f.serve(f.signed(t, "msg_1", webhookNow, body)).status, "a failure is never remembered as done")
		assert.JSONEq(t, `{"status":"duplicate"}`, f.serve(f.signed(t, "msg_1", webhookNow, body)).body)
		assert.Equal(t, int64(2), f.rec.calls.Load())
		assert.Len(t, f.rec.created, 1)
	})
	t.Run("callback panic: 500, then the retry runs", func(t *testing.T) {
		f := newWebhookFixture(t, nil)
		body := readFixture(t, "user.deleted")
		f.rec.panics.Store(1)
		assertWebhookRefused(t, f.serve(f.signed(t, "msg_1", webhookNow, body)), 500, "callback-failed")
		assert.Contains(t, f.logs.String(), "callback panicked: callback exploded", "the panic's value is logged")
		assert.Contains(t, f.logs.String(), "stack=\"goroutine", "with its stack")
		assert.Equal(t, 200, f.serve(f.signed(t, "msg_1", webhookNow, body)).status)
		assert.Len(t, f.rec.deleted, 1)
	})
	t.Run("a callback that aborts the handler releases the id", func(t *testing.T) {
		f, calls := createdOnly(t, func(ctx context.Context, n int64) error {
			if n == 1 {
				panic(http.ErrAbortHandler) // net/http's way to drop the connection
			}
			return nil
		})
		body := readFixture(t, "user.created")
		assert.PanicsWithValue(t, http.ErrAbortHandler, func() { f.serve(f.signed(t, "msg_1", webhookNow, body)) })
		// The retry is not blocked by a claim that was never released.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.Equal(t, 200, f.serve(f.signed(t, "msg_1", webhookNow, body).WithContext(ctx)).status)
		assert.Equal(t, int64(2), calls.Load())
	})
	t.Run("concurrent duplicates run the callback once", func(t *testing.T) {
		gate := make(chan struct{})
		f, calls := createdOnly(t, func(ctx context.Context, n int64) error {
			<-gate // hold the first delivery while the others arrive
			return nil
		})
		body := readFixture(t, "user.created")
		var wg sync.WaitGroup
		statuses := make(chan int, 50)
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses <- f.serve(f.signed(t, "msg_same", webhookNow, body)).status
			}()
		}
		require.Eventually(t, func() bool { return calls.Load() == 1 }, 10*time.Second, time.Millisecond)
		close(gate)
		wg.Wait()
		close(statuses)
		for s := range statuses {
			assert.Equal(t, 200, s)
		}
		assert.Equal(t, int64(1), calls.Load())
	})
	t.Run("a waiting duplicate proceeds when the first fails", func(t *testing.T) {
		gate := make(chan struct{})
		f, calls := createdOnly(t, func(ctx context.Context, n int64) error {
			if n == 1 {
				<-gate
				return errors.New("first attempt fails")
			}
			return nil
		})
		body := readFixture(t, "user.created")
		first := make(chan int)
		go func() { first <- f.serve(f.signed(t, "msg_same", webhookNow, body)).status }()
		require.Eventually(t, func() bool { return calls.Load() == 1 }, 10*time.Second, time.Millisecond)
		second := make(chan int)
		go func() { second <- f.serve(f.signed(t, "msg_same", webhookNow, body)).status }()
		close(gate)
		assert.Equal(t, 500, <-first)
		assert.Equal(t, 200, <-second)
		assert.Equal(t, int64(2), calls.Load())
	})
}

// failingStore is a DedupStore whose Begin or Commit fails.
type failingStore struct {
	beginErr, commitErr error
	aborted             atomic.Int64
}

func (s *failingStore) Begin(ctx context.Context, id string) (context.Context, bool, error) {
	return ctx, false, s.beginErr
}
func (s *failingStore) Commit(ctx context.Context, id string) error { return s.commitErr }
func (s *failingStore) Abort(ctx context.Context, id string)        { s.aborted.Add(1) }

func TestWebhookStoreErrors(t *testing.T) {
	body := readFixture(t, "user.created")
	store := &failingStore{beginErr: errors.New("db down")}
	f := newWebhookFixture(t, func(c *clerkauth.WebhookConfig) { c.Dedup = store })
	assertWebhookRefused(t, f.serve(f.signed(t, "msg_1", webhookNow, body)), 500, "dedup-failed")
	assert.Zero(t, f.rec.calls.Load(), "no callback without a claim on the id")

	store = &failingStore{commitErr: errors.New("db down")}
	f = newWebhookFixture(t, func(c *clerkauth.WebhookConfig) { c.Dedup = store })
	assertWebhookRefused(t, f.serve(f.signed(t, "msg_1", webhookNow, body)), 500, "dedup-failed")

	f = newWebhookFixture(t, func(c *clerkauth.WebhookConfig) { c.Dedup = store })
	f.rec.fail.Store(1)
	assertWebhookRefused(t, f.serve(f.signed(t, "msg_1", webhookNow, body)), 500, "callback-failed")
	assert.Equal(t, int64(1), store.aborted.Load())
}

// createdOnly is a fixture whose one callback handles user.created with
// fn, which gets the number of the call (1 for the first); calls counts
// them.
func createdOnly(t *testing.T, fn func(ctx context.Context, n int64) error) (*webhookFixture, *atomic.Int64) {
	calls := new(atomic.Int64)
	f := newWebhookFixture(t, func(c *clerkauth.WebhookConfig) {
		c.Users = clerkauth.UserEventFuncs{Created: func(ctx context.Context, _ *clerkauth.UserEvent) error {
			return fn(ctx, calls.Add(1))
		}}
	})
	return f, calls
}

func TestWebhookCallbackGetsRequestContext(t *testing.T) {
	f, calls := createdOnly(t, func(ctx context.Context, n int64) error {
		if n == 1 {
			<-ctx.Done() // a callback that blocks until the client goes away
			return ctx.Err()
		}
		return nil
	})
	body := readFixture(t, "user.created")
	ctx, cancel := context.WithCancel(context.Background())
	r := f.signed(t, "msg_1", webhookNow, body).WithContext(ctx)
	done := make(chan response)
	go func() { done <- f.serve(r) }()
	require.Eventually(t, func() bool { return calls.Load() == 1 }, 10*time.Second, time.Millisecond)
	cancel()
	assert.Equal(t, 500, (<-done).status)
	// Not remembered as done: the retry runs.
	assert.JSONEq(t, `{"status":"ok"}`, f.serve(f.signed(t, "msg_1", webhookNow, body)).body)
	assert.Equal(t, int64(2), calls.Load())
}

func TestNewWebhookHandlerValidates(t *testing.T) {
	rec := &recorder{}
	for name, tt := range map[string]struct {
		cfg  clerkauth.WebhookConfig
		want string
	}{
		"empty secret":       {clerkauth.WebhookConfig{Users: rec.users()}, "Clerk Dashboard → Webhooks"},
		"not base64":         {clerkauth.WebhookConfig{Secret: "whsec_***", Users: rec.users()}, "malformed"},
		"empty after prefix": {clerkauth.WebhookConfig{Secret: "whsec_", Users: rec.users()}, "malformed"},
		"no whsec_ prefix":   {clerkauth.WebhookConfig{Secret: strings.TrimPrefix(clerktest.NewWebhookSecret(), "whsec_"), Users: rec.users()}, "does not start with whsec_"},
		"a 1-byte key":       {clerkauth.WebhookConfig{Secret: "whsec_QQ==", Users: rec.users()}, "too short (a 1-byte key"},
		"cut when copied":    {clerkauth.WebhookConfig{Secret: clerktest.NewWebhookSecret()[:22], Users: rec.users()}, "too short"},
		"an API key":         {clerkauth.WebhookConfig{Secret: "sk_test_abc", Users: rec.users()}, "is an API key"},
		"no handler":         {clerkauth.WebhookConfig{Secret: clerktest.NewWebhookSecret()}, "needs Users"},
	} {
		t.Run(name, func(t *testing.T) {
			h, err := clerkauth.NewWebhookHandler(tt.cfg)
			require.Error(t, err)
			assert.Nil(t, h)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "sk_test_abc")
		})
	}
	t.Setenv("CLERK_WEBHOOK_SIGNING_SECRET", "")
	t.Setenv("CLERK_WEBHOOK_SECRET", "whsec_legacy")
	assert.Equal(t, "whsec_legacy", clerkauth.WebhookSecretFromEnv())
	t.Setenv("CLERK_WEBHOOK_SIGNING_SECRET", "whsec_new")
	assert.Equal(t, "whsec_new", clerkauth.WebhookSecretFromEnv())
}

func TestClerktestWebhookRequest(t *testing.T) {
	f := newWebhookFixture(t, nil)
	r := clerktest.NewWebhookRequest(t, "/api/webhooks/clerk", f.secret, "msg_ct", webhookNow, "user.created", map[string]any{"id": "user_ct", "object": "user"})
	assert.Equal(t, 200, f.serve(r).status)
	require.Len(t, f.rec.created, 1)
	assert.Equal(t, "user_ct", f.rec.created[0].User.ID)
	assert.Equal(t, "ins_clerktest", f.rec.created[0].InstanceID)
}

func TestMemoryDedupStore(t *testing.T) {
	ctx := context.Background()
	s := clerkauth.NewMemoryDedupStore(3, time.Hour)
	for _, id := range []string{"a", "b", "c", "d"} {
		_, done, err := s.Begin(ctx, id)
		require.NoError(t, err)
		require.False(t, done)
		require.NoError(t, s.Commit(ctx, id))
	}
	_, done, _ := s.Begin(ctx, "d")
	assert.True(t, done)
	_, done, _ = s.Begin(ctx, "a")
	assert.False(t, done, "bounded to 3 ids: a, the oldest, was forgotten")
	s.Abort(ctx, "a")

	// A waiting Begin gives up with its context.
	_, _, err := s.Begin(ctx, "x")
	require.NoError(t, err)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, done, err = s.Begin(cctx, "x")
	assert.ErrorIs(t, err, context.Canceled)
	assert.False(t, done)
}

// TestWebhookManyConcurrentDeliveriesWithDuplicates: 10,000 deliveries,
// 30% of them repeats of earlier ids, from concurrent goroutines: every
// delivery is acknowledged and each id's callback runs exactly once.
func TestWebhookManyConcurrentDeliveriesWithDuplicates(t *testing.T) {
	const total, unique = 10_000, 7_000
	var counts sync.Map // id → *atomic.Int64
	f := newWebhookFixture(t, func(c *clerkauth.WebhookConfig) {
		c.Logger = slog.New(slog.DiscardHandler)
		c.Users = clerkauth.UserEventFuncs{Deleted: func(ctx context.Context, e *clerkauth.DeletedEvent) error {
			n, _ := counts.LoadOrStore(e.EventMeta.ID, new(atomic.Int64))
			n.(*atomic.Int64).Add(1)
			return nil
		}}
	})
	ids := make([]string, total)
	for i := range ids {
		if i < unique {
			ids[i] = "msg_" + strconv.Itoa(i)
		} else {
			ids[i] = "msg_" + strconv.Itoa((i*7919)%unique) // a deterministic spread of repeats
		}
	}
	// Interleave repeats with originals so that many arrive concurrently.
	for i := unique; i < total; i++ {
		j := (i * 104729) % total
		ids[i], ids[j] = ids[j], ids[i]
	}
	jobs := make(chan string)
	var wg sync.WaitGroup
	var bad atomic.Int64
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range jobs {
				body := clerktest.Envelope(t, "user.deleted", map[string]any{"id": "user_" + id, "deleted": true}, webhookNow)
				if res := f.serve(f.signed(t, id, webhookNow, body)); res.status != 200 {
					bad.Add(1)
				}
			}
		}()
	}
	for _, id := range ids {
		jobs <- id
	}
	close(jobs)
	wg.Wait()
	assert.Zero(t, bad.Load(), "every delivery is acknowledged")
	n := 0
	counts.Range(func(k, v any) bool {
		n++
		if c := v.(*atomic.Int64).Load(); c != 1 {
			t.Errorf("%s: callback ran %d times", k, c)
		}
		return true
	})
	assert.Equal(t, unique, n)
}

// bodyProbe is a request body that records the largest buffer a reader
// offered it and whether it was read at all. It yields data, then fails
// (a client that stalls and goes away).
type bodyProbe struct {
	data    []byte
	read    bool
	largest int
}

func (p *bodyProbe) Read(b []byte) (int, error) {
	p.read = true
	p.largest = max(p.largest, len(b))
	if len(p.data) == 0 {
		return 0, errors.New("connection reset")
	}
	n := copy(b, p.data)
	p.data = p.data[n:]
	return n, nil
}

// Issue 18, finding 1: the signature header is parsed in one pass, its
// size is capped, and its shape is checked before the body is read.
func TestWebhookHeadersAreCheckedBeforeTheBody(t *testing.T) {
	f := newWebhookFixture(t, nil)
	body := readFixture(t, "user.created")
	valid := clerktest.SignWebhook(t, f.secret, "msg_1", webhookNow, body).Get("svix-signature")
	for _, tt := range []struct {
		name, sig, reason string
	}{
		{"a comma and a long run of spaces", "," + strings.Repeat(" ", 200<<10) + valid, "invalid-signature"},
		{"longer than any Svix sends", strings.Repeat(valid+" ", 200), "invalid-signature"},
		{"not v<n>,<base64>", "sha256=" + strings.Repeat("ab", 32), "invalid-signature"},
		{"no v1 among them", strings.Replace(valid, "v1,", "v2,", 1), "invalid-signature"},
		{"a space inside the base64", strings.Replace(valid, "v1,", "v1,ab cd", 1), "invalid-signature"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			probe := &bodyProbe{data: body}
			r := httptest.NewRequest("POST", "/api/webhooks/clerk", probe)
			r.Header.Set("svix-id", "msg_1")
			r.Header.Set("svix-timestamp", nowUnix)
			r.Header.Set("svix-signature", tt.sig)
			assertWebhookRefused(t, f.serve(r), 400, tt.reason)
			assert.False(t, probe.read, "the body was read before the headers were refused")
		})
	}
	t.Run("the cost of the signature header does not grow faster than its size", func(t *testing.T) {
		allocs := func(spaces int) float64 {
			h := http.Header{"Svix-Id": {"msg_1"}, "Svix-Timestamp": {nowUnix}, "Svix-Signature": {"v1," + strings.Repeat(", ", spaces) + "abc"}}
			return testing.AllocsPerRun(5, func() { clerkauth.WebhookHeaders(h) })
		}
		// One ReplaceAll pass per run of ", " was quadratic: 1,000 then
		// 10,000 allocations here.
		assert.LessOrEqual(t, allocs(1000), 2.0)
		assert.Equal(t, allocs(100), allocs(1000))
	})
	t.Run("proxy joins still verify", func(t *testing.T) {
		r := f.signed(t, "msg_joined", webhookNow, body)
		sig := r.Header.Get("svix-signature")
		r.Header.Set("svix-signature", "v1,"+strings.Repeat(" ", 50)+strings.TrimPrefix(sig, "v1,"))
		assert.Equal(t, 200, f.serve(r).status)
	})
}

// Issue 18, finding 7: a body is buffered as it arrives, not as it is
// announced, so a client that announces a large body and stalls holds
// only what it sent.
func TestWebhookBufferGrowsAsTheBodyArrives(t *testing.T) {
	f := newWebhookFixture(t, nil) // MaxBodyBytes: 1 MiB
	body := readFixture(t, "user.created")
	probe := &bodyProbe{data: body[:200]}
	r := f.signed(t, "msg_1", webhookNow, body)
	r.Body = io.NopCloser(probe)
	r.ContentLength = 1 << 20
	assertWebhookRefused(t, f.serve(r), 400, "body-unreadable")
	assert.LessOrEqual(t, probe.largest, 16<<10+1, "the buffer was sized by Content-Length")

	// A body announced small still arrives in one read of its own size.
	probe = &bodyProbe{data: body}
	r = f.signed(t, "msg_2", webhookNow, body)
	r.Body = io.NopCloser(probe)
	assertWebhookRefused(t, f.serve(r), 400, "body-unreadable") // the probe fails at its end
	assert.Equal(t, len(body)+1, probe.largest)
}

// Refusals that anyone can cause are logged once a minute per reason, not
// once a delivery; OnError still hears of each. A callback's failure is
// logged every time.
func TestWebhookRefusalLogsAreRateLimited(t *testing.T) {
	var heard atomic.Int64
	f := newWebhookFixture(t, func(c *clerkauth.WebhookConfig) {
		c.OnError = func(context.Context, clerkauth.WebhookFailure) { heard.Add(1) }
	})
	body := readFixture(t, "user.created")
	for i := range 100 {
		r := f.signed(t, fmt.Sprintf("msg_%d", i), webhookNow, body)
		r.Header.Set("svix-signature", "v1,AAAA")
		f.serve(r)
	}
	f.rec.fail.Store(3)
	for i := range 3 {
		f.serve(f.signed(t, fmt.Sprintf("msg_fail_%d", i), webhookNow, body))
	}
	logs := f.logs.String()
	assert.Equal(t, 1, strings.Count(logs, "reason=invalid-signature"), "one line a minute per reason")
	assert.Equal(t, 3, strings.Count(logs, "reason=callback-failed"), "every failed callback")
	assert.EqualValues(t, 103, heard.Load(), "OnError hears of every one")
}
