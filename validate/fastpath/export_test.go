package fastpath

import (
	"encoding/json"

	"github.com/eventguard/eventguard/internal/jsonvalue"
)

// CheckValue is Check for a value in the form jsonvalue.Parse returns, as
// the differential tests hold them (the reference validates that form):
// the value is written as JSON and decoded into a Doc. A value the strict
// decoder would refuse, or one encoding/json cannot write, is Unknown.
func (v *Validator) CheckValue(doc any) Result {
	b, err := json.Marshal(doc)
	if err != nil {
		return Unknown
	}
	d, err := jsonvalue.ParseDoc(b, jsonvalue.Limits{})
	if err != nil {
		return Unknown
	}
	return v.Check(d)
}
