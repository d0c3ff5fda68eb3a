package consumer

// A consumer that librdkafka has put in a fatal state (for example fenced
// by another member with the same group.instance.id) cannot be closed with
// confluent-kafka-go v2.11.1: its Close asks librdkafka to close the group,
// librdkafka refuses in the fatal state, and Close then waits forever for a
// close that never started (fixed upstream after this release, by
// destroying such a handle without the group close). The newest release on
// the module proxy here is v2.11.1, so destroy does what that fix does, on
// the handle the library keeps in unexported fields. It is used only for a
// consumer whose poll loop has ended and which nothing calls again.

/*
typedef struct rd_kafka_s rd_kafka_t;
typedef struct rd_kafka_queue_s rd_kafka_queue_t;
typedef struct rd_kafka_topic_s rd_kafka_topic_t;
void rd_kafka_queue_destroy(rd_kafka_queue_t *rkqu);
void rd_kafka_topic_destroy(rd_kafka_topic_t *rkt);
void rd_kafka_destroy_flags(rd_kafka_t *rk, int flags);
#define RAFKA_DESTROY_F_NO_CONSUMER_CLOSE 0x8
*/
import "C"

import (
	"fmt"
	"reflect"
	"unsafe"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// destroyFatal frees a fatal consumer's librdkafka handle (its threads and
// memory) without the group close librdkafka refuses in that state. It
// returns an error, and frees nothing, if the client library's layout is not
// the one this was written against.
func destroyFatal(kc *kafka.Consumer) error {
	h := reflect.ValueOf(kc).Elem().FieldByName("handle")
	if !h.IsValid() || h.Kind() != reflect.Struct {
		return fmt.Errorf("kafka.Consumer has no handle field")
	}
	rk, rkq, rkts := h.FieldByName("rk"), h.FieldByName("rkq"), h.FieldByName("rktCache")
	if rk.Kind() != reflect.Pointer || rkq.Kind() != reflect.Pointer || rkts.Kind() != reflect.Map {
		return fmt.Errorf("kafka.Consumer's handle has an unexpected layout")
	}
	if rk.IsNil() {
		return fmt.Errorf("kafka.Consumer is already closed")
	}
	// With go.logs.channel.enable a goroutine of the library polls the
	// handle's log queue: destroying under it would be a use after free.
	if logs := h.FieldByName("logs"); !logs.IsValid() || logs.Kind() != reflect.Chan || !logs.IsNil() {
		return fmt.Errorf("kafka.Consumer forwards logs to a channel; its handle cannot be destroyed safely")
	}
	if events := reflect.ValueOf(kc).Elem().FieldByName("eventsChanEnable"); !events.IsValid() || events.Kind() != reflect.Bool || events.Bool() {
		return fmt.Errorf("kafka.Consumer reads events into a channel; its handle cannot be destroyed safely")
	}
	// The same steps as the library's own Close after the fix: mark it
	// closed, free the queue and the topic handles, destroy without the
	// consumer close.
	if closed := reflect.ValueOf(kc).Elem().FieldByName("isClosed"); closed.IsValid() && closed.Kind() == reflect.Uint32 {
		*(*uint32)(unsafe.Pointer(closed.UnsafeAddr())) = 1
	}
	if !rkq.IsNil() {
		C.rd_kafka_queue_destroy((*C.rd_kafka_queue_t)(rkq.UnsafePointer()))
		*(*unsafe.Pointer)(unsafe.Pointer(rkq.UnsafeAddr())) = nil
	}
	for it := rkts.MapRange(); it.Next(); {
		C.rd_kafka_topic_destroy((*C.rd_kafka_topic_t)(it.Value().UnsafePointer()))
	}
	C.rd_kafka_destroy_flags((*C.rd_kafka_t)(rk.UnsafePointer()), C.RAFKA_DESTROY_F_NO_CONSUMER_CLOSE)
	*(*unsafe.Pointer)(unsafe.Pointer(rk.UnsafeAddr())) = nil
	return nil
}
