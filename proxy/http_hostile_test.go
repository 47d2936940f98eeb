package proxy_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/internal/jsonvalue"
	"github.com/eventguard/eventguard/internal/testutil"
	"github.com/eventguard/eventguard/produce"
	"github.com/eventguard/eventguard/proxy"
	"github.com/eventguard/eventguard/validate"
)

// deepValues are values nested past the strict decoder's 128 levels: just
// past the decoder's stack of 256, and far past it with objects and arrays
// mixed and a string holding brackets.
var deepValues = []string{
	strings.Repeat("[", 300) + strings.Repeat("]", 300),
	strings.Repeat(`{"a":[`, 5000) + `"]}"` + strings.Repeat("]}", 5000),
}

// TestHTTPDeepValuePerRecord: a value nested too deeply is the record's
// malformed_json (too_deep) at any depth, never the whole request's 400; with
// partial the valid records are produced (issue 10, item 2).
func TestHTTPDeepValuePerRecord(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, nil, func(c *config.Config) { c.Limits.MaxValueBytes = 60000 }, produce.Options{})
	body := `{"records":[` + hRec(hPetV2) + "," + hRec(deepValues[0]) + "," + hRec(deepValues[1]) + "," + hRec(hPetV2) + `]`

	w := e.do(t, hReq{path: "/v1/topics/pets/records", body: body + `}`})
	r := hWantError(t, w, http.StatusUnprocessableEntity, produce.CodeInvalidRecords)
	wantTooDeep(t, r, 1, 2)
	if n := e.flushedCount(t, "pets"); n != 0 {
		t.Errorf("%d records produced by an all-or-nothing request with invalid records", n)
	}

	w = e.do(t, hReq{path: "/v1/topics/pets/records", body: body + `,"partial":true}`})
	if w.Code != http.StatusMultiStatus {
		t.Fatalf("partial: status %d, want 207\n%.500s", w.Code, w.Body)
	}
	r = hDecode(t, w)
	wantTooDeep(t, r, 1, 2)
	for _, i := range []int{0, 3} {
		if res := r.Results[i]; res.Error != nil || res.Offset == nil {
			t.Errorf("partial: valid record %d not produced: %+v", i, res)
		}
	}
	if n := e.flushedCount(t, "pets"); n != 2 {
		t.Errorf("partial: %d records in the topic, want the 2 valid ones", n)
	}
}

func wantTooDeep(t *testing.T, r hResponse, idx ...int) {
	t.Helper()
	if len(r.Results) != 4 {
		t.Fatalf("%d results, want 4", len(r.Results))
	}
	for _, i := range idx {
		res := r.Results[i]
		if res.Error == nil || res.Error.Code != validate.CodeMalformedJSON || len(res.Error.Violations) != 1 || res.Error.Violations[0].Keyword != jsonvalue.CodeTooDeep {
			t.Errorf("record %d: %+v, want malformed_json too_deep", i, res.Error)
		}
	}
}

// TestHTTPExplicitZeroPin: over HTTP an explicit 0 (or -0) schema id or
// version is refused with 400 naming the field, not taken as "latest"
// (issue 10, item 11).
func TestHTTPExplicitZeroPin(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, nil, nil, produce.Options{})
	for _, c := range []struct{ pin, field string }{
		{`"schema_version":0`, "records[1].schema_version must be 1 or more, got 0"},
		{`"schema_version":-0`, "records[1].schema_version must be 1 or more, got -0"},
		{`"schema_id":0`, "records[1].schema_id must be 1 or more, got 0"},
	} {
		w := e.do(t, hReq{path: "/v1/topics/pets/records", body: `{"records":[` + hRec(hPetV2) + "," + hRec(hPetV2, c.pin) + `]}`})
		r := hWantError(t, w, http.StatusBadRequest, produce.CodeMalformedRequest)
		if !strings.Contains(r.Error.Message, c.field) {
			t.Errorf("%s: message %q, want it to name %q", c.pin, r.Error.Message, c.field)
		}
	}
	if n := e.flushedCount(t, "pets"); n != 0 {
		t.Errorf("%d records produced", n)
	}
}

// TestHTTPFeatureHeaderOnce: the feature header sent twice (or as a list)
// is invalid_feature, not its first value; Content-Type sent twice is 415
// (issue 10, item 11).
func TestHTTPFeatureHeaderOnce(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, nil, nil, produce.Options{})
	for _, c := range []struct {
		name   string
		header http.Header
		status int
		code   string
	}{
		{"two feature lines", http.Header{"Content-Type": {"application/json"}, proxy.FeatureHeader: {"billing", "other"}}, 400, produce.CodeInvalidFeature},
		{"a feature list", http.Header{"Content-Type": {"application/json"}, proxy.FeatureHeader: {"billing, other"}}, 400, produce.CodeInvalidFeature},
		{"two content types", http.Header{"Content-Type": {"application/json", "text/plain"}}, 415, produce.CodeUnsupportedMedia},
		{"one of each", http.Header{"Content-Type": {"application/json"}, proxy.FeatureHeader: {"billing"}}, 200, ""},
	} {
		req := httptest.NewRequest(http.MethodPost, "/v1/topics/pets/records", strings.NewReader(`{"records":[`+hRec(hPetV2)+`]}`))
		req.Header = c.header
		w := httptest.NewRecorder()
		e.handler.ServeHTTP(w, req)
		if c.code == "" {
			if w.Code != c.status {
				t.Errorf("%s: status %d, want %d\n%s", c.name, w.Code, c.status, w.Body)
			}
			continue
		}
		hWantError(t, w, c.status, c.code)
	}
	if n := e.flushedCount(t, "pets"); n != 1 {
		t.Errorf("%d records produced, want the 1 with one feature", n)
	}
}

