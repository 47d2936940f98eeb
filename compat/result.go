package compat

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Level is a registry compatibility level, with Confluent's meaning.
type Level string

// The compatibility levels.
const (
	// Backward: the new version accepts every document the old one did
	// (consumers using the new schema read what was written with the old).
	Backward           Level = "BACKWARD"
	BackwardTransitive Level = "BACKWARD_TRANSITIVE"
	// Forward: the old version accepts every document the new one does
	// (consumers still on the old schema read what the new one writes).
	Forward           Level = "FORWARD"
	ForwardTransitive Level = "FORWARD_TRANSITIVE"
	// Full: both.
	Full           Level = "FULL"
	FullTransitive Level = "FULL_TRANSITIVE"
	// None: any change is allowed.
	None Level = "NONE"
)

// ParseLevel reads a level name, case-insensitively; "" is Backward.
func ParseLevel(s string) (Level, error) {
	if s == "" {
		return Backward, nil
	}
	l := Level(strings.ToUpper(s))
	switch l {
	case Backward, BackwardTransitive, Forward, ForwardTransitive, Full, FullTransitive, None:
		return l, nil
	}
	return "", fmt.Errorf("compatibility level %q: want BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE or NONE", s)
}

// Transitive reports whether l compares a new version with every earlier
// one rather than with the one before it.
func (l Level) Transitive() bool { return strings.HasSuffix(string(l), "_TRANSITIVE") }

// Backward reports whether l asks that the new version accept everything
// the old one accepted.
func (l Level) Backward() bool {
	return strings.HasPrefix(string(l), "BACKWARD") || strings.HasPrefix(string(l), "FULL")
}

// Forward reports whether l asks that the old version accept everything
// the new one accepts.
func (l Level) Forward() bool {
	return strings.HasPrefix(string(l), "FORWARD") || strings.HasPrefix(string(l), "FULL")
}

// Finding codes. They are stable: scripts and docs rely on them. Each names
// the change from the older version to the newer one.
const (
	CodeTypeNarrowed                = "type_narrowed"
	CodeTypeWidened                 = "type_widened"
	CodeRequiredAdded               = "required_added"
	CodeRequiredRemoved             = "required_removed"
	CodePropertyRemovedClosedModel  = "property_removed_closed_model"
	CodePropertyAddedClosedModel    = "property_added_closed_model"
	CodePropertyAddedOpenModel      = "property_added_open_model"
	CodePropertyRemovedOpenModel    = "property_removed_open_model"
	CodeAdditionalPropertiesClosed  = "additional_properties_closed"
	CodeAdditionalPropertiesOpened  = "additional_properties_opened"
	CodeAdditionalPropertiesNarrow  = "additional_properties_narrowed"
	CodeAdditionalPropertiesWidened = "additional_properties_widened"
	CodeEnumValueRemoved            = "enum_value_removed"
	CodeEnumValueAdded              = "enum_value_added"
	CodeEnumAdded                   = "enum_added"
	CodeEnumRemoved                 = "enum_removed"
	CodeMinimumRaised               = "minimum_raised"
	CodeMinimumLowered              = "minimum_lowered"
	CodeMaximumLowered              = "maximum_lowered"
	CodeMaximumRaised               = "maximum_raised"
	CodeMultipleOfChanged           = "multiple_of_changed"
	CodeMinLengthRaised             = "min_length_raised"
	CodeMinLengthLowered            = "min_length_lowered"
	CodeMaxLengthLowered            = "max_length_lowered"
	CodeMaxLengthRaised             = "max_length_raised"
	CodePatternAdded                = "pattern_added"
	CodePatternRemoved              = "pattern_removed"
	CodePatternChanged              = "pattern_changed"
	CodeFormatAdded                 = "format_added"
	CodeFormatRemoved               = "format_removed"
	CodeFormatChanged               = "format_changed"
	CodeMinItemsRaised              = "min_items_raised"
	CodeMinItemsLowered             = "min_items_lowered"
	CodeMaxItemsLowered             = "max_items_lowered"
	CodeMaxItemsRaised              = "max_items_raised"
	CodeUniqueItemsAdded            = "unique_items_added"
	CodeUniqueItemsRemoved          = "unique_items_removed"
	CodeContainsAdded               = "contains_added"
	CodeContainsRemoved             = "contains_removed"
	CodeItemsClosed                 = "additional_items_closed"
	CodeItemsOpened                 = "additional_items_opened"
	CodeMinPropertiesRaised         = "min_properties_raised"
	CodeMinPropertiesLowered        = "min_properties_lowered"
	CodeMaxPropertiesLowered        = "max_properties_lowered"
	CodeMaxPropertiesRaised         = "max_properties_raised"
	CodeDependencyAdded             = "dependent_required_added"
	CodeDependencyRemoved           = "dependent_required_removed"
	CodeBranchesNarrowed            = "branches_narrowed"
	CodeBranchesWidened             = "branches_widened"
	CodeNotAdded                    = "not_added"
	CodeNotRemoved                  = "not_removed"
	CodeConditionAdded              = "condition_added"
	CodeConditionRemoved            = "condition_removed"
	CodePropertyNamesRestricted     = "property_names_restricted"
	CodePropertyNamesRelaxed        = "property_names_relaxed"
	CodeOneOfOverlap                = "one_of_overlap"
	CodeCannotProve                 = "cannot_prove"
)

// Finding is one reason a version may not follow another.
type Finding struct {
	// Path is the JSON pointer into the payload of the documents affected
	// ("" is the whole document; a generated name such as "/x_extra"
	// stands for any property of that kind).
	Path string `json:"path"`
	// SchemaPath is the JSON pointer into the schema where the change is,
	// in SchemaSubject's SchemaVersion (the version the change is in, or a
	// schema it references).
	SchemaPath    string `json:"schema_path"`
	SchemaSubject string `json:"schema_subject,omitempty"`
	SchemaVersion int    `json:"schema_version,omitempty"`
	// Code is one of the Code constants.
	Code string `json:"code"`
	// Breaks says who breaks: "consumers of version N" (they cannot read
	// what producers of the other version write).
	Breaks string `json:"breaks"`
	// BreaksVersion is the N of Breaks: the version whose readers break.
	BreaksVersion int `json:"breaks_version"`
	// Message says what changed, in plain words.
	Message string `json:"message"`
	// Example is a proven counterexample, or nil when none was proven.
	Example json.RawMessage `json:"example,omitempty"`
	// AcceptedBy is the version that accepts Example (the other refuses
	// it); 0 without an example.
	AcceptedBy int `json:"accepted_by,omitempty"`
	// RefusedBy is the version that refuses Example; 0 without an example.
	RefusedBy int `json:"refused_by,omitempty"`
	// Note says why there is no example, when there is none.
	Note string `json:"note,omitempty"`
	// Fix suggests a way out, in words.
	Fix string `json:"fix"`
	// Consumers are the known consumers that read BreaksVersion (filled by
	// the caller; see package contracts).
	Consumers []string `json:"consumers"`
}

// Result is the comparison of two versions of a subject.
type Result struct {
	Subject string `json:"subject"`
	From    int    `json:"from"`
	To      int    `json:"to"`
	Level   Level  `json:"level"`
	// Lenient is set when adding an optional property to an open content
	// model was treated as compatible.
	Lenient    bool      `json:"lenient,omitempty"`
	Compatible bool      `json:"compatible"`
	Findings   []Finding `json:"findings"`
}
