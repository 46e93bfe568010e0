package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/clerkauth/clerkauth/clerktest"
)

// scrape reads the metrics page as Prometheus does, and returns its
// families by name.
func scrape(t *testing.T, metrics http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	w := httptest.NewRecorder()
	metrics.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	require.Equal(t, 200, w.Code)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(w.Body.String()))
	require.NoError(t, err)
	return families
}

// counters is a counter family's values by their clerkauth labels
// ("k=v,k=v" in the order of keys; a missing label reads as "", as in
// Prometheus).
func counters(t *testing.T, f *dto.MetricFamily, keys ...string) map[string]float64 {
	t.Helper()
	require.NotNil(t, f, "the family is on the page")
	require.Equal(t, dto.MetricType_COUNTER, f.GetType())
	out := map[string]float64{}
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		var parts []string
		for _, k := range keys {
			parts = append(parts, k+"="+labels[k])
		}
		out[strings.Join(parts, ",")] = m.GetCounter().GetValue()
	}
	return out
}

func TestMetricsAfterARefusalAndASignIn(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	s, err := newServer(iss.Config())
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.shutdown(t.Context()) })
	get := func(token string) int {
		r := httptest.NewRequest("GET", "/api/me", nil)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		s.api.ServeHTTP(w, r)
		return w.Code
	}

	require.Equal(t, 401, get(""))
	require.Equal(t, 200, get(iss.MustSessionToken("user_1")))

	families := scrape(t, s.metrics)
	assert.Equal(t, map[string]float64{
		"status=signed-out,reason=session-token-missing,token_type=": 1,
		"status=signed-in,reason=,token_type=session_token":          1,
	}, counters(t, families["clerkauth_decisions_total"], "status", "reason", "token_type"))
	assert.Equal(t, map[string]float64{"outcome=ok": 1},
		counters(t, families["clerkauth_key_fetches_total"], "outcome"))
	duration := families["clerkauth_verify_duration_seconds"]
	require.NotNil(t, duration, "the verify time is a histogram in seconds")
	assert.Equal(t, dto.MetricType_HISTOGRAM, duration.GetType())
	var observed uint64
	for _, m := range duration.GetMetric() {
		observed += m.GetHistogram().GetSampleCount()
	}
	assert.Equal(t, uint64(1), observed, "only the sign-in verified something (a signature); the refusal had no token")
}

func TestPublicHealthAndNoMetricsOnTheAPI(t *testing.T) {
	iss := clerktest.NewIssuer(t)
	s, err := newServer(iss.Config())
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.shutdown(t.Context()) })
	for path, want := range map[string]int{"/api/health": 200, "/metrics": 401} {
		w := httptest.NewRecorder()
		s.api.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		assert.Equal(t, want, w.Code, path)
	}
}
