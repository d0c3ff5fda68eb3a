package arrowflight

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"rafka/config"
	"rafka/producer"
	"rafka/stats"
)

// TestPutProducerReplacesFatal: DoPut's shared producer is replaced once it
// is fatal, and the fatal one is closed only after its last user is done.
func TestPutProducerReplacesFatal(t *testing.T) {
	st := stats.New()
	// No broker is needed: librdkafka connects lazily.
	props := config.Properties{"bootstrap.servers": "127.0.0.1:1", "enable.idempotence": "true"}
	var replaced int
	pp := &putProducer{
		newProducer: func() (*producer.Producer, error) { return producer.New(props, st, zerolog.Nop()) },
		log:         func(error) { replaced++ },
	}
	first, releaseFirst, err := pp.acquire()
	if err != nil {
		t.Fatal(err)
	}
	again, releaseAgain, err := pp.acquire()
	if err != nil || again != first {
		t.Fatalf("a healthy producer is not shared: %p %p %v", first, again, err)
	}
	releaseAgain()

	first.InjectFatalError("injected by the test")
	second, releaseSecond, err := pp.acquire()
	if err != nil {
		t.Fatal(err)
	}
	if second == first || replaced != 1 {
		t.Fatalf("the fatal producer was not replaced (replaced %d times)", replaced)
	}
	if got := st.Get(stats.ProducersCurrent); got != 2 {
		t.Errorf("producers current while the fatal one is in use = %d, want 2", got)
	}
	releaseFirst()
	deadline := time.Now().Add(10 * time.Second)
	for st.Get(stats.ProducersCurrent) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the fatal producer was not closed after its last user: %d producers", st.Get(stats.ProducersCurrent))
		}
		time.Sleep(10 * time.Millisecond)
	}
	releaseSecond()
	pp.close(context.Background())
	if got := st.Get(stats.ProducersCurrent); got != 0 {
		t.Errorf("producers current after close = %d, want 0", got)
	}
	if _, _, err := pp.acquire(); status.Code(err) != codes.Unavailable {
		t.Errorf("acquire after close: %v, want Unavailable", err)
	}

	// A close whose deadline passes while a DoPut still holds the producer
	// returns without closing it under that DoPut.
	pp = &putProducer{
		newProducer: func() (*producer.Producer, error) { return producer.New(props, st, zerolog.Nop()) },
		log:         func(error) {},
	}
	held, release, err := pp.acquire()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	pp.close(ctx)
	if held.Fatal() != nil || st.Get(stats.ProducersCurrent) != 1 {
		t.Errorf("the held producer was closed under its user (%d producers)", st.Get(stats.ProducersCurrent))
	}
	release()
	pp.close(context.Background())
	if got := st.Get(stats.ProducersCurrent); got != 0 {
		t.Errorf("producers current after the user is done = %d, want 0", got)
	}
}
