package otelclerkauth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/clerktest"
	"github.com/clerkauth/clerkauth/internal/fixture"
	"github.com/clerkauth/clerkauth/otelclerkauth"
)

// The hooks go in Config.Hooks. In production they record with the global
// providers that your OpenTelemetry setup installed:
//
//	cfg := clerkauth.ConfigFromEnv()
//	cfg.Hooks = otelclerkauth.Hooks()
//	auth, err := clerkauth.New(cfg)
//
// Here, a meter provider read by hand counts one refused request.
func ExampleHooks() {
	tb := &fixture.ExampleTB{}
	defer tb.Close()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	iss := clerktest.NewIssuer(tb)
	auth := iss.MustAuth(func(c *clerkauth.Config) {
		c.Hooks = otelclerkauth.Hooks(otelclerkauth.WithMeterProvider(mp))
	})
	h := auth.Middleware(http.NotFoundHandler())
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/me", nil))

	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if sum, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "clerkauth.decisions" {
			for _, dp := range sum.DataPoints {
				fmt.Println(m.Name, dp.Attributes.Encoded(attribute.DefaultEncoder()), dp.Value)
			}
		}
	}
	// Output:
	// clerkauth.decisions cached=false,reason=session-token-missing,status=signed-out,token_type= 1
}
