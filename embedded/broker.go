// Package embedded runs a single-node Kafka-protocol broker (kfake) inside
// the rafka process: the try-it mode, and the fast test loop.
package embedded

import (
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kfake"
)

// Options configure the embedded broker.
type Options struct {
	// DataDir keeps topics and committed offsets across restarts; empty
	// keeps everything in memory.
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
	addrs := c.ListenAddrs()
	if len(addrs) == 0 {
		c.Close()
		return nil, fmt.Errorf("start embedded broker: no listen address")
	}
	return &Broker{cluster: c, addr: addrs[0]}, nil
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
