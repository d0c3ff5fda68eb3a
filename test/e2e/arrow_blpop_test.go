package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"rafka/server"
)

// arrowRow is one decoded row of an ARROW.BLPOP reply.
type arrowRow struct {
	partition int32
	offset    int64
	value     string
}

// decodeArrow reads an ARROW.BLPOP reply: exactly one IPC stream with one
// batch.
func decodeArrow(t *testing.T, r reply) ([]string, []arrowRow) {
	t.Helper()
	if r.Kind != '$' {
		t.Fatalf("ARROW.BLPOP reply is not a bulk string: %s", r)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rd, err := ipc.NewReader(strings.NewReader(r.Str), ipc.WithAllocator(mem))
	if err != nil {
		t.Fatalf("not an Arrow IPC stream: %v", err)
	}
	defer rd.Release()
	var cols []string
	for _, f := range rd.Schema().Fields() {
		cols = append(cols, f.Name)
	}
	if !rd.Next() {
		t.Fatalf("no batch: %v", rd.Err())
	}
	rec := rd.RecordBatch()
	var rows []arrowRow
	idx := func(name string) int {
		if i := rec.Schema().FieldIndices(name); len(i) > 0 {
			return i[0]
		}
		return -1
	}
	for i := 0; i < int(rec.NumRows()); i++ {
		var row arrowRow
		if c := idx("partition"); c >= 0 {
			row.partition = rec.Column(c).(*array.Int32).Value(i)
		}
		if c := idx("offset"); c >= 0 {
			row.offset = rec.Column(c).(*array.Int64).Value(i)
		}
		if c := idx("value"); c >= 0 {
			row.value = string(rec.Column(c).(*array.Binary).Value(i))
		}
		rows = append(rows, row)
	}
	if rd.Next() {
		t.Fatal("more than one batch in an ARROW.BLPOP reply")
	}
	return cols, rows
}

func produceN(t *testing.T, topic string, partition int32, n int, size int) []string {
	t.Helper()
	values := make([]string, n)
	for i := range values {
		v := fmt.Sprintf("m%04d-", i)
		values[i] = v + strings.Repeat("x", max(0, size-len(v)))
	}
	produceDirect(t, topic, partition, values...)
	return values
}

// TestArrowBLPOP covers COUNT, MAXBYTES, COLUMNS, consecutive batches with
// no gap or repeat, acks and the ACK option, timeouts and errors.
func TestArrowBLPOP(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	ts := startServer(t, func(c *server.Config) { c.Allocator = mem })
	topic := newTopic(t, 1)
	group := uniqueName(t, "g")
	values := produceN(t, topic, 0, 60, 100)
	key := "topics:" + topic

	c := ts.dial(t)
	c.expect("(error) CONS Connection not ready. Identify yourself using `CLIENT SETNAME` first", "ARROW.BLPOP", key, "1")
	c.expect("OK", "CLIENT", "SETNAME", group+":w")
	c.expect("(error) ERR syntax error", "ARROW.BLPOP", key, "1", "COUNT")
	c.expect("(error) ERR COUNT must be an integer from 1 to 1000000", "ARROW.BLPOP", key, "1", "COUNT", "0")
	c.expect("(error) ERR timeout is not a float or out of range", "ARROW.BLPOP", key, "-2")
	c.expect("(error) ERR wrong number of arguments for 'arrow.blpop' command", "ARROW.BLPOP", key)
	r := c.do("ARROW.BLPOP", key, "1", "COLUMNS", "value,nope")
	if !r.IsErr(`ERR unknown column "nope"`) {
		t.Fatalf("unknown column: %s", r)
	}

	var got []arrowRow
	// The first batch: COUNT 7 (waits for the group to form).
	waitFor(t, 30*time.Second, "first batch", func() bool {
		r := c.do("ARROW.BLPOP", key, "1", "COUNT", "7", "LINGER", "200")
		if r.Null {
			return false
		}
		cols, rows := decodeArrow(t, r)
		if len(cols) != 8 || len(rows) != 7 {
			t.Fatalf("first batch: columns %v, %d rows (want 8 columns, 7 rows)", cols, len(rows))
		}
		got = append(got, rows...)
		return true
	})
	// MAXBYTES bounds what a batch holds: a row's Arrow size and the
	// message held for it (a 100-byte value: some 440 bytes, so MAXBYTES
	// 300 is one row; by the Arrow size alone it was three).
	cols, rows := decodeArrow(t, c.do("ARROW.BLPOP", key, "1", "MAXBYTES", "300", "COLUMNS", "offset,value", "LINGER", "200"))
	if strings.Join(cols, ",") != "value,offset" || len(rows) != 1 {
		t.Fatalf("MAXBYTES 300: columns %v, %d rows", cols, len(rows))
	}
	got = append(got, rows...)
	// The rest in batches of 10, with the ACK option on the last ones.
	for len(got) < len(values) {
		args := []string{"ARROW.BLPOP", key, "2", "COUNT", "10", "LINGER", "200", "COMPRESSION", "zstd"}
		if len(got) >= 40 {
			args = append(args, "ACK")
		}
		r := c.do(args...)
		if r.Null {
			t.Fatalf("timed out after %d of %d rows", len(got), len(values))
		}
		_, rows := decodeArrow(t, r)
		if len(rows) > 10 {
			t.Fatalf("COUNT 10 returned %d rows", len(rows))
		}
		got = append(got, rows...)
	}
	for i, row := range got {
		if row.offset != int64(i) || row.value != values[i] {
			t.Fatalf("row %d: offset %d value %.8q (a skip or a repeat)", i, row.offset, row.value)
		}
	}
	if r := c.do("ARROW.BLPOP", key, "0.3"); !r.Null {
		t.Fatalf("empty topic: %s", r)
	}
	// BLPOP shares the consumer; a different topic set is refused.
	if r := c.do("BLPOP", key, "0.1"); !r.Null {
		t.Fatalf("BLPOP after the end: %s", r)
	}
	if r := c.do("ARROW.BLPOP", "topics:other", "0.1"); !r.IsErr("CONS Client '") {
		t.Fatalf("different topics: %s", r)
	}
	c.expect("OK", "QUIT")
	waitFor(t, 15*time.Second, "ACK committed the last batch", func() bool {
		return committed(t, group, topic, 1)[0] == int64(len(values))
	})
	s := ts.stat(t, "arrow.blpop.rows")
	if s != fmt.Sprint(len(values)) {
		t.Errorf("arrow.blpop.rows = %s, want %d", s, len(values))
	}
	ts.shutdown(t)
	mem.AssertSize(t, 0)
}

// TestArrowBLPOPAcks: acking the highest offset of a batch per partition
// commits like BLPOP's acks; unacked batches are redelivered.
func TestArrowBLPOPAcks(t *testing.T) {
	ts := startServer(t)
	topic := newTopic(t, 2)
	group := uniqueName(t, "g")
	produceN(t, topic, 0, 5, 10)
	produceN(t, topic, 1, 5, 10)
	c := ts.dial(t)
	c.expect("OK", "CLIENT", "SETNAME", group+":w")
	var rows []arrowRow
	waitFor(t, 30*time.Second, "ten rows", func() bool {
		r := c.do("ARROW.BLPOP", "topics:"+topic, "1", "LINGER", "100")
		if !r.Null {
			_, got := decodeArrow(t, r)
			rows = append(rows, got...)
		}
		return len(rows) >= 10
	})
	high := map[int32]int64{}
	for _, r := range rows {
		high[r.partition] = max(high[r.partition], r.offset)
	}
	// Ack only partition 0's highest offset.
	c.expect("(integer) 1", "RPUSH", "acks", fmt.Sprintf("%s:0:%d", topic, high[0]))
	c.expect("OK", "QUIT")
	waitFor(t, 15*time.Second, "partition 0 committed", func() bool {
		off := committed(t, group, topic, 2)
		_, has1 := off[1]
		return off[0] == 5 && !has1
	})
	again := ts.dial(t)
	again.expect("OK", "CLIENT", "SETNAME", group+":w")
	var redelivered []arrowRow
	waitFor(t, 30*time.Second, "partition 1 redelivered", func() bool {
		r := again.do("ARROW.BLPOP", "topics:"+topic, "1", "LINGER", "100")
		if !r.Null {
			_, got := decodeArrow(t, r)
			redelivered = append(redelivered, got...)
		}
		return len(redelivered) >= 5
	})
	for _, r := range redelivered {
		if r.partition != 1 {
			t.Fatalf("redelivered %+v from the acked partition", r)
		}
	}
}
