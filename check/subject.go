package check

import (
	"strings"

	"github.com/eventguard/eventguard/config"
)

// Subject returns the registry subject of a record of type typ on topic t,
// by the topic's subject name strategy (Confluent's names):
//
//	topic        → "<topic>-value"   (TopicNameStrategy, the default)
//	record       → "<type>"          (RecordNameStrategy)
//	topic_record → "<topic>-<type>"  (TopicRecordNameStrategy)
//
// typ is ignored under the topic strategy.
func Subject(t config.Topic, typ string) string {
	switch t.SubjectStrategy {
	case config.StrategyRecord:
		return typ
	case config.StrategyTopicRecord:
		return t.Name + "-" + typ
	default:
		return TopicSubject(t.Name)
	}
}

// TopicSubject is the subject of topic under the topic strategy:
// "<topic>-value".
func TopicSubject(topic string) string { return topic + "-value" }

// SubjectAllowed reports whether a record on topic t may carry a schema
// registered under subject: under the topic strategy the subject must be
// "<topic>-value", under topic_record it must start with "<topic>-";
// under record any subject names a record type, so any is allowed.
func SubjectAllowed(t config.Topic, subject string) bool {
	switch t.SubjectStrategy {
	case config.StrategyRecord:
		return true
	case config.StrategyTopicRecord:
		return len(subject) > len(t.Name)+1 && strings.HasPrefix(subject, t.Name+"-")
	default:
		return subject == TopicSubject(t.Name)
	}
}
