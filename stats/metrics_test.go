package stats

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// TestMetricsKafkaStatistics: the librdkafka figures appear on /metrics
// with their labels, and a closed consumer's series disappear.
func TestMetricsKafkaStatistics(t *testing.T) {
	s := New()
	m := NewMetrics(s)
	lag := s.NewConsumerLag("billing")
	lag.Update([]PartitionLag{{"orders", 2, 42}})
	q := s.NewProducerQueue()
	q.Update(3, 300)
	body := scrape(t, m)
	for _, want := range []string{
		`rafka_kafka_consumer_lag{group="billing",partition="2",topic="orders"} 42`,
		"rafka_kafka_producer_queue_messages 3",
		"rafka_kafka_producer_queue_bytes 300",
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	lag.Close()
	q.Close()
	body = scrape(t, m)
	if strings.Contains(body, "rafka_kafka_consumer_lag{") {
		t.Error("a closed consumer's lag is still exported")
	}
	if !strings.Contains(body, "rafka_kafka_producer_queue_messages 0\n") {
		t.Error("producer queue not back to 0")
	}
}
