package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestStreamsGoRedis drives every stream command through go-redis's typed
// stream API, over RESP2 and RESP3, and checks the replies field by field.
func TestStreamsGoRedis(t *testing.T) {
	ts := startServer(t)
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			rdb := redis.NewClient(&redis.Options{Addr: ts.addr, Protocol: proto})
			defer rdb.Close()
			// One partition: the IDs then follow the order of the XADDs.
			stream, group := newTopic(t, 1), uniqueName(t, "gg")
			if err := rdb.XGroupCreateMkStream(ctx, stream, group, "$").Err(); err != nil {
				t.Fatalf("XGroupCreateMkStream: %v", err)
			}
			if err := rdb.XGroupCreate(ctx, stream, group, "$").Err(); err == nil || err.Error() != "BUSYGROUP Consumer Group name already exists" {
				t.Errorf("XGroupCreate again: %v", err)
			}
			var ids []string
			for i := range 3 {
				id, err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []string{"payload", fmt.Sprint("v", i), "n", fmt.Sprint(i)}}).Result()
				if err != nil {
					t.Fatalf("XAdd: %v", err)
				}
				ids = append(ids, id)
			}
			if n, err := rdb.XLen(ctx, stream).Result(); err != nil || n != 3 {
				t.Errorf("XLen: %d %v", n, err)
			}
			msgs, err := rdb.XRange(ctx, stream, "-", "+").Result()
			if err != nil || len(msgs) != 3 || msgs[0].ID != ids[0] || msgs[0].Values["payload"] != "v0" || msgs[2].Values["n"] != "2" {
				t.Errorf("XRange: %+v %v", msgs, err)
			}
			if rev, err := rdb.XRevRangeN(ctx, stream, "+", "-", 1).Result(); err != nil || len(rev) != 1 || rev[0].ID != ids[2] {
				t.Errorf("XRevRangeN: %+v %v", rev, err)
			}
			rs, err := rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{stream, "0"}, Count: 2}).Result()
			if err != nil || len(rs) != 1 || rs[0].Stream != stream || len(rs[0].Messages) != 2 {
				t.Errorf("XRead: %+v %v", rs, err)
			}
			// The stream's partitions' records may come in more than one
			// reply.
			var read []redis.XMessage
			for len(read) < 3 {
				got, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: group, Consumer: "c1", Streams: []string{stream, ">"}, Count: 10, Block: 5 * time.Second}).Result()
				if err != nil || len(got) != 1 || got[0].Stream != stream {
					t.Fatalf("XReadGroup: %+v %v", got, err)
				}
				read = append(read, got[0].Messages...)
			}
			values := map[string]string{}
			for _, m := range read {
				values[m.ID] = m.Values["payload"].(string)
			}
			if len(read) != 3 || values[ids[1]] != "v1" {
				t.Fatalf("XReadGroup read %+v", read)
			}
			if _, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: group, Consumer: "c1", Streams: []string{stream, ">"}, Block: 100 * time.Millisecond}).Result(); err != redis.Nil {
				t.Errorf("XReadGroup of nothing: %v, want redis.Nil", err)
			}
			p, err := rdb.XPending(ctx, stream, group).Result()
			if err != nil || p.Count != 3 || p.Lower != ids[0] || p.Higher != ids[2] || p.Consumers["c1"] != 3 {
				t.Errorf("XPending: %+v %v", p, err)
			}
			ext, err := rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: stream, Group: group, Start: "-", End: "+", Count: 10}).Result()
			if err != nil || len(ext) != 3 || ext[0].Consumer != "c1" || ext[0].RetryCount != 1 {
				t.Errorf("XPendingExt: %+v %v", ext, err)
			}
			claimed, err := rdb.XClaim(ctx, &redis.XClaimArgs{Stream: stream, Group: group, Consumer: "c2", MinIdle: 0, Messages: []string{ids[0]}}).Result()
			if err != nil || len(claimed) != 1 || claimed[0].Values["payload"] != "v0" {
				t.Errorf("XClaim: %+v %v", claimed, err)
			}
			auto, start, err := rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: stream, Group: group, Consumer: "c2", MinIdle: 0, Start: "0-0", Count: 10}).Result()
			if err != nil || len(auto) != 3 || start != "0-0" {
				t.Errorf("XAutoClaim: %+v %q %v", auto, start, err)
			}
			groups, err := rdb.XInfoGroups(ctx, stream).Result()
			if err != nil || len(groups) != 1 || groups[0].Name != group || groups[0].Pending != 3 || groups[0].LastDeliveredID != ids[2] {
				t.Errorf("XInfoGroups: %+v %v", groups, err)
			}
			consumers, err := rdb.XInfoConsumers(ctx, stream, group).Result()
			if err != nil || len(consumers) != 2 {
				t.Errorf("XInfoConsumers: %+v %v", consumers, err)
			}
			info, err := rdb.XInfoStream(ctx, stream).Result()
			if err != nil || info.Length != 3 || info.LastGeneratedID != ids[2] || info.FirstEntry.ID != ids[0] || info.LastEntry.ID != ids[2] {
				t.Errorf("XInfoStream: %+v %v", info, err)
			}
			if n, err := rdb.XAck(ctx, stream, group, ids...).Result(); err != nil || n != 3 {
				t.Errorf("XAck: %d %v", n, err)
			}
			if n, err := rdb.XGroupDestroy(ctx, stream, group).Result(); err != nil || n != 1 {
				t.Errorf("XGroupDestroy: %d %v", n, err)
			}
		})
	}
}

// TestStreamsRedisPy drives every served stream command through redis-py's
// typed stream API (test/python/streams_check.py), over RESP2 and RESP3.
func TestStreamsRedisPy(t *testing.T) {
	python := venvPython(t)
	ts := startServer(t)
	for _, proto := range []string{"2", "3"} {
		t.Run("RESP"+proto, func(t *testing.T) {
			runPython(t, python, ts, 2*time.Minute, "streams_check.py", "--stream", newTopic(t, 1), "--protocol", proto)
		})
	}
}
