package proxy

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	eventguardv1 "github.com/eventguard/eventguard/api/eventguard/v1"
	"github.com/eventguard/eventguard/produce"
)

// ErrorDomain is the google.rpc.ErrorInfo domain of eventguard's errors.
const ErrorDomain = "eventguard"

// MaxStatusDetailsBytes bounds the encoded google.rpc.Status of a failed
// call, message and details together. It travels in the
// grpc-status-details-bin trailer (the message in grpc-message too), and
// common clients refuse metadata over 8 KiB (grpc-java, gRPC C core). The
// message is cut at 1 KiB and each field violation's field and
// description at 256 and 512 bytes (marked "… (N bytes)"); past the bound
// the ProduceResponse detail is left out first, then field violations from
// the end; ErrorInfo metadata says what was left out. ProduceStream
// responses carry every result in the message body instead.
const MaxStatusDetailsBytes = 4096

// kindCode is the gRPC status code for a failure kind. A client mistake is
// never Unknown or Internal.
func kindCode(k produce.Kind) codes.Code {
	switch k {
	case produce.KindBadRequest, produce.KindInvalid, produce.KindTooLarge:
		return codes.InvalidArgument
	case produce.KindForbidden:
		return codes.PermissionDenied
	case produce.KindNotFound:
		return codes.NotFound
	case produce.KindOverloaded:
		return codes.ResourceExhausted
	case produce.KindUnavailable:
		return codes.Unavailable
	case produce.KindTimeout:
		return codes.DeadlineExceeded
	default:
		return codes.Internal
	}
}

// decodeProduce turns a ProduceRequest into a pipeline request. A request
// the pipeline cannot take at all is an InvalidArgument status naming the
// field. feature is the eventguard-feature metadata, used when the
// request's own feature is empty.
func decodeProduce(in *eventguardv1.ProduceRequest, feature string) (*produce.Request, *status.Status) {
	req := &produce.Request{Topic: in.GetTopic(), Feature: in.GetFeature(), Partial: in.GetPartial()}
	if req.Feature == "" {
		req.Feature = feature
	}
	recs := in.GetRecords()
	req.Records = make([]produce.Record, len(recs))
	for i, r := range recs {
		if len(r.GetValue()) == 0 {
			return nil, badField(produce.CodeMalformedRequest, fmt.Sprintf("records[%d].value", i), fmt.Sprintf("records[%d].value is missing: send the event as JSON text", i))
		}
		rec := produce.Record{Key: r.Key, Value: r.GetValue(), ID: r.GetId(), Type: r.GetType(), SchemaID: int(r.GetSchemaId()), SchemaVersion: int(r.GetSchemaVersion())}
		if hs := r.GetHeaders(); len(hs) > 0 {
			rec.Headers = make([]produce.Header, len(hs))
			for j, h := range hs {
				if h.GetKey() == "" {
					return nil, badField(produce.CodeMalformedRequest, fmt.Sprintf("records[%d].headers[%d].key", i, j), fmt.Sprintf("records[%d].headers[%d] has an empty header name", i, j))
				}
				rec.Headers[j] = produce.Header{Key: h.GetKey(), Value: h.GetValue()}
			}
		}
		req.Records[i] = rec
	}
	return req, nil
}

// badField is an InvalidArgument status with one field violation.
func badField(code, field, msg string) *status.Status {
	msg, field = bounded(msg, maxStatusMessageBytes), bounded(field, maxViolationFieldBytes)
	st, err := status.New(codes.InvalidArgument, msg).WithDetails(
		errorInfo(code),
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: msg, Reason: reason(code)}}},
	)
	if err != nil {
		return status.New(codes.InvalidArgument, msg)
	}
	return st
}

func errorInfo(code string) *errdetails.ErrorInfo {
	return &errdetails.ErrorInfo{Reason: reason(code), Domain: ErrorDomain, Metadata: map[string]string{"code": code}}
}

// reason renders an eventguard error code as an ErrorInfo reason:
// invalid_records becomes INVALID_RECORDS.
func reason(code string) string { return strings.ToUpper(code) }

