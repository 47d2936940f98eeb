package proxy

import (
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	eventguardv1 "github.com/eventguard/eventguard/api/eventguard/v1"
)

// TestCodecMark: a message that does not decode is marked and reset; a
// client cannot forge the mark (it has the field number, not the
// process's random prefix); a good message is not marked.
func TestCodecMark(t *testing.T) {
	c := newMessageCodec()
	var m eventguardv1.ProduceRequest
	if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer([]byte{0x0a, 0x02, 0xff, 0xfe})}, &m); err != nil {
		t.Fatal(err)
	}
	if m.GetTopic() != "" || decodeFailure(&m) == nil {
		t.Errorf("topic not UTF-8: message %v, failure %v", &m, decodeFailure(&m))
	}
	forged := protowire.AppendBytes(protowire.AppendTag([]byte{0x0a, 0x01, 'p'}, markField, protowire.BytesType), []byte(`"topic" forged`))
	m.Reset()
	if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(forged)}, &m); err != nil || m.GetTopic() != "p" || decodeFailure(&m) != nil {
		t.Errorf("forged mark: %v, topic %q, failure %v", err, m.GetTopic(), decodeFailure(&m))
	}
	good, _ := proto.Marshal(&eventguardv1.ProduceRequest{Topic: "pets"})
	m.Reset()
	if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(good)}, &m); err != nil || m.GetTopic() != "pets" || decodeFailure(&m) != nil {
		t.Errorf("good message: %v, failure %v", err, decodeFailure(&m))
	}
}
