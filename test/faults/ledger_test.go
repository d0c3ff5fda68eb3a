package faults

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// position is a message's place in Kafka.
type position struct {
	partition int32
	offset    int64
}

// delivery is one message a consumer got from BLPOP.
type delivery struct {
	id     int64
	pos    position
	member string
	at     time.Time
}

// String describes the delivery for failure messages.
func (d delivery) String() string {
	return fmt.Sprintf("id %d at %d/%d to %s at %s", d.id, d.pos.partition, d.pos.offset, d.member, d.at.Format("15:04:05.000"))
}

// ledger records what the checker's clients did: which messages rafka
// acknowledged (durable RPUSH), which were delivered by BLPOP and where,
// which acks were accepted, and when faults were injected. It is safe for
// concurrent use.
type ledger struct {
	mu sync.Mutex
	// acknowledged holds the ids of messages whose RPUSH rafka acknowledged.
	acknowledged map[int64]bool
	// retried holds the ids of messages sent again after a failed RPUSH
	// (they may be in Kafka twice).
	retried map[int64]bool
	// rpushFailures counts failed RPUSH calls by error text.
	rpushFailures map[string]int
	// deliveries is every BLPOP delivery, in order.
	deliveries []delivery
	// ackAccepted holds the ids whose ack rafka accepted.
	ackAccepted map[int64]bool
	// ackRefused counts refused or failed acks by error text.
	ackRefused map[string]int
	// faults are the injected faults, with the time each began.
	faults []fault
	// unknown counts BLPOP values the checker never produced.
	unknown int
}

// fault is one injected fault.
type fault struct {
	what string
	// at is when it began, end when its injection finished (the broker
	// was started again, rafka answered again, ...).
	at, end time.Time
}

// settle is how long after a fault ends (the group is stable again) its
// consequences may still show: a consumer that finds out late that it lost
// a partition, a commit that was still under way.
const settle = 5 * time.Second

func newLedger() *ledger {
	return &ledger{
		acknowledged:  map[int64]bool{},
		retried:       map[int64]bool{},
		rpushFailures: map[string]int{},
		ackAccepted:   map[int64]bool{},
		ackRefused:    map[string]int{},
	}
}

// messageValue is the payload of message id: "faults-<id>-" padded to 100
// bytes.
func messageValue(id int64) string {
	v := "faults-" + strconv.FormatInt(id, 10) + "-"
	return v + strings.Repeat("x", max(0, 100-len(v)))
}

// parseMessageValue returns the id in a payload made by messageValue.
func parseMessageValue(v string) (int64, bool) {
	rest, ok := strings.CutPrefix(v, "faults-")
	if !ok {
		return 0, false
	}
	num, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(num, 10, 64)
	return id, err == nil
}

// produced records a batch rafka acknowledged.
func (l *ledger) produced(ids []int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		l.acknowledged[id] = true
	}
}

// produceFailed records a failed RPUSH of ids (they will be sent again).
func (l *ledger) produceFailed(ids []int64, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rpushFailures[errorKind(err)]++
	for _, id := range ids {
		l.retried[id] = true
	}
}

// delivered records a BLPOP delivery.
func (l *ledger) delivered(member, value string, pos position) {
	id, ok := parseMessageValue(value)
	l.mu.Lock()
	defer l.mu.Unlock()
	if !ok {
		l.unknown++
		return
	}
	l.deliveries = append(l.deliveries, delivery{id: id, pos: pos, member: member, at: time.Now()})
}

// acked records the outcome of acking message value: err nil means rafka
// accepted it.
func (l *ledger) acked(value string, err error) {
	id, _ := parseMessageValue(value)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.ackRefused[errorKind(err)]++
		return
	}
	l.ackAccepted[id] = true
}

// injected records a fault that began at start and has just ended.
func (l *ledger) injected(what string, start time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.faults = append(l.faults, fault{what: what, at: start, end: time.Now()})
}

// counts returns the number of acknowledged messages and of distinct
// acknowledged messages delivered so far.
func (l *ledger) counts() (acknowledged, delivered int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	seen := make(map[int64]bool, len(l.acknowledged))
	for _, d := range l.deliveries {
		if l.acknowledged[d.id] {
			seen[d.id] = true
		}
	}
	return len(l.acknowledged), len(seen)
}

