// Package embedded runs a single-node Kafka-protocol broker (kfake) inside
// the rafka process: the try-it mode, and the fast test loop.
package embedded

import (
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Options configure the embedded broker.
type Options struct {
	// DataDir keeps topics, records and committed offsets across restarts,
	// including a kill of the process (see Start); empty keeps everything
	// in memory.
	DataDir string
	// AutoCreateTopics lets a produce to a missing topic create it.
	AutoCreateTopics bool
	// Partitions is the partition count of auto-created topics. Default 4.
	Partitions int
	// Port is the listen port on 127.0.0.1; 0 picks a free one.
	Port int
	// MinSessionTimeout is the smallest consumer session timeout the group
	// coordinator accepts. Default 6s, as Kafka's.
	MinSessionTimeout time.Duration
	// Log receives the broker's warnings and errors.
	Log zerolog.Logger
}

// Broker is a running embedded broker.
type Broker struct {
	cluster *kfake.Cluster
	addr    string
}

// Start starts a broker listening on 127.0.0.1.
//
// With a DataDir, kfake writes each produced batch to its partition's
// segment file before acknowledging it, and rewrites topics.json (fsync,
// then rename) on every CreateTopics request. It does not do so for a topic
// that a Metadata request auto-creates, which is how a produce creates one:
// that topic would reach topics.json only at Close, and after a crash kfake
// would not load it or its segment files. So with both DataDir and
// AutoCreateTopics, Start also creates such topics through kfake's own
// CreateTopic just before the Metadata request is handled; see
// persistAutoCreate.
func Start(o Options) (*Broker, error) {
	if o.Partitions == 0 {
		o.Partitions = 4
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.DefaultNumPartitions(o.Partitions),
		kfake.WithLogger(logger{log: o.Log}),
	}
	if o.Port != 0 {
		opts = append(opts, kfake.Ports(o.Port))
	}
	if o.DataDir != "" {
		opts = append(opts, kfake.DataDir(o.DataDir))
	}
	if o.AutoCreateTopics {
		opts = append(opts, kfake.AllowAutoTopicCreation())
	}
	if o.MinSessionTimeout > 0 {
		opts = append(opts, kfake.GroupMinSessionTimeout(o.MinSessionTimeout))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded broker: %w", err)
	}
	if o.DataDir != "" && o.AutoCreateTopics {
		persistAutoCreate(c, o.Log)
	}
	addrs := c.ListenAddrs()
	if len(addrs) == 0 {
		c.Close()
		return nil, fmt.Errorf("start embedded broker: no listen address")
	}
	return &Broker{cluster: c, addr: addrs[0]}, nil
}

// persistAutoCreate installs a control function that runs before every
// Metadata request: each topic the request names, allows to be
// auto-created, and the cluster does not have yet, is created with
// Cluster.CreateTopic (the default partition count and no configs, as
// kfake's auto-creation would), which writes topics.json before returning.
// The control function then lets kfake handle the request as usual; it
// finds the topics already there. So a topic is on disk before any client
// learns of it, and so before any record of it is acknowledged.
//
// Control functions run on their own goroutine while the cluster's loop
// keeps serving admin calls, so CreateTopic may be called from one.
// CreateTopic bypasses ACLs, which the try-it broker does not configure. A
// name CreateTopic refuses (for example one colliding with an existing topic
// but for '.' versus '_') is left to kfake's own auto-creation, which
// writes it to the data dir only at Close.
func persistAutoCreate(c *kfake.Cluster, log zerolog.Logger) {
	c.ControlKey(int16(kmsg.Metadata), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		req, ok := kreq.(*kmsg.MetadataRequest)
		if !ok || !req.AllowAutoTopicCreation {
			return nil, nil, false
		}
		for _, rt := range req.Topics {
			// kfake looks a topic up by its ID when one is given,
			// and never auto-creates it then.
			if rt.Topic == nil || rt.TopicID != [16]byte{} {
				continue
			}
			err := c.CreateTopic(*rt.Topic, 0, nil)
			if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
				log.Warn().Err(err).Str("topic", *rt.Topic).
					Msg("auto-created topic not written to the data dir: it is lost if rafka is killed before a clean shutdown")
			}
		}
		return nil, nil, false
	})
}

// Addr returns the broker's host:port, for bootstrap.servers.
func (b *Broker) Addr() string { return b.addr }

// Close stops the broker, writing its state to DataDir if one was given.
func (b *Broker) Close() { b.cluster.Close() }

// logger adapts zerolog to kfake's Logger; only warnings and errors pass.
type logger struct{ log zerolog.Logger }

func (l logger) Logf(level kfake.LogLevel, msg string, args ...any) {
	switch level {
	case kfake.LogLevelError:
		l.log.Error().Msgf(msg, args...)
	case kfake.LogLevelWarn:
		l.log.Warn().Msgf(msg, args...)
	}
}
