"""Wire compatibility of eventguard with Confluent's own Python client.

Driven by the Go e2e test TestConfluentPythonInterop (test/e2e/interop_test.go),
which starts eventguard against a real broker, produces records through it,
and writes a spec file named by INTEROP_SPEC:

    {"brokers": "127.0.0.1:19092", "registry_url": "http://127.0.0.1:41234",
     "consume": [{"topic", "subject_strategy": "topic"|"topic_record", "subject",
                  "schema_id", "records": [{"key", "event_id", "value"}]}],
     "produce": {"topic", "subject", "count", "out"?}}

Then the Go test checks with eventguard's validate package what
test_json_serializer_records_are_produced wrote. When the produce job names an
"out" file, that test writes there what it produced (key, value bytes in hex,
partition, offset): TestConsumeConfluentPythonRecords (test/e2e/consume_test.go)
runs it alone (-k) and checks that eventguard's consume path delivers exactly
those records to the app. Run alone (without INTEROP_SPEC) every test here is
skipped.
"""

import json
import os
import time
import uuid

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import (
    SchemaRegistryClient,
    topic_record_subject_name_strategy,
    topic_subject_name_strategy,
)
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext, SerializationError

SPEC_PATH = os.environ.get("INTEROP_SPEC")

pytestmark = pytest.mark.skipif(
    not SPEC_PATH,
    reason="INTEROP_SPEC is not set: run through the Go e2e test (make test-e2e, or "
    "go test ./test/e2e -run TestConfluentPythonInterop with KAFKA_BROKERS set)",
)

# The Confluent subject name strategy for each eventguard subject strategy.
STRATEGIES = {
    "topic": topic_subject_name_strategy,
    "topic_record": topic_record_subject_name_strategy,
}

# The headers eventguard stamps on every record it produces.
STAMPED = ("traceparent", "eventguard.feature", "eventguard.event_id", "eventguard.subject", "eventguard.schema_version")


@pytest.fixture(scope="module")
def spec():
    with open(SPEC_PATH, encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="module")
def registry(spec):
    return SchemaRegistryClient({"url": spec["registry_url"]})


def consume(brokers, topic, count, timeout_s=60.0):
    """Reads count records of topic from the start with a new consumer group."""
    consumer = Consumer(
        {
            "bootstrap.servers": brokers,
            "group.id": f"interop-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.subscribe([topic])
        msgs = []
        deadline = time.monotonic() + timeout_s
        while len(msgs) < count and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            assert msg.error() is None, f"consume {topic}: {msg.error()}"
            msgs.append(msg)
        assert len(msgs) == count, f"consumed {len(msgs)} of {count} records of {topic} in {timeout_s}s"
        return msgs
    finally:
        consumer.close()


def test_json_deserializer_decodes_every_eventguard_record(spec, registry):
    """Confluent's JSONDeserializer, with the schema fetched from the registry by
    the id in each record, decodes and validates every record eventguard wrote
    (references included), and the value equals the JSON that was sent."""
    assert spec["consume"], "the spec names no topic to consume"
    for topic in spec["consume"]:
        deserializer = JSONDeserializer(
            None,
            schema_registry_client=registry,
            conf={"subject.name.strategy": STRATEGIES[topic["subject_strategy"]]},
        )
        want = {r["key"]: r for r in topic["records"]}
        for msg in consume(spec["brokers"], topic["topic"], len(want)):
            key = msg.key().decode()
            assert key in want, f"{topic['topic']}: unexpected key {key!r}"
            expected = want.pop(key)
            raw = msg.value()
            assert raw[0] == 0, f"{key}: magic byte {raw[0]}, want 0"
            assert int.from_bytes(raw[1:5], "big") == topic["schema_id"], f"{key}: schema id {raw[1:5].hex()}"
            ctx = SerializationContext(msg.topic(), MessageField.VALUE, msg.headers())
            assert deserializer(raw, ctx) == expected["value"], f"{key}: decoded value differs from what was sent"
            headers = {k: v.decode() for k, v in (msg.headers() or [])}
            for name in STAMPED:
                assert name in headers, f"{key}: no {name} header in {headers}"
            assert headers["eventguard.event_id"] == expected["event_id"]
            assert headers["eventguard.subject"] == topic["subject"]
            assert headers["eventguard.feature"] == "interop"
        assert not want, f"{topic['topic']}: records never consumed: {sorted(want)}"


def pet_event(i):
    """A pets-value version 2 event."""
    return {
        "event_type": "pet.weight.updated.v2",
        "pet_id": f"pet-py-{i}",
        "device_id": "bowl-py",
        "net_weight_grams": 4000 + i,
        "tare_weight_grams": 380,
        "measured_at": "2026-11-02T08:15:00Z",
        "source": "app",
    }


def test_json_serializer_records_are_produced(spec, registry):
    """Confluent's JSONSerializer, using the subject's latest registered version
    (no auto-registration), frames records eventguard can read; the Go test
    validates them. The serializer refuses an invalid event as eventguard would."""
    job = spec["produce"]
    latest = registry.get_latest_version(job["subject"])
    serializer = JSONSerializer(
        None,
        registry,
        conf={"auto.register.schemas": False, "use.latest.version": True},
    )
    ctx = SerializationContext(job["topic"], MessageField.VALUE)

    bad = pet_event(0)
    bad["net_weight_grams"] = "heavy"
    with pytest.raises(SerializationError):
        serializer(bad, ctx)

    producer = Producer({"bootstrap.servers": spec["brokers"], "enable.idempotence": True, "acks": "all"})
    delivered, failed = [], []

    def on_delivery(err, msg):
        (failed if err else delivered).append(err or msg)

    for i in range(job["count"]):
        value = serializer(pet_event(i), ctx)
        assert value[0] == 0 and int.from_bytes(value[1:5], "big") == latest.schema_id
        producer.produce(job["topic"], key=f"py-{i}", value=value, on_delivery=on_delivery)
    assert producer.flush(30) == 0, "records still unacknowledged after 30 s"
    assert not failed, f"delivery failed: {failed}"
    assert len(delivered) == job["count"]

    if job.get("out"):
        produced = [
            {"key": m.key().decode(), "value": m.value().hex(), "partition": m.partition(), "offset": m.offset()}
            for m in delivered
        ]
        with open(job["out"], "w", encoding="utf-8") as f:
            json.dump(produced, f)
