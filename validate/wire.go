package validate

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/sr"
)

// WireHeaderLen is the length of the Confluent wire-format header: the magic
// byte 0 and a 4-byte big-endian schema id.
const WireHeaderLen = 5

// ErrNotWireFormat is returned by Unframe for bytes that do not start with the
// Confluent wire-format header.
var ErrNotWireFormat = errors.New("not in Confluent wire format")

// AppendFrame appends the wire-format header for schema id and then value to
// dst, returning the extended slice.
func AppendFrame(dst []byte, id int, value []byte) []byte {
	dst = append(dst, 0, byte(id>>24), byte(id>>16), byte(id>>8), byte(id))
	return append(dst, value...)
}

// Frame returns a new slice holding the wire-format header and value.
func Frame(id int, value []byte) []byte {
	return AppendFrame(make([]byte, 0, WireHeaderLen+len(value)), id, value)
}

// Unframe splits wire-format bytes into the schema id and the payload. The
// payload aliases b.
func Unframe(b []byte) (id int, payload []byte, err error) {
	var h sr.ConfluentHeader
	id, payload, err = h.DecodeID(b)
	if err != nil {
		if len(b) > 0 && b[0] != 0 {
			return 0, nil, fmt.Errorf("%w: first byte is 0x%02x, want 0x00", ErrNotWireFormat, b[0])
		}
		return 0, nil, fmt.Errorf("%w: %d bytes, want at least %d", ErrNotWireFormat, len(b), WireHeaderLen)
	}
	return id, payload, nil
}