// encodeResponse renders the pipeline's response; requestID is echoed.
func encodeResponse(resp *produce.Response, requestID string) *eventguardv1.ProduceResponse {
	out := &eventguardv1.ProduceResponse{RequestId: requestID, Results: make([]*eventguardv1.RecordResult, len(resp.Results))}
	for i := range resp.Results {
		res := &resp.Results[i]
		r := &eventguardv1.RecordResult{
			Index:         uint32(res.Index),
			Produced:      res.Produced,
			Subject:       res.Subject,
			SchemaId:      uint32(res.SchemaID),
			SchemaVersion: uint32(res.SchemaVersion),
			EventId:       res.EventID,
		}
		if res.Produced {
			r.Partition, r.Offset = res.Partition, res.Offset
		}
		if d := res.DeadLettered; d != nil {
			r.DeadLettered = &eventguardv1.DeadLettered{Topic: d.Topic, Partition: d.Partition, Offset: d.Offset, Rule: d.Rule, Message: d.Message}
		}
		if e := res.Err; e != nil {
			re := &eventguardv1.RecordError{Code: e.Code, Message: e.Message, Rule: e.Rule, Doc: e.Doc}
			if len(e.Violations) > 0 {
				re.Violations = make([]*eventguardv1.Violation, len(e.Violations))
				for j, v := range e.Violations {
					re.Violations[j] = &eventguardv1.Violation{Path: v.Path, Keyword: v.Keyword, Message: v.Message}
				}
			}
			r.Error = re
		}
		out.Results[i] = r
	}
	for _, w := range resp.Warnings {
		if w.Index >= 0 && w.Index < len(out.Results) {
			out.Results[w.Index].Warnings = append(out.Results[w.Index].Warnings, w.Message)
		}
	}
	for _, n := range resp.Deprecations {
		d := &eventguardv1.DeprecationNotice{Subject: n.Subject, Version: uint32(n.Version), Owner: n.Owner, SunsetPassed: n.Sunsetted}
		if !n.Since.IsZero() {
			d.Since = n.Since.Format(time.DateOnly)
		}
		if !n.Sunset.IsZero() {
			d.Sunset = n.Sunset.Format(time.DateOnly)
		}
		if n.Replacement != nil {
			d.ReplacementSubject, d.ReplacementVersion = n.Replacement.Subject, uint32(n.Replacement.Version)
		}
		out.Deprecations = append(out.Deprecations, d)
	}
	return out
}

// streamError renders a request-level failure for a ProduceStream response.
func streamError(e *produce.Error) *eventguardv1.Error {
	out := &eventguardv1.Error{StatusCode: int32(kindCode(e.Kind)), Code: e.Code, Message: bounded(e.Message, maxStatusMessageBytes)}
	if e.RetryAfter > 0 {
		out.RetryDelay = durationpb.New(e.RetryAfter)
	}
	return out
}

// statusError renders a decoding failure (a status from decodeProduce) for
// a ProduceStream response.
func statusError(st *status.Status) *eventguardv1.Error {
	out := &eventguardv1.Error{StatusCode: int32(st.Code()), Code: produce.CodeMalformedRequest, Message: st.Message()}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			out.Code = info.GetMetadata()["code"]
		}
	}
	return out
}

