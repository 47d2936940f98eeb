package compat

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// corpusPair is one schema pair of the differential corpus.
type corpusPair struct {
	name     string
	old, new string
}

// differentialCorpus is the hand-written rule cases plus 200 generated
// mutation pairs.
func differentialCorpus() []corpusPair {
	var out []corpusPair
	for _, tc := range ruleCases {
		if tc.lenient {
			continue
		}
		out = append(out, corpusPair{name: "rule/" + tc.name, old: tc.old, new: tc.new})
	}
	for seed := uint64(1); seed <= 200; seed++ {
		old, new := mutatedPair(seed)
		out = append(out, corpusPair{name: fmt.Sprintf("mutation/%d", seed), old: old, new: new})
	}
	return out
}

// Why Apicurio's verdict differs from eventguard's (docs/compatibility.md,
// "Differences from Apicurio").
const (
	whyNoOpKeyword  = "Apicurio compares keywords, not accepted documents: a keyword added that accepts everything it applies to (minLength 0, minItems 0, multipleOf 1 on integers, an anyOf that every value already matched) counts as a change"
	whyEquivalent   = "Apicurio compares keywords: the same integer bound written another way (exclusiveMinimum 0 for minimum 1) counts as a change"
	whyCombinator   = "Apicurio refuses an added combinator (allOf, not, if/then/else) even where it only narrows the new version, which FORWARD allows"
	whyUnevaluated  = "Apicurio ignores unevaluatedProperties: closing a model with it is not seen"
	whyPrefixItems  = "Apicurio ignores prefixItems (2020-12): a shortened tuple is not seen"
	whyRecursiveRef = "Apicurio does not follow a root $ref into a recursive $defs schema: a change inside it is not seen"
	whyOneOf        = "Apicurio does not check that oneOf branches exclude each other: a value matching two branches is refused by oneOf"
	whyTypeRemoved  = "Apicurio misses a removed type keyword (the property then accepts every type)"
	whyEnumConst    = "Apicurio compares enum lists: an enum extended while a new const narrows it to one value counts as widening"
)

// knownDisagreements are the pairs where Apicurio's verdict differs from
// eventguard's for a reason above. Where eventguard says breaking, its proven
// counterexample shows it; where it says compatible, the probe documents of
// checkPair found nothing either version tells apart.
var knownDisagreements = map[string]string{
	"rule/model closed by unevaluatedProperties BACKWARD": whyUnevaluated,
	"rule/integer bounds equal in another form BACKWARD":  whyEquivalent,
	"rule/integer bounds equal in another form FORWARD":   whyEquivalent,
	"rule/prefixItems tuple shortened BACKWARD":           whyPrefixItems,
	"rule/recursive $defs narrowed deep BACKWARD":         whyRecursiveRef,
	"rule/oneOf branches may overlap BACKWARD":            whyOneOf,
	"rule/allOf constraint added FORWARD":                 whyCombinator,
	"rule/not added FORWARD":                              whyCombinator,
	"rule/if-then-else added FORWARD":                     whyCombinator,
	"mutation/1 BACKWARD":                                 whyNoOpKeyword,
	"mutation/1 FORWARD":                                  whyNoOpKeyword,
	"mutation/8 BACKWARD":                                 whyNoOpKeyword,
	"mutation/16 BACKWARD":                                whyNoOpKeyword,
	"mutation/38 BACKWARD":                                whyNoOpKeyword,
	"mutation/46 BACKWARD":                                whyNoOpKeyword,
	"mutation/46 FORWARD":                                 whyNoOpKeyword,
	"mutation/63 FORWARD":                                 whyNoOpKeyword,
	"mutation/68 FORWARD":                                 whyNoOpKeyword,
	"mutation/78 BACKWARD":                                whyNoOpKeyword,
	"mutation/88 BACKWARD":                                whyNoOpKeyword,
	"mutation/121 FORWARD":                                whyNoOpKeyword,
	"mutation/124 BACKWARD":                               whyNoOpKeyword,
	"mutation/126 BACKWARD":                               whyNoOpKeyword,
	"mutation/136 BACKWARD":                               whyNoOpKeyword,
	"mutation/143 BACKWARD":                               whyNoOpKeyword,
	"mutation/144 BACKWARD":                               whyNoOpKeyword,
	"mutation/162 BACKWARD":                               whyNoOpKeyword,
	"mutation/163 FORWARD":                                whyEnumConst,
	"mutation/173 FORWARD":                                whyNoOpKeyword,
	"mutation/192 BACKWARD":                               whyNoOpKeyword,
	"mutation/193 FORWARD":                                whyTypeRemoved,
}