// TestHTTPEchoesBounded: a client-sent string quoted in an error answer (an
// unknown field name, a duplicate header name, a number, the Content-Type,
// the method and path) is cut to a bounded prefix with its length, so an
// answer never grows with the request (issue 10, item 5's class).
func TestHTTPEchoesBounded(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, nil, nil, produce.Options{})
	long := strings.Repeat("k", 20_000)
	for _, c := range []struct {
		name   string
		req    hReq
		status int
		code   string
	}{
		{"unknown request field", hReq{path: "/v1/topics/pets/records", body: `{"` + long + `":1}`}, 400, produce.CodeMalformedRequest},
		{"unknown record field", hReq{path: "/v1/topics/pets/records", body: `{"records":[{"value":1,"` + long + `":1}]}`}, 400, produce.CodeMalformedRequest},
		{"header twice", hReq{path: "/v1/topics/pets/records", body: `{"records":[{"value":1,"headers":{"` + long + `":"a","` + long + `":"b"}}]}`}, 400, produce.CodeMalformedRequest},
		{"a long number", hReq{path: "/v1/topics/pets/records", body: `{"records":[{"value":1,"schema_id":` + strings.Repeat("9", 20_000) + `}]}`}, 400, produce.CodeMalformedRequest},
		{"content type", hReq{path: "/v1/topics/pets/records", contentType: "text/" + long, body: `{}`}, 415, produce.CodeUnsupportedMedia},
		{"path", hReq{path: "/v2/" + long, body: `{}`}, 404, "no_route"},
		{"method", hReq{method: "X" + strings.ToUpper(long), path: "/v1/topics/pets/records"}, 405, "method_not_allowed"},
	} {
		w := e.do(t, c.req)
		r := hWantError(t, w, c.status, c.code)
		if len(r.Error.Message) > 600 || !strings.Contains(r.Error.Message, "bytes)") {
			t.Errorf("%s: message of %d bytes: %.200q", c.name, len(r.Error.Message), r.Error.Message)
		}
	}
}

// TestHTTPReferenceCycleUnusable: a record whose schema is {"$ref":"#"} is
// unusable_schema (the schema's fault), not the value's schema_violation
// (issue 10, item 12).
func TestHTTPReferenceCycleUnusable(t *testing.T) {
	t.Parallel()
	st := testutil.Start(t)
	st.Register(t, "loop-value", `{"$ref":"#"}`)
	e := newHTTPEnv(t, st, func(c *config.Config) { c.Topics = append(c.Topics, config.Topic{Name: "loop"}) }, produce.Options{})
	r := hWantError(t, e.post(t, "loop", hRec(`{"a":1}`)), http.StatusUnprocessableEntity, produce.CodeInvalidRecords)
	if res := r.Results[0]; res.Error == nil || res.Error.Code != produce.CodeUnusableSchema || !strings.Contains(res.Error.Message, "reference cycle") {
		t.Errorf("record 0: %+v, want unusable_schema naming the reference cycle", res.Error)
	}
}

// TestHTTPNumberBeyondFloat64: a number that consumers parsing doubles
// would read as Infinity or 0 is the record's malformed_json number_range;
// the largest double passes (issue 10, item 12; decision 0014).
func TestHTTPNumberBeyondFloat64(t *testing.T) {
	t.Parallel()
	e := newHTTPEnv(t, nil, nil, produce.Options{})
	with := func(n string) string {
		return strings.Replace(hPetV2, `"net_weight_grams":4210`, `"net_weight_grams":`+n, 1)
	}
	w := e.do(t, hReq{path: "/v1/topics/pets/records", body: `{"partial":true,"records":[` + hRec(with("1e400")) + "," + hRec(with("-1e-400")) + "," + hRec(with("1e308")) + `]}`})
	if w.Code != http.StatusMultiStatus {
		t.Fatalf("status %d, want 207\n%s", w.Code, w.Body)
	}
	r := hDecode(t, w)
	for i, want := range []string{jsonvalue.CodeNumberRange, jsonvalue.CodeNumberRange, ""} {
		res := r.Results[i]
		if want == "" {
			if res.Error != nil {
				t.Errorf("record %d: %+v, want produced", i, res.Error)
			}
			continue
		}
		if res.Error == nil || res.Error.Code != validate.CodeMalformedJSON || len(res.Error.Violations) != 1 || res.Error.Violations[0].Keyword != want || res.Error.Violations[0].Path != "/net_weight_grams" {
			t.Errorf("record %d: %+v, want malformed_json %s at /net_weight_grams", i, res.Error, want)
		}
	}
}