// responseStatus is the status of a failed Produce call: the code for the
// failure's kind, with details google.rpc.ErrorInfo (reason = the error code
// in upper case, metadata "code" = the code as in HTTP bodies),
// google.rpc.BadRequest (InvalidArgument only: one field violation per
// schema violation, field "records[i].value" followed by the violation's
// JSON pointer, or the offending field for other record errors),
// google.rpc.RetryInfo (when a retry may succeed) and the ProduceResponse
// itself with every per-record result, all within MaxStatusDetailsBytes
// whatever the pipeline's messages hold.
func responseStatus(resp *produce.Response, out *eventguardv1.ProduceResponse) *status.Status {
	e := resp.Err
	code := kindCode(e.Kind)
	out.Error = streamError(e)
	msg := out.Error.Message // bounded
	info := errorInfo(e.Code)
	var bad *errdetails.BadRequest
	if code == codes.InvalidArgument {
		bad = badRequest(e, resp.Results)
	}
	var retry *errdetails.RetryInfo
	if e.RetryAfter > 0 {
		retry = &errdetails.RetryInfo{RetryDelay: durationpb.New(e.RetryAfter)}
	}
	withResults := len(out.Results) > 0 || len(out.Deprecations) > 0

	build := func() *status.Status {
		details := []protoadapt.MessageV1{info}
		if bad != nil {
			details = append(details, bad)
		}
		if retry != nil {
			details = append(details, retry)
		}
		if withResults {
			details = append(details, out)
		}
		st, err := status.New(code, msg).WithDetails(details...)
		if err != nil {
			return status.New(code, msg)
		}
		return st
	}
	st := build()
	if proto.Size(st.Proto()) <= MaxStatusDetailsBytes {
		return st
	}
	if withResults {
		withResults = false
		info.Metadata["results"] = "omitted (over the status size bound); ProduceStream responses carry every result"
		if st = build(); proto.Size(st.Proto()) <= MaxStatusDetailsBytes {
			return st
		}
	}
	if bad != nil && len(bad.FieldViolations) > 1 {
		all := bad.FieldViolations
		info.Metadata["field_violations"] = fmt.Sprintf("first %d of %d", len(all), len(all))
		bad.FieldViolations = nil
		room := MaxStatusDetailsBytes - proto.Size(build().Proto())
		n := 0
		for n < len(all) && room > 0 {
			room -= proto.Size(all[n]) + 4 // tag and length
			if room < 0 {
				break
			}
			n++
		}
		n = max(n, 1)
		bad.FieldViolations = all[:n]
		info.Metadata["field_violations"] = fmt.Sprintf("first %d of %d", n, len(all))
		st = build()
	}
	if proto.Size(st.Proto()) > MaxStatusDetailsBytes {
		// Cannot happen with the bounds above; the last line of defence
		// should a detail grow: the code, the message and ErrorInfo.
		if bad != nil {
			info.Metadata["field_violations"] = "omitted (over the status size bound)"
		}
		bad, retry = nil, nil
		st = build()
	}
	return st
}

// badRequest lists the field violations of an InvalidArgument failure: per
// record and schema violation "records[i].value" + its JSON pointer, or
// the record field a non-schema error is about; for request-level failures
// the request field.
func badRequest(e *produce.Error, results []produce.Result) *errdetails.BadRequest {
	bad := &errdetails.BadRequest{}
	add := func(field, code, desc string) {
		bad.FieldViolations = append(bad.FieldViolations, &errdetails.BadRequest_FieldViolation{
			Field:       bounded(field, maxViolationFieldBytes),
			Description: bounded(desc, maxViolationDescBytes),
			Reason:      reason(code),
		})
	}
	for i := range results {
		re := results[i].Err
		if re == nil {
			continue
		}
		idx := results[i].Index
		if len(re.Violations) > 0 {
			for _, v := range re.Violations {
				add(fmt.Sprintf("records[%d].value%s", idx, v.Path), re.Code, v.Keyword+": "+v.Message)
			}
			continue
		}
		add(fmt.Sprintf("records[%d]%s", idx, recordField(re.Code)), re.Code, re.Message)
	}
	if len(bad.FieldViolations) == 0 {
		add(requestField(e.Code), e.Code, e.Message)
	}
	return bad
}

// recordField names the record field a record error code is about.
func recordField(code string) string {
	switch code {
	case produce.CodeValueTooLarge:
		return ".value"
	case produce.CodeReservedHeader:
		return ".headers"
	case produce.CodeInvalidEventID:
		return ".id"
	case produce.CodeKeyRequired:
		return ".key"
	case produce.CodeTypeRequired:
		return ".type"
	case produce.CodeConflictingPins:
		return ".schema_id"
	default:
		return ""
	}
}

// requestField names the request field a request-level code is about.
func requestField(code string) string {
	switch code {
	case produce.CodeInvalidTopic:
		return "topic"
	case produce.CodeInvalidFeature:
		return "feature"
	default:
		return "records"
	}
}
