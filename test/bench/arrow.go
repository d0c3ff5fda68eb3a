package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// arrowCount is ARROW.BLPOP's COUNT.
const arrowCount = "1000"

// arrowWorker pops Arrow batches of up to 1000 messages, decodes each, and
// acks the highest offset of each partition of the batch with one RPUSH
// acks pipelined with the next ARROW.BLPOP.
func arrowWorker(ctx context.Context, c *respConn, key string, tr *tracker, ackErrs *atomic.Int64) error {
	mem := memory.NewGoAllocator()
	topic := []byte(topicOfKey(key))
	var acks [][]byte
	highest := map[int32]int64{}
	ackReply := func() error { return readAck(c, ackErrs) }
	for !tr.finished() {
		r, ok, err := popAfterAcks(c, acks, ackReply, "ARROW.BLPOP", key, "1", "COUNT", arrowCount)
		if err != nil {
			return err
		}
		acks = acks[:0]
		if !ok {
			continue
		}
		parts, offs, err := decodeArrowReply(mem, r.Str)
		if err != nil {
			return err
		}
		if err := tr.markBatch(parts, offs); err != nil {
			return err
		}
		clear(highest)
		for i, p := range parts {
			if h, ok := highest[p]; !ok || offs[i] > h {
				highest[p] = offs[i]
			}
		}
		for p, off := range highest {
			acks = append(acks, appendAck(nil, string(topic), int64(p), off))
		}
	}
	return sendAcks(c, acks, ackErrs)
}

// topicOfKey is the topic of a single-topic key topics:<t>[:<json>].
func topicOfKey(key string) string {
	rest := key[len("topics:"):]
	if i := bytes.IndexByte([]byte(rest), ':'); i >= 0 {
		return rest[:i]
	}
	return rest
}

// decodeArrowReply reads an ARROW.BLPOP reply (one IPC stream) and returns
// the partition and offset of every row.
func decodeArrowReply(mem memory.Allocator, b string) ([]int32, []int64, error) {
	rd, err := ipc.NewReader(strings.NewReader(b), ipc.WithAllocator(mem))
	if err != nil {
		return nil, nil, fmt.Errorf("ARROW.BLPOP reply is not an Arrow stream: %w", err)
	}
	defer rd.Release()
	var parts []int32
	var offs []int64
	for rd.Next() {
		p, o, err := partitionsAndOffsets(rd.RecordBatch())
		if err != nil {
			return nil, nil, err
		}
		parts, offs = append(parts, p...), append(offs, o...)
	}
	if err := rd.Err(); err != nil {
		return nil, nil, fmt.Errorf("read Arrow stream: %w", err)
	}
	return parts, offs, nil
}

// partitionsAndOffsets returns the partition and offset columns of a batch.
func partitionsAndOffsets(rec arrow.RecordBatch) ([]int32, []int64, error) {
	pi := rec.Schema().FieldIndices("partition")
	oi := rec.Schema().FieldIndices("offset")
	if len(pi) != 1 || len(oi) != 1 {
		return nil, nil, errors.New("batch lacks the partition or offset column")
	}
	pc, ok1 := rec.Column(pi[0]).(*array.Int32)
	oc, ok2 := rec.Column(oi[0]).(*array.Int64)
	if !ok1 || !ok2 {
		return nil, nil, errors.New("partition or offset column has an unexpected type")
	}
	return append([]int32(nil), pc.Int32Values()...), append([]int64(nil), oc.Int64Values()...), nil
}

// flightRead reads the whole topic through rafka's Flight service: one
// GetFlightInfo, then DoGet of every endpoint in parallel.
func flightRead(ctx context.Context, addr, topic string, tr *tracker) error {
	client, err := flight.NewClientWithMiddleware(addr, nil, nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("create Flight client: %w", err)
	}
	defer client.Close()
	info, err := client.GetFlightInfo(ctx, &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{topic}})
	if err != nil {
		return fmt.Errorf("GetFlightInfo: %w", err)
	}
	errs := make(chan error, len(info.Endpoint))
	var wg sync.WaitGroup
	for _, ep := range info.Endpoint {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- doGet(ctx, client, ep.Ticket, tr)
		}()
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// doGet redeems one ticket and marks every row it returns.
func doGet(ctx context.Context, client flight.Client, t *flight.Ticket, tr *tracker) error {
	stream, err := client.DoGet(ctx, t)
	if err != nil {
		return fmt.Errorf("DoGet: %w", err)
	}
	rd, err := flight.NewRecordReader(stream)
	if err != nil {
		return fmt.Errorf("DoGet stream: %w", err)
	}
	defer rd.Release()
	for rd.Next() {
		p, o, err := partitionsAndOffsets(rd.RecordBatch())
		if err != nil {
			return err
		}
		if err := tr.markBatch(p, o); err != nil {
			return err
		}
	}
	if err := rd.Err(); err != nil {
		return fmt.Errorf("DoGet stream: %w", err)
	}
	return nil
}
