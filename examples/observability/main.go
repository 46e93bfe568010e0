// Command observability is a JSON API behind clerkauth whose metrics are
// served in Prometheus' format: otelclerkauth's hooks record to an
// OpenTelemetry SDK meter provider, which OpenTelemetry's Prometheus
// exporter reads on each scrape of /metrics.
//
//	CLERK_PUBLISHABLE_KEY=pk_… go run .
//	curl localhost:9090/metrics | grep clerkauth_
//
// Routes:
//
//	GET /api/health   public (Config.PublicRoutes)
//	GET /api/me       signed in: the caller's user ID
//
// The metrics have a listener of their own (METRICS_ADDR, default :9090),
// so that they are not served to the API's clients. PORT sets the API's
// port (default 8080).
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"log"
	"net/http"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/clerkauth/clerkauth"
	"github.com/clerkauth/clerkauth/otelclerkauth"
)

func main() {
	s, err := newServer(clerkauth.ConfigFromEnv())
	if err != nil {
		log.Fatal(err)
	}
	defer s.shutdown(context.Background())
	metricsAddr := cmp.Or(os.Getenv("METRICS_ADDR"), ":9090")
	go func() { log.Fatal(http.ListenAndServe(metricsAddr, s.metrics)) }()
	addr := ":" + cmp.Or(os.Getenv("PORT"), "8080")
	log.Printf("listening on %s, metrics on %s/metrics", addr, metricsAddr)
	log.Fatal(http.ListenAndServe(addr, s.api))
}

type server struct {
	api      http.Handler // the API, behind clerkauth
	metrics  http.Handler // GET /metrics
	shutdown func(context.Context) error
}

func newServer(cfg clerkauth.Config) (*server, error) {
	// A registry of its own rather than Prometheus' global one: the metrics
	// page shows exactly what this server records.
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	// With a global provider (otel.SetMeterProvider), otelclerkauth.Hooks()
	// alone is enough.
	cfg.Hooks = otelclerkauth.Hooks(otelclerkauth.WithMeterProvider(mp))
	cfg.PublicRoutes = []string{"/api/health"}
	auth, err := clerkauth.New(cfg)
	if err != nil {
		return nil, err
	}

	api := http.NewServeMux()
	api.HandleFunc("GET /api/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]string{"status": "ok"})
	})
	api.HandleFunc("GET /api/me", func(w http.ResponseWriter, r *http.Request) {
		id, ok := clerkauth.IdentityFromContext(r.Context())
		if !ok { // only if the route becomes public
			http.Error(w, "not signed in", http.StatusUnauthorized)
			return
		}
		writeJSON(w, map[string]string{"user": id.UserID})
	})
	metrics := http.NewServeMux()
	metrics.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return &server{api: auth.Middleware(api), metrics: metrics, shutdown: mp.Shutdown}, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
