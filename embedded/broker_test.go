package embedded

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestTopicsOnDiskBeforeClose checks that a topic is in the data dir as soon
// as it is created, whether a produce auto-created it or CreateTopics did,
// together with the records acknowledged for it: a copy of the data dir
// taken while the broker still runs (what a kill -9 leaves) loads both.
func TestTopicsOnDiskBeforeClose(t *testing.T) {
	dir := t.TempDir()
	b, err := Start(Options{DataDir: dir, AutoCreateTopics: true, Partitions: 3, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "explicit", 2, 1
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("CreateTopics: %v", err)
	}
	if code := resp.Topics[0].ErrorCode; code != 0 {
		t.Fatalf("CreateTopics: error code %d", code)
	}
	for _, topic := range []string{"auto", "explicit"} {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(topic + "-value")}).FirstErr(); err != nil {
			t.Fatalf("produce to %s: %v", topic, err)
		}
	}

	crashed := filepath.Join(t.TempDir(), "crashed")
	if err := os.CopyFS(crashed, os.DirFS(dir)); err != nil {
		t.Fatalf("copy data dir: %v", err)
	}
	b2, err := Start(Options{DataDir: crashed, AutoCreateTopics: true, Partitions: 3, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b2.Close)
	for topic, parts := range map[string]int{"auto": 3, "explicit": 2} {
		if b2.cluster.TopicInfo(topic) == nil {
			t.Fatalf("topic %s not loaded from a data dir copied before Close", topic)
		}
		if got := len(b2.cluster.PartitionInfos(topic)); got != parts {
			t.Errorf("topic %s: %d partitions after reload, want %d", topic, got, parts)
		}
	}

	cons, err := kgo.NewClient(kgo.SeedBrokers(b2.Addr()), kgo.ConsumeTopics("auto", "explicit"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	got := map[string]string{}
	for len(got) < 2 {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("records after reload: got %v, want one in each of auto and explicit", got)
		}
		fs.EachRecord(func(r *kgo.Record) { got[r.Topic] = string(r.Value) })
	}
	if got["auto"] != "auto-value" || got["explicit"] != "explicit-value" {
		t.Fatalf("records after reload: %v", got)
	}
}
