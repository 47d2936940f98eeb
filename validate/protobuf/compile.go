package protobuf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/reporter"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// MainFile is the file name the registry's schema text is compiled under;
// its references are compiled under their names (the import paths).
const MainFile = "eventguard/registry/schema.proto"

// ValidateImport is buf.validate's import path. Its descriptor is built in
// (protovalidate's own), whether or not a reference supplies it.
const ValidateImport = "buf/validate/validate.proto"

// maxIndexDepth bounds the message-index array of the wire format: the
// nesting of the message named.
const maxIndexDepth = 32

// Schema is a compiled Protobuf schema: immutable and safe for concurrent
// use.
type Schema struct {
	file  protoreflect.FileDescriptor
	files *protoregistry.Files
	types *dynamicpb.Types
	// messages holds every message of the file in declaration order
	// (depth first); messages[0] is the first top-level message.
	messages []*message
	byName   map[string]*message
	// validator enforces buf.validate rules; nil when no file imports
	// buf/validate/validate.proto.
	validator protovalidate.Validator
	// required is set when a message the schema can hold has proto2
	// required fields (checked on marshal and unmarshal; proto3 has none,
	// and skipping the check halves dynamicpb's marshalling cost).
	required bool
	// fast holds every message the schema can hold, prepared for the
	// fast encoder (fast.go).
	fast map[protoreflect.FullName]*fastMsg
}

// message is one message of the schema's file.
type message struct {
	desc protoreflect.MessageDescriptor
	// indexes is the message's wire-format message-index array, encoded.
	indexes []byte
}

// File returns the compiled file descriptor of the schema.
func (s *Schema) File() protoreflect.FileDescriptor { return s.file }

// Files returns the schema's file and every file it imports.
func (s *Schema) Files() *protoregistry.Files { return s.files }

// Validates reports whether buf.validate rules are enforced.
func (s *Schema) Validates() bool { return s.validator != nil }

// Compile compiles schema, the .proto text of a registry subject version,
// with refs: the text of every file it imports (directly or not) by import
// path, as its Confluent references name them. The well-known types
// (google/protobuf/*.proto) and buf/validate/validate.proto are built in.
// When any file imports buf/validate/validate.proto, its rules are enforced
// by Encode and Decode.
func Compile(ctx context.Context, schema string, refs map[string]string) (*Schema, error) {
	if _, ok := refs[MainFile]; ok {
		return nil, fmt.Errorf("a reference may not be named %s", MainFile)
	}
	validateFile := validatepb.File_buf_validate_validate_proto
	var res protocompile.Resolver = protocompile.ResolverFunc(func(path string) (protocompile.SearchResult, error) {
		switch {
		case path == MainFile:
			return protocompile.SearchResult{Source: strings.NewReader(schema)}, nil
		case path == ValidateImport:
			return protocompile.SearchResult{Desc: validateFile}, nil
		}
		if src, ok := refs[path]; ok {
			return protocompile.SearchResult{Source: io.NopCloser(strings.NewReader(src))}, nil
		}
		return protocompile.SearchResult{}, fmt.Errorf("import %q is not among the schema's references: %w", path, protoregistry.NotFound)
	})
	var errs []error
	c := protocompile.Compiler{
		Resolver:       protocompile.WithStandardImports(res),
		MaxParallelism: 1,
		Reporter: reporter.NewReporter(func(err reporter.ErrorWithPos) error {
			if len(errs) < 10 {
				errs = append(errs, err)
			}
			return nil
		}, nil),
	}
	files, err := c.Compile(ctx, MainFile)
	if err != nil {
		if len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
		return nil, err
	}
	// The linker's descriptors are rebuilt as protodesc's (the runtime's
	// own implementation): dynamicpb and protojson run about twice as fast
	// on them. Built-in files keep the descriptors linked into the binary.
	s := &Schema{files: new(protoregistry.Files), byName: map[string]*message{}}
	usesValidate := false
	seen := map[string]bool{}
	var register func(f protoreflect.FileDescriptor) error
	register = func(f protoreflect.FileDescriptor) error {
		if seen[f.Path()] {
			return nil
		}
		seen[f.Path()] = true
		imps := f.Imports()
		for i := 0; i < imps.Len(); i++ {
			if err := register(imps.Get(i).FileDescriptor); err != nil {
				return err
			}
		}
		var native protoreflect.FileDescriptor
		switch {
		case f.Path() == ValidateImport:
			usesValidate = true
			native = validateFile
		case f.Path() != MainFile && refs[f.Path()] == "":
			// A standard import: the runtime's own descriptor.
			if g, err := protoregistry.GlobalFiles.FindFileByPath(f.Path()); err == nil {
				native = g
			}
		}
		if native == nil {
			var err error
			if native, err = protodesc.NewFile(protodesc.ToFileDescriptorProto(f), s.files); err != nil {
				return fmt.Errorf("%s: %w", f.Path(), err)
			}
		}
		return s.files.RegisterFile(native)
	}
	if err := register(files[0]); err != nil {
		return nil, fmt.Errorf("register compiled files: %w", err)
	}
	fd, err := s.files.FindFileByPath(MainFile)
	if err != nil {
		return nil, err
	}
	s.file = fd
	s.types = dynamicpb.NewTypes(s.files)
	var walk func(msgs protoreflect.MessageDescriptors, path []int)
	walk = func(msgs protoreflect.MessageDescriptors, path []int) {
		for i := 0; i < msgs.Len(); i++ {
			md := msgs.Get(i)
			if md.IsMapEntry() {
				continue
			}
			p := append(append([]int(nil), path...), i)
			m := &message{desc: md, indexes: appendIndexes(nil, p)}
			s.messages = append(s.messages, m)
			s.byName[string(md.FullName())] = m
			walk(md.Messages(), p)
		}
	}
	walk(fd.Messages(), nil)
	s.required = hasRequired(fd.Messages(), map[protoreflect.FullName]bool{})
	s.fast = map[protoreflect.FullName]*fastMsg{}
	for _, m := range s.messages {
		fastMsgs(m.desc, s.fast)
	}
	if len(s.messages) == 0 {
		return nil, errors.New("the schema defines no message")
	}
	// Simple names, where they are unique in the file.
	count := map[protoreflect.Name]int{}
	for _, m := range s.messages {
		count[m.desc.Name()]++
	}
	for _, m := range s.messages {
		if count[m.desc.Name()] == 1 {
			if _, taken := s.byName[string(m.desc.Name())]; !taken {
				s.byName[string(m.desc.Name())] = m
			}
		}
	}
	if usesValidate {
		v, err := protovalidate.New(protovalidate.WithExtensionTypeResolver(s.types))
		if err != nil {
			return nil, fmt.Errorf("buf.validate: %w", err)
		}
		// Compile every message's rules now: a rule that does not
		// compile fails the schema, not a record.
		for _, m := range s.messages {
			if err := v.Validate(dynamicpb.NewMessage(m.desc)); err != nil {
				var ce *protovalidate.CompilationError
				if errors.As(err, &ce) {
					return nil, fmt.Errorf("buf.validate rules of %s: %w", m.desc.FullName(), err)
				}
			}
		}
		s.validator = v
	}
	return s, nil
}

