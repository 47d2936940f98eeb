// Package corpus generates the benchmark's payloads: valid OrderPlaced
// events (examples/contracts/orders-OrderPlaced, version 1) that differ in
// ids, tenants, times, amounts, item counts and size, so that no two
// values of a corpus are the same. Repeated values would flatter every
// mode that compresses a batch (the direct producer most), so every mode
// of kbench writes the same corpus.
//
// It also compiles the contract with santhosh-tekuri/jsonschema v6 the
// way an app without eventguard would (Schema), and bundles it into one
// document for peers that cannot follow a registry reference (Bundled).
package corpus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/eventguard/eventguard/examples"
)

// Sizes of the generated events, in bytes of compact JSON.
const (
	MinBytes = 512
	MaxBytes = 4096
)

const (
	schemaPath   = "contracts/orders-OrderPlaced/1/schema.json"
	envelopePath = "contracts/pos-envelope/1/schema.json"
	// envelopeRef is the name orders-OrderPlaced v1 references the
	// envelope by (its references.json).
	envelopeRef = "pos-envelope.json"
)

// order is an OrderPlaced event, fields in the order of the golden files.
type order struct {
	EventID     string  `json:"event_id"`
	EventType   string  `json:"event_type"`
	TenantID    string  `json:"tenant_id"`
	OccurredAt  string  `json:"occurred_at"`
	Version     int     `json:"version"`
	OrderID     string  `json:"order_id"`
	CustomerID  *string `json:"customer_id"`
	TotalAmount string  `json:"total_amount"`
	OrderType   string  `json:"order_type"`
	Items       []item  `json:"items"`
}

type item struct {
	SKU       string `json:"sku"`
	Quantity  int    `json:"quantity"`
	UnitPrice string `json:"unit_price"`
}

var (
	orderTypes = []string{"dine_in", "takeout", "delivery"}
	products   = []string{"LATTE-L", "CROISSANT", "ESPRESSO-DBL", "CAPPUCCINO-M", "FLAT-WHITE", "PAIN-AU-CHOC",
		"BAGEL-SESAME", "CREAM-CHEESE", "OAT-MILK-ADD", "MUFFIN-BLUEB", "ORANGE-JUICE", "GRANOLA-BOWL", "MATCHA-LATTE",
		"CHAI-LATTE-S", "SCONE-CHEDDAR", "AMERICANO-L", "BANANA-BREAD", "SPARKLING-WATER", "CLUB-SANDWICH", "SOUP-OF-DAY"}
	epoch = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
)

// OrderPlaced returns n distinct OrderPlaced events as compact JSON, the
// same n events for the same seed. Their sizes are spread evenly over
// [MinBytes, MaxBytes] (the target size of each drawn uniformly, then met
// by the number of items); every id is random, the total is the sum of
// the items, and no two events are equal.
func OrderPlaced(n int, seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, 0x6576656e74677561)) // "eventgua"
	out := make([][]byte, 0, n)
	seen := make(map[string]bool, n)
	for len(out) < n {
		b := one(rng, MinBytes+rng.IntN(MaxBytes-MinBytes+1))
		if seen[string(b)] || len(b) < MinBytes || len(b) > MaxBytes {
			continue // cannot happen with random ids, but the promise is checked
		}
		seen[string(b)] = true
		out = append(out, b)
	}
	return out
}

// one builds an event of about target bytes (never more than MaxBytes).
func one(rng *rand.Rand, target int) []byte {
	o := order{
		EventID:    uuid(rng),
		EventType:  "OrderPlaced",
		TenantID:   fmt.Sprintf("cafe-%d", 1+rng.IntN(500)),
		OccurredAt: epoch.Add(time.Duration(rng.Int64N(int64(90 * 24 * time.Hour)))).Truncate(time.Second).Format(time.RFC3339),
		Version:    1,
		OrderID:    uuid(rng),
		OrderType:  orderTypes[rng.IntN(len(orderTypes))],
	}
	if rng.IntN(4) > 0 {
		c := fmt.Sprintf("cust-%09d", rng.IntN(1e9))
		o.CustomerID = &c
	}
	var cents int
	var last []byte
	for {
		it := item{
			SKU:       fmt.Sprintf("%s-%d", products[rng.IntN(len(products))], rng.IntN(1000)),
			Quantity:  1 + rng.IntN(5),
			UnitPrice: "",
		}
		price := 50 + rng.IntN(2000)
		it.UnitPrice = money(price)
		o.Items = append(o.Items, it)
		cents += price * it.Quantity
		o.TotalAmount = money(cents)
		b, err := json.Marshal(o)
		if err != nil {
			panic(err) // plain strings and ints: cannot fail
		}
		if len(b) > MaxBytes && last != nil {
			return last
		}
		if len(b) >= target {
			return b
		}
		last = b
	}
}

func money(cents int) string { return fmt.Sprintf("%d.%02d", cents/100, cents%100) }

// uuid returns a random version-4 UUID.
func uuid(rng *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Schema compiles orders-OrderPlaced version 1 with its reference as an
// app would with jsonschema v6 alone: formats asserted, the reference
// added as a resource, nothing fetched.
func Schema() (*jsonschema.Schema, error) {
	main, env, err := docs()
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	c.UseLoader(noLoader{})
	const base = "mem://contracts/"
	if err := c.AddResource(base+"orders-OrderPlaced.json", main); err != nil {
		return nil, fmt.Errorf("add orders-OrderPlaced: %w", err)
	}
	if err := c.AddResource(base+envelopeRef, env); err != nil {
		return nil, fmt.Errorf("add %s: %w", envelopeRef, err)
	}
	s, err := c.Compile(base + "orders-OrderPlaced.json")
	if err != nil {
		return nil, fmt.Errorf("compile orders-OrderPlaced: %w", err)
	}
	return s, nil
}

// Bundled returns orders-OrderPlaced version 1 as one JSON document: the
// "$ref" to the envelope replaced by the envelope schema itself (without
// its "$schema"), for a validator that reads one schema by id and follows
// no registry reference (Kroxylicious's RecordValidation).
func Bundled() ([]byte, error) {
	main, env, err := docs()
	if err != nil {
		return nil, err
	}
	m, ok := main.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s is not an object", schemaPath)
	}
	e, ok := env.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s is not an object", envelopePath)
	}
	delete(e, "$schema")
	all, ok := m["allOf"].([]any)
	if !ok {
		return nil, fmt.Errorf("%s: no allOf holding the envelope reference", schemaPath)
	}
	replaced := false
	for i, s := range all {
		if r, ok := s.(map[string]any); ok && r["$ref"] == envelopeRef {
			all[i], replaced = e, true
		}
	}
	if !replaced {
		return nil, fmt.Errorf("%s: no $ref %q to replace", schemaPath, envelopeRef)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return bytes.TrimSpace(b.Bytes()), nil
}

// docs reads the contract's schema and its reference's.
func docs() (main, env any, err error) {
	read := func(p string) (any, error) {
		b, err := examples.Contracts.ReadFile(p)
		if err != nil {
			return nil, err
		}
		d, err := jsonschema.UnmarshalJSON(strings.NewReader(string(b)))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		return d, nil
	}
	if main, err = read(schemaPath); err != nil {
		return nil, nil, err
	}
	if env, err = read(envelopePath); err != nil {
		return nil, nil, err
	}
	return main, env, nil
}

// noLoader refuses every URL: the schemas are all added as resources.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("no schema is fetched, not even %s", url)
}
