package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/consentgate/consentgate/internal/access"
	"github.com/consentgate/consentgate/internal/gate"
)

// metrics are the server's Prometheus metrics, on a registry of its own.
type metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	consent   prometheus.Counter
	decisions prometheus.Counter
	exports   prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "consentgate_http_requests_total", Help: "HTTP requests by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "consentgate_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
		consent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "consentgate_consent_events_total", Help: "Consent events recorded through the API.",
		}),
		decisions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "consentgate_decisions_total", Help: "Record decisions made through the API.",
		}),
		exports: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "consentgate_exports_served_total", Help: "Export manifests served.",
		}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.consent, m.decisions, m.exports,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// observe counts, times and logs every request, and turns a panic into a
// 500 that names nothing.
func (s *Server) observe(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				s.Logger.Error("panic", "method", r.Method, "path", r.URL.Path, "panic", v)
				if sw.status == 0 {
					writeJSON(sw, http.StatusInternalServerError, map[string]any{"error": &Error{Status: 500, Code: "internal", Message: "internal error"}})
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			switch {
			case sw.status == http.StatusInsufficientStorage:
				s.fullSince.CompareAndSwap(0, time.Now().UnixNano())
			case r.Method != http.MethodGet && sw.status >= 200 && sw.status < 300:
				s.fullSince.Store(0) // a write went through: there is room again
			}
			d := time.Since(start)
			s.metrics.requests.WithLabelValues(route, r.Method, strconv.Itoa(sw.status)).Inc()
			s.metrics.latency.WithLabelValues(route).Observe(d.Seconds())
			s.Logger.LogAttrs(r.Context(), slog.LevelInfo, "request", slog.String("method", r.Method), slog.String("route", route),
				slog.Int("status", sw.status), slog.Duration("took", d))
		}()
		h.ServeHTTP(sw, r)
	})
}

// noticeCollector reports the notices to recipients at each scrape: the
// open and the overdue ones per recipient (SPEC §11), from the same
// listing as GET /v1/notices.
type noticeCollector struct {
	g             *gate.Gate
	open, overdue *prometheus.Desc
}

func newNoticeCollector(g *gate.Gate) *noticeCollector {
	return &noticeCollector{g: g,
		open: prometheus.NewDesc("consentgate_notices_open", "Notices to recipients not closed by an answer (refused ones included), by recipient.",
			[]string{"recipient"}, nil),
		overdue: prometheus.NewDesc("consentgate_notices_overdue", "Notices to recipients past their deadline without a closing answer, by recipient.",
			[]string{"recipient"}, nil)}
}

func (c *noticeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.open; ch <- c.overdue }

func (c *noticeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ns, err := c.g.Notices(ctx, access.Local, gate.NoticeFilter{})
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.overdue, err)
		return
	}
	open, overdue := map[string]int{}, map[string]int{}
	for _, n := range ns {
		if _, ok := open[n.Recipient]; !ok {
			open[n.Recipient], overdue[n.Recipient] = 0, 0
		}
		if n.Status == gate.NoticeOpen || n.Status == gate.NoticeRefused {
			open[n.Recipient]++
		}
		if n.Overdue {
			overdue[n.Recipient]++
		}
	}
	for r, k := range open {
		ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(k), r)
		ch <- prometheus.MustNewConstMetric(c.overdue, prometheus.GaugeValue, float64(overdue[r]), r)
	}
}