// Message returns the message a record names: name is a fully qualified
// name ("acme.orders.v1.OrderPlaced", a leading dot allowed), a simple name
// unique in the file ("OrderPlaced"), or "" for the first message.
func (s *Schema) message(name string) (*message, error) {
	if name == "" {
		return s.messages[0], nil
	}
	if m, ok := s.byName[strings.TrimPrefix(name, ".")]; ok {
		return m, nil
	}
	return nil, fmt.Errorf("the schema has no message %q (%s)", name, s.messageList())
}

func (s *Schema) messageList() string {
	var names []string
	for _, m := range s.messages {
		names = append(names, string(m.desc.FullName()))
	}
	sort.Strings(names)
	if len(names) > 10 {
		names = append(names[:10], "...")
	}
	return strings.Join(names, ", ")
}

// MessageNames lists the fully qualified names of the file's messages, in
// declaration order (depth first).
func (s *Schema) MessageNames() []string {
	names := make([]string, len(s.messages))
	for i, m := range s.messages {
		names[i] = string(m.desc.FullName())
	}
	return names
}

// FileDescriptorProto returns the schema's file as a descriptor proto (what
// Confluent's registry serves for ?format=serialized, base64-encoded).
func (s *Schema) FileDescriptorProto() *descriptorpb.FileDescriptorProto {
	return protodescToProto(s.file)
}

// appendIndexes appends Confluent's message-index array: the count and the
// indexes as zigzag varints, or the single byte 0 for [0].
func appendIndexes(dst []byte, path []int) []byte {
	if len(path) == 1 && path[0] == 0 {
		return append(dst, 0)
	}
	dst = appendZigzag(dst, int64(len(path)))
	for _, i := range path {
		dst = appendZigzag(dst, int64(i))
	}
	return dst
}

func appendZigzag(dst []byte, v int64) []byte {
	u := uint64(v<<1) ^ uint64(v>>63)
	for u >= 0x80 {
		dst = append(dst, byte(u)|0x80)
		u >>= 7
	}
	return append(dst, byte(u))
}

// hasRequired reports whether any of msgs, or a message their fields hold,
// has a required field.
func hasRequired(msgs protoreflect.MessageDescriptors, seen map[protoreflect.FullName]bool) bool {
	for i := 0; i < msgs.Len(); i++ {
		if hasRequiredMsg(msgs.Get(i), seen) {
			return true
		}
	}
	return false
}

func hasRequiredMsg(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool) bool {
	if seen[md.FullName()] {
		return false
	}
	seen[md.FullName()] = true
	if md.RequiredNumbers().Len() > 0 {
		return true
	}
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		if m := fields.Get(i).Message(); m != nil && hasRequiredMsg(m, seen) {
			return true
		}
	}
	return hasRequired(md.Messages(), seen)
}
