package stats

import "sync"

// kafkaClients holds what the live librdkafka clients last reported in
// their statistics: consumer lag per group, topic and partition, and the
// queue depth of every producer. Entries are removed when their client
// closes, so the exported series never outlive their owner.
type kafkaClients struct {
	mu     sync.Mutex
	nextID uint64
	lag    map[lagKey]lagValue
	queues map[uint64]queueDepth
	total  queueDepth // sum of queues
}

type lagKey struct {
	group, topic string
	partition    int32
}

// lagValue is a partition's lag and the consumer that reported it: the
// member that owns the partition sets the group's value.
type lagValue struct {
	owner uint64
	lag   int64
}

type queueDepth struct{ messages, bytes int64 }

func newKafkaClients() *kafkaClients {
	return &kafkaClients{lag: map[lagKey]lagValue{}, queues: map[uint64]queueDepth{}}
}

func (k *kafkaClients) newID() uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.nextID++
	return k.nextID
}

// ConsumerLag reports one consumer's partition lags. Its methods may be
// called from any goroutine.
type ConsumerLag struct {
	k     *kafkaClients
	id    uint64
	group string
	owned map[lagKey]bool // guarded by k.mu
}

// NewConsumerLag returns the lag reporter of one consumer of group.
func (s *Stats) NewConsumerLag(group string) *ConsumerLag {
	return &ConsumerLag{k: s.kafka, id: s.kafka.newID(), group: group, owned: map[lagKey]bool{}}
}

// Update sets the lags of the partitions the consumer owns now; the series
// of partitions it reported before and not now are removed.
func (c *ConsumerLag) Update(lags []PartitionLag) {
	now := make(map[lagKey]bool, len(lags))
	c.k.mu.Lock()
	defer c.k.mu.Unlock()
	for _, l := range lags {
		key := lagKey{group: c.group, topic: l.Topic, partition: l.Partition}
		now[key] = true
		c.k.lag[key] = lagValue{owner: c.id, lag: l.Lag}
	}
	for key := range c.owned {
		if !now[key] {
			c.dropLocked(key)
		}
	}
	c.owned = now
}

// Forget removes a partition the consumer lost, unless another member has
// reported it since.
func (c *ConsumerLag) Forget(topic string, partition int32) {
	c.k.mu.Lock()
	defer c.k.mu.Unlock()
	key := lagKey{group: c.group, topic: topic, partition: partition}
	c.dropLocked(key)
	delete(c.owned, key)
}

// Close removes every series the consumer owns.
func (c *ConsumerLag) Close() {
	c.k.mu.Lock()
	defer c.k.mu.Unlock()
	for key := range c.owned {
		c.dropLocked(key)
	}
	c.owned = map[lagKey]bool{}
}

func (c *ConsumerLag) dropLocked(key lagKey) {
	if v, ok := c.k.lag[key]; ok && v.owner == c.id {
		delete(c.k.lag, key)
	}
}

// ProducerQueue reports one producer's queue depth. Its methods may be
// called from any goroutine.
type ProducerQueue struct {
	k  *kafkaClients
	id uint64
}

// NewProducerQueue returns the queue-depth reporter of one producer.
func (s *Stats) NewProducerQueue() *ProducerQueue {
	return &ProducerQueue{k: s.kafka, id: s.kafka.newID()}
}

// Update sets the messages and bytes waiting in the producer's queues.
func (p *ProducerQueue) Update(messages, bytes int64) {
	p.k.mu.Lock()
	defer p.k.mu.Unlock()
	old := p.k.queues[p.id]
	p.k.total.messages += messages - old.messages
	p.k.total.bytes += bytes - old.bytes
	p.k.queues[p.id] = queueDepth{messages: messages, bytes: bytes}
}

// Close removes the producer from the sums.
func (p *ProducerQueue) Close() {
	p.k.mu.Lock()
	defer p.k.mu.Unlock()
	old := p.k.queues[p.id]
	p.k.total.messages -= old.messages
	p.k.total.bytes -= old.bytes
	delete(p.k.queues, p.id)
}

// GroupLag is one exported consumer-lag series.
type GroupLag struct {
	Group, Topic string
	Partition    int32
	Lag          int64
}

// KafkaSnapshot returns every consumer-lag series and the messages and
// bytes waiting in all producers' queues, as last reported.
func (s *Stats) KafkaSnapshot() (lags []GroupLag, queuedMessages, queuedBytes int64) {
	k := s.kafka
	k.mu.Lock()
	defer k.mu.Unlock()
	lags = make([]GroupLag, 0, len(k.lag))
	for key, v := range k.lag {
		lags = append(lags, GroupLag{Group: key.group, Topic: key.topic, Partition: key.partition, Lag: v.lag})
	}
	return lags, k.total.messages, k.total.bytes
}