// report is the checker's verdict.
type report struct {
	// acknowledged is the number of distinct messages rafka acknowledged.
	acknowledged int
	// deliveries is the number of BLPOP deliveries.
	deliveries int
	// lost are acknowledged messages never delivered.
	lost []int64
	// duplicates is deliveries beyond the first of each message.
	duplicates int
	// producedTwice are messages stored at more than one position.
	producedTwice int
	// producedTwiceUnexplained are messages stored twice that were never
	// re-sent after a failed RPUSH. (librdkafka also retries a request
	// whose reply was lost; rafka's idempotent producer keeps the broker
	// from storing that twice.)
	producedTwiceUnexplained []int64
	// redelivered are deliveries of a position delivered before.
	redelivered int
	// redeliveredUnexplained are redeliveries with no fault (or its
	// settling time) between the earlier delivery and this one, each with
	// the earlier delivery.
	redeliveredUnexplained [][2]delivery
	// neverAcked are acknowledged messages delivered but never acked
	// successfully.
	neverAcked int
	// unknown counts payloads the checker never produced.
	unknown int
	// rpushFailures and ackRefused count failures by error text.
	rpushFailures, ackRefused map[string]int
	// faults are the injected faults.
	faults []fault
}

// verdict checks the ledger: every acknowledged message was delivered; a
// message is stored twice only if it was re-sent after a failed RPUSH; a
// position is delivered again only after a fault happened since its
// previous delivery, or was still settling (the unacked window of that
// fault).
func (l *ledger) verdict() report {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := report{
		acknowledged:  len(l.acknowledged),
		deliveries:    len(l.deliveries),
		unknown:       l.unknown,
		rpushFailures: l.rpushFailures,
		ackRefused:    l.ackRefused,
		faults:        l.faults,
	}
	positions := map[int64]map[position]bool{}
	last := map[position]delivery{}
	for _, d := range l.deliveries {
		if positions[d.id] == nil {
			positions[d.id] = map[position]bool{}
		} else {
			r.duplicates++
		}
		positions[d.id][d.pos] = true
		if prev, ok := last[d.pos]; ok {
			r.redelivered++
			if !l.faultAround(prev.at, d.at) {
				r.redeliveredUnexplained = append(r.redeliveredUnexplained, [2]delivery{prev, d})
			}
		}
		last[d.pos] = d
	}
	for id, ps := range positions {
		if len(ps) > 1 {
			r.producedTwice++
			if !l.retried[id] {
				r.producedTwiceUnexplained = append(r.producedTwiceUnexplained, id)
			}
		}
	}
	for id := range l.acknowledged {
		if positions[id] == nil {
			r.lost = append(r.lost, id)
		} else if !l.ackAccepted[id] {
			r.neverAcked++
		}
	}
	slices.Sort(r.lost)
	slices.Sort(r.producedTwiceUnexplained)
	return r
}

// faultAround reports whether a fault, including its settling time,
// overlaps (from, to]: it began by to and had not settled by from.
func (l *ledger) faultAround(from, to time.Time) bool {
	for _, f := range l.faults {
		if !f.at.After(to) && f.end.Add(settle).After(from) {
			return true
		}
	}
	return false
}

// String summarises the report in one paragraph.
func (r report) String() string {
	var faults []string
	for _, f := range r.faults {
		faults = append(faults, f.what)
	}
	// The Streams checker keeps the same ledger: its produce commands are
	// XADDs, its deliveries XREADGROUP entries and its acks XACKs.
	return fmt.Sprintf("faults: %s; %d messages acknowledged by rafka, %d deliveries (BLPOP or XREADGROUP), lost %d, "+
		"duplicates %d (%d messages stored twice, %d redeliveries after a fault); "+
		"acknowledged messages delivered but never acked %d; failed produce commands (RPUSH or XADD) %v; refused acks %v",
		strings.Join(faults, ", "), r.acknowledged, r.deliveries, len(r.lost),
		r.duplicates, r.producedTwice, r.redelivered, r.neverAcked, r.rpushFailures, r.ackRefused)
}

// errorKind shortens an error to its first 60 characters, to count errors
// by kind.
func errorKind(err error) string {
	s := err.Error()
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}
