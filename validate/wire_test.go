package validate_test

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/eventguard/eventguard/validate"
)

func TestFrameUnframe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		id    int
		value string
		want  []byte // the frame header
	}{
		{"id 1", 1, `{"a":1}`, []byte{0, 0, 0, 0, 1}},
		{"id 0", 0, `{}`, []byte{0, 0, 0, 0, 0}},
		{"big endian", 0x01020304, `[]`, []byte{0, 1, 2, 3, 4}},
		{"max int32", math.MaxInt32, `1`, []byte{0, 0x7f, 0xff, 0xff, 0xff}},
		{"max uint32", math.MaxUint32, `1`, []byte{0, 0xff, 0xff, 0xff, 0xff}},
		{"empty value", 7, ``, []byte{0, 0, 0, 0, 7}},
		{"whitespace kept", 7, " {\n \"a\" : 1 }\n", []byte{0, 0, 0, 0, 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			framed := validate.Frame(tt.id, []byte(tt.value))
			if want := append(append([]byte{}, tt.want...), tt.value...); !bytes.Equal(framed, want) {
				t.Fatalf("Frame = %x, want %x", framed, want)
			}
			// Byte for byte what franz-go's own serde writes.
			var h sr.ConfluentHeader
			ref, err := h.AppendEncode(nil, tt.id, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(framed[:validate.WireHeaderLen], ref) {
				t.Errorf("header %x differs from sr.ConfluentHeader's %x", framed[:validate.WireHeaderLen], ref)
			}
			prefix := []byte("keep")
			if got := validate.AppendFrame(prefix, tt.id, []byte(tt.value)); !bytes.Equal(got, append([]byte("keep"), framed...)) {
				t.Errorf("AppendFrame = %x, want the prefix then %x", got, framed)
			}
			id, payload, err := validate.Unframe(framed)
			if err != nil {
				t.Fatalf("Unframe: %v", err)
			}
			if id != tt.id || string(payload) != tt.value {
				t.Errorf("Unframe = %d %q, want %d %q", id, payload, tt.id, tt.value)
			}
		})
	}
}

func TestUnframeNotWireFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []byte
		msg  string
	}{
		{"nil", nil, "0 bytes, want at least 5"},
		{"empty", []byte{}, "0 bytes, want at least 5"},
		{"only the magic byte", []byte{0}, "1 bytes, want at least 5"},
		{"four bytes", []byte{0, 0, 0, 1}, "4 bytes, want at least 5"},
		{"plain JSON", []byte(`{"a":1}`), "first byte is 0x7b, want 0x00"},
		{"magic byte 1", []byte{1, 0, 0, 0, 1, '{', '}'}, "first byte is 0x01, want 0x00"},
		{"short and wrong magic", []byte{0xff}, "first byte is 0xff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id, payload, err := validate.Unframe(tt.in)
			if !errors.Is(err, validate.ErrNotWireFormat) {
				t.Fatalf("err = %v, want ErrNotWireFormat", err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %q, want it to say %q", err, tt.msg)
			}
			if id != 0 || payload != nil {
				t.Errorf("got id %d payload %q with the error", id, payload)
			}
		})
	}
}

func TestUnframeAliases(t *testing.T) {
	t.Parallel()
	b := validate.Frame(9, []byte("xyz"))
	_, payload, err := validate.Unframe(b)
	if err != nil {
		t.Fatal(err)
	}
	b[5] = 'X'
	if string(payload) != "Xyz" {
		t.Errorf("payload %q does not alias the input", payload)
	}
}

func FuzzUnframe(f *testing.F) {
	for _, s := range [][]byte{nil, {0}, {0, 0, 0, 0}, {0, 0, 0, 0, 1}, {0, 0, 0, 0, 7, '{', '}'}, {1, 0, 0, 0, 1}, {0, 0xff, 0xff, 0xff, 0xff, 'x'}, []byte(`{"a":1}`)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		id, payload, err := validate.Unframe(b)
		if err != nil {
			if !errors.Is(err, validate.ErrNotWireFormat) {
				t.Fatalf("error %v is not ErrNotWireFormat", err)
			}
			if len(b) >= validate.WireHeaderLen && b[0] == 0 {
				t.Fatalf("refused a well-formed frame %x: %v", b, err)
			}
			return
		}
		if len(b) < validate.WireHeaderLen || b[0] != 0 {
			t.Fatalf("accepted %x", b)
		}
		if id < 0 || id > math.MaxUint32 {
			t.Fatalf("id %d out of range", id)
		}
		if !bytes.Equal(validate.Frame(id, payload), b) {
			t.Fatalf("Frame(Unframe(%x)) = %x", b, validate.Frame(id, payload))
		}
	})
}
