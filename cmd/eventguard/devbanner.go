package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/eventguard/eventguard/config"
	"github.com/eventguard/eventguard/contracts"
)

// devExample is what the eventguard dev banner shows how to produce.
type devExample struct {
	// Topic is produced to.
	Topic string
	// Header is an extra curl header line ("" for none).
	Header string
	// Valid is a request body that passes, Invalid one that is refused
	// ("" when there is no invalid golden payload).
	Valid, Invalid string
	// From says where the example comes from, Note what to do about it
	// ("" for nothing).
	From, Note string
}

// petsExample is the README's walk through, on the embedded contracts.
var petsExample = devExample{
	Topic:   "pets",
	Header:  "-H 'Eventguard-Feature: weight-sync'",
	Valid:   `{"records":[{"key":"pet-42","value":{"event_type":"pet.weight.updated.v2","pet_id":"pet-42","device_id":"bowl-7f3a","net_weight_grams":4210,"tare_weight_grams":380,"measured_at":"2026-11-02T08:15:00Z","source":"sensor"}}]}`,
	Invalid: `{"records":[{"key":"pet-42","value":{"event_type":"pet.weight.updated.v2","pet_id":"pet-42","net_weight_grams":"4210"}}]}`,
	From:    "the example contracts",
}

// contractsExample builds the banner's example from the first subject of
// set (folder order) that a topic can produce to under cfg: <topic>-value
// (any topic, in dev), or a configured topic's record or topic_record
// strategy; its latest version's first valid golden payload is the value
// ({} when it has none) and its first invalid one the refused example.
func contractsExample(set *contracts.Set, cfg *config.Config, dir string) devExample {
	for _, sub := range set.Subjects {
		topic, typ, ok := topicFor(sub.Name, cfg)
		if !ok {
			continue
		}
		v := sub.Versions[len(sub.Versions)-1]
		ex := devExample{Topic: topic, From: fmt.Sprintf("%s, subject %s version %d", dir, sub.Name, v.Version)}
		valid, invalid := firstGolden(v.Valid), firstGolden(v.Invalid)
		if valid == "" {
			valid = "{}"
			ex.Note = fmt.Sprintf("%s/%d has no golden payload in valid/: replace {} with an event", sub.Name, v.Version)
		}
		ex.Valid = requestBody(valid, typ)
		if invalid != "" {
			ex.Invalid = requestBody(invalid, typ)
		}
		return ex
	}
	return devExample{From: dir, Note: fmt.Sprintf("no subject of %s can be produced to: name a subject <topic>-value, or add a topic with the record or topic_record strategy with --config", dir)}
}

// topicFor returns the topic a record of subject is produced to under cfg,
// and the record type to send with it ("" for the topic strategy): a
// configured topic whose subject it is (topic strategy, then
// topic_record), any topic when it is <topic>-value and cfg allows any
// topic, else the first topic using the record strategy.
func topicFor(subject string, cfg *config.Config) (topic, typ string, ok bool) {
	for _, t := range cfg.Topics {
		if t.SubjectStrategy == config.StrategyTopic && subject == t.Name+"-value" {
			return t.Name, "", true
		}
	}
	for _, t := range cfg.Topics {
		if rest, found := strings.CutPrefix(subject, t.Name+"-"); found && rest != "" && t.SubjectStrategy == config.StrategyTopicRecord {
			return t.Name, rest, true
		}
	}
	if name, found := strings.CutSuffix(subject, "-value"); found && kafkaTopicName.MatchString(name) && cfg.AllowAnyTopic {
		return name, "", true
	}
	for _, t := range cfg.Topics {
		if t.SubjectStrategy == config.StrategyRecord {
			return t.Name, subject, true
		}
	}
	return "", "", false
}

// firstGolden returns the first golden payload by file name, compacted,
// or "" when there is none or it is not JSON.
func firstGolden(files map[string][]byte) string {
	names := make([]string, 0, len(files))
	for f := range files {
		names = append(names, f)
	}
	slices.SortFunc(names, func(a, b string) int { return strings.Compare(path.Base(a), path.Base(b)) })
	for _, f := range names {
		var b bytes.Buffer
		if json.Compact(&b, files[f]) == nil {
			return b.String()
		}
	}
	return ""
}

// requestBody is a produce request of one record with value (JSON) and,
// when not empty, type.
func requestBody(value, typ string) string {
	rec := `{"value":` + value + `}`
	if typ != "" {
		t, _ := json.Marshal(typ)
		rec = `{"type":` + string(t) + `,"value":` + value + `}`
	}
	return `{"records":[` + rec + `]}`
}

// kafkaTopicName is what Kafka accepts as a topic name.
var kafkaTopicName = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

// shellQuote quotes s for a POSIX shell, in single quotes.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// printDevBanner prints where everything listens and a curl for ex.
func printDevBanner(w io.Writer, cfg *config.Config, addrs map[string]string, ex devExample) {
	web := "http://"
	if cfg.Listen.TLS.CertFile != "" {
		web = "https://"
	}
	at := func(name, scheme string) string {
		if a, ok := addrs[name]; ok {
			return scheme + a
		}
		return "off"
	}
	fmt.Fprintf(w, `
eventguard dev is up.
  Kafka brokers   %s
  registry        %s
  HTTP ingress    %s  (--http)
  gRPC ingress    %s  (--grpc)
  admin           %s  (--admin; /ui /metrics /readyz /healthz /v1/catalog /v1/recent)
`, strings.Join(cfg.Kafka.Brokers, ","), cfg.Registry.URL, at("http", web), at("grpc", ""), at("admin", web))
	httpAddr, ok := addrs["http"]
	if !ok || ex.Topic == "" {
		if ex.Note != "" {
			fmt.Fprintf(w, "\n%s.\n", ex.Note)
		}
		fmt.Fprint(w, "\nCtrl-C stops.\n")
		return
	}
	header := " -H 'Content-Type: application/json'"
	if ex.Header != "" {
		header += " " + ex.Header
	}
	// With listen.auth the curl names where the credentials go, never
	// the token itself.
	creds := ""
	switch cfg.Listen.Auth.Mode {
	case config.AuthToken:
		creds = ` -H "Authorization: Bearer $EVENTGUARD_TOKEN"`
	case config.AuthMTLS:
		creds = " --cacert ca.crt --cert client.crt --key client.key"
	}
	header += creds
	url := fmt.Sprintf("%s%s/v1/topics/%s/records", web, httpAddr, ex.Topic)
	fmt.Fprintf(w, "\nProduce a valid event (%s):\n  curl -sS -X POST %s \\\n   %s \\\n    -d %s\n", ex.From, url, header, shellQuote(ex.Valid))
	if ex.Note != "" {
		fmt.Fprintf(w, "  (%s)\n", ex.Note)
	}
	if ex.Invalid != "" {
		fmt.Fprintf(w, "\nWatch an invalid one be refused (422, nothing produced):\n  curl -sS -X POST %s \\\n    -H 'Content-Type: application/json'%s \\\n    -d %s\n", url, creds, shellQuote(ex.Invalid))
	}
	fmt.Fprintf(w, "\nRead it back:\n  kcat -C -b %s -t %s -e -f '%%k %%h\\n'\n\nCtrl-C stops.\n", strings.Join(cfg.Kafka.Brokers, ","), ex.Topic)
}