// TestApicurioDifferential checks every corpus pair with eventguard's checker
// and with Apicurio Registry's /compatibility endpoint (APICURIO_URL, its
// Confluent API base, as test/registry/apicurio.sh env prints it), at
// BACKWARD and FORWARD, and reports the agreement rate. A disagreement not
// listed in knownDisagreements fails the test.
func TestApicurioDifferential(t *testing.T) {
	url := os.Getenv("APICURIO_URL")
	if url == "" {
		if os.Getenv("EVENTGUARD_NEED_APICURIO") != "" {
			t.Fatal("APICURIO_URL is not set: test/run-e2e.sh runs the differential test against Apicurio (test/registry/apicurio.sh)")
		}
		t.Skip("APICURIO_URL is not set (test/registry/apicurio.sh up; eval $(test/registry/apicurio.sh env))")
	}
	cl := &apicurio{base: strings.TrimRight(url, "/"), hc: &http.Client{Timeout: 60 * time.Second}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	run := time.Now().UnixNano()
	type check struct {
		p      corpusPair
		ours   map[Level]*Result
		theirs map[Level]bool
		err    error
	}
	var checks []*check
	for _, p := range differentialCorpus() {
		c := &check{p: p, ours: map[Level]*Result{}}
		for _, lvl := range []Level{Backward, Forward} {
			c.ours[lvl] = compare(t, p.old, p.new, lvl, false)
		}
		checks = append(checks, c)
	}
	// Apicurio's verdicts, four pairs at a time.
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				c := checks[i]
				c.theirs, c.err = cl.verdicts(ctx, fmt.Sprintf("eg-diff-%d-%d", run, i), c.p)
			}
		}()
	}
	for i := range checks {
		work <- i
	}
	close(work)
	wg.Wait()
	total, agree := 0, 0
	var unexplained, explained []string
	for _, c := range checks {
		if c.err != nil {
			t.Fatalf("%s: %v", c.p.name, c.err)
		}
		for _, lvl := range []Level{Backward, Forward} {
			ours, theirs := c.ours[lvl].Compatible, c.theirs[lvl]
			total++
			if ours == theirs {
				agree++
				continue
			}
			key := c.p.name + " " + string(lvl)
			line := fmt.Sprintf("%s: eventguard %s, Apicurio %s", key, verdictWord(ours), verdictWord(theirs))
			why, ok := knownDisagreements[key]
			if !ok {
				unexplained = append(unexplained, line+"\n  old "+c.p.old+"\n  new "+c.p.new)
				continue
			}
			explained = append(explained, line+": "+why)
			if !ours && !provenBreak(c.ours[lvl]) {
				t.Errorf("%s: eventguard says breaking against Apicurio without a proven counterexample", key)
			}
		}
	}
	sort.Strings(explained)
	for _, l := range explained {
		t.Log("known disagreement: " + l)
	}
	t.Logf("agreement with Apicurio: %d of %d checks (%.1f%%), %d known disagreements, %d unexplained", agree, total, 100*float64(agree)/float64(total), len(explained), len(unexplained))
	fmt.Printf("differential: agreement with Apicurio %d/%d (%.1f%%)\n", agree, total, 100*float64(agree)/float64(total))
	for _, l := range unexplained {
		t.Errorf("unexplained disagreement: %s", l)
	}
}

// provenBreak reports whether a breaking result has a proven counterexample.
func provenBreak(r *Result) bool {
	for _, f := range r.Findings {
		if f.Example != nil {
			return true
		}
	}
	return false
}

func verdictWord(compatible bool) string {
	if compatible {
		return "compatible"
	}
	return "breaking"
}

// apicurio is the part of Apicurio's Confluent API the differential test
// uses, over plain HTTP (one request per step; the sr client reads back
// after each registration, which doubles the calls).
type apicurio struct {
	base string
	hc   *http.Client
}

func (a *apicurio) do(ctx context.Context, method, path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	resp, err := a.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, rb)
	}
	if out != nil {
		return json.Unmarshal(rb, out)
	}
	return nil
}

// verdicts registers p.old under subject and asks whether p.new is
// compatible with it at BACKWARD, then at FORWARD (the subject's own level,
// so the global level other tests may rely on is left alone).
func (a *apicurio) verdicts(ctx context.Context, subject string, p corpusPair) (map[Level]bool, error) {
	if err := a.do(ctx, http.MethodPost, "/subjects/"+subject+"/versions", map[string]string{"schema": p.old, "schemaType": "JSON"}, nil); err != nil {
		return nil, fmt.Errorf("register old: %w", err)
	}
	out := map[Level]bool{}
	for _, lvl := range []Level{Backward, Forward} {
		if err := a.do(ctx, http.MethodPut, "/config/"+subject, map[string]string{"compatibility": string(lvl)}, nil); err != nil {
			return nil, fmt.Errorf("set compatibility: %w", err)
		}
		var res struct {
			Is bool `json:"is_compatible"`
		}
		if err := a.do(ctx, http.MethodPost, "/compatibility/subjects/"+subject+"/versions/latest", map[string]string{"schema": p.new, "schemaType": "JSON"}, &res); err != nil {
			return nil, fmt.Errorf("check compatibility: %w", err)
		}
		out[lvl] = res.Is
	}
	return out, nil
}
