package clerkauth

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMemoryDedupStoreExpires: an id is remembered for the TTL on the
// store's clock (the webhook handler's Now), then forgotten.
func TestMemoryDedupStoreExpires(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	s := newMemoryDedupStore(0, time.Hour, func() time.Time { return now })
	_, done, err := s.Begin(ctx, "msg_1")
	require.NoError(t, err)
	require.False(t, done)
	require.NoError(t, s.Commit(ctx, "msg_1"))

	now = now.Add(59 * time.Minute)
	_, done, err = s.Begin(ctx, "msg_1")
	require.NoError(t, err)
	assert.True(t, done, "within the TTL")

	now = now.Add(2 * time.Minute)
	_, done, err = s.Begin(ctx, "msg_1")
	require.NoError(t, err)
	assert.False(t, done, "past the TTL")
	assert.Zero(t, s.order.Len())
}
