"""Avro and Protobuf interop of eventguard with Confluent's own Python client
(confluent-kafka[avro,protobuf,schemaregistry]) on the real broker, against
the real registry (Apicurio Registry).

Driven by the Go test TestConfluentPythonFormatsBroker
(test/e2e/formats_broker_test.go), which registers the example Avro and
Protobuf subjects in Apicurio under new topics, produces the golden JSON events
through eventguard's HTTP API, lets eventguard's own subscription decode them
back to JSON, and writes a spec file named by FORMATS_BROKER_SPEC:

    {"brokers": "127.0.0.1:19092", "registry_url": "http://127.0.0.1:41234/apis/ccompat/v7",
     "out": "/tmp/.../python-produced.json",
     "avro":     {"topic", "subject", "schema_id",
                  "records": [{"key": "eg-0", "json": {...}, "decoded": {...}}]},
     "protobuf": {"topic", "subject", "schema_id", "message": "acme.pos.v1.TableStatusChanged",
                  "records": [...]}}

json is the golden event as the app posted it; decoded is what eventguard's
subscription delivered for that record (its JSON rendering of the Avro or
Protobuf payload it wrote).

Here, Confluent's Consumer with AvroDeserializer and ProtobufDeserializer reads
eventguard's records from the broker and decodes each to the decoded value;
then Confluent's Producer with AvroSerializer and ProtobufSerializer
(auto.register.schemas off, use.latest.version on) writes the same events to
the same topics, keyed "py-N", for eventguard's subscription to deliver. Run
alone (without FORMATS_BROKER_SPEC) every test here is skipped.
"""

import json
import os
import time

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import json_format

from formats_common import avro_input, comparable, expected_avro, message_class

SPEC_PATH = os.environ.get("FORMATS_BROKER_SPEC")

pytestmark = pytest.mark.skipif(
    not SPEC_PATH,
    reason="FORMATS_BROKER_SPEC is not set: run through the Go test "
    "(make test-e2e, or go test ./test/e2e -run TestConfluentPythonFormatsBroker)",
)


@pytest.fixture(scope="module")
def spec():
    with open(SPEC_PATH, encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="module")
def registry(spec):
    return SchemaRegistryClient({"url": spec["registry_url"]})


@pytest.fixture(scope="module")
def produced(spec):
    """What the producers wrote (key, value in hex), saved for the Go test
    when the module ends."""
    out = {"avro": [], "protobuf": []}
    yield out
    with open(spec["out"], "w", encoding="utf-8") as f:
        json.dump(out, f)


@pytest.fixture(scope="module")
def table_class(spec, registry):
    """The Protobuf message class, from the registry's descriptors."""
    return message_class(registry, spec["protobuf"]["subject"], spec["protobuf"]["message"])


def read_topic(brokers, topic, count, timeout_s=60.0):
    """Reads count records of topic's partition 0 from its start (no group)."""
    consumer = Consumer({"bootstrap.servers": brokers, "group.id": "unused", "enable.auto.commit": False})
    try:
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
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


def check_eventguard_records(spec, part, deserialize, expected):
    """Reads eventguard's records of spec[part]'s topic from the broker and
    checks that deserialize(value, ctx) equals expected(record) for each."""
    job = spec[part]
    want = {r["key"]: r for r in job["records"]}
    for msg in read_topic(spec["brokers"], job["topic"], len(want)):
        key = msg.key().decode()
        assert key in want, f"{job['topic']}: unexpected key {key!r}"
        rec = want.pop(key)
        raw = msg.value()
        assert raw[0] == 0 and int.from_bytes(raw[1:5], "big") == job["schema_id"], f"{key}: header {raw[:5].hex()}"
        ctx = SerializationContext(msg.topic(), MessageField.VALUE, msg.headers())
        got = deserialize(raw, ctx)
        assert got == expected(rec), f"{key}: Confluent's deserializer read {got!r}"
    assert not want, f"{job['topic']}: records never read: {sorted(want)}"


def produce_events(spec, part, serialize, produced):
    """Produces every record's json event, serialized by serialize, to the
    topic of spec[part], keyed py-N, and saves what was written."""
    job = spec[part]
    producer = Producer({"bootstrap.servers": spec["brokers"], "enable.idempotence": True, "acks": "all"})
    delivered, failed = [], []

    def on_delivery(err, msg):
        (failed if err else delivered).append(err or msg)

    for i, rec in enumerate(job["records"]):
        value = serialize(rec["json"], SerializationContext(job["topic"], MessageField.VALUE))
        assert value[0] == 0 and int.from_bytes(value[1:5], "big") == job["schema_id"], f"header {value[:5].hex()}"
        producer.produce(job["topic"], key=f"py-{i}", value=value, on_delivery=on_delivery)
    assert producer.flush(30) == 0, "records still unacknowledged after 30 s"
    assert not failed, f"delivery failed: {failed}"
    produced[part] = [{"key": m.key().decode(), "value_hex": m.value().hex()} for m in delivered]


def test_avro_deserializer_reads_eventguard_records(spec, registry):
    deser = AvroDeserializer(registry)
    check_eventguard_records(spec, "avro", lambda raw, c: comparable(deser(raw, c)), lambda r: expected_avro(r["decoded"]))


def test_protobuf_deserializer_reads_eventguard_records(spec, registry, table_class):
    deser = ProtobufDeserializer(table_class, {"use.deprecated.format": False}, schema_registry_client=registry)

    def expected(rec):
        want = json_format.ParseDict(rec["decoded"], table_class())
        # The event as the app posted it reads to the same message.
        assert want == json_format.ParseDict(rec["json"], table_class()), rec["key"]
        return want

    check_eventguard_records(spec, "protobuf", deser, expected)


def test_avro_serializer_produces_for_eventguard(spec, registry, produced):
    ser = AvroSerializer(registry, conf={"auto.register.schemas": False, "use.latest.version": True})
    produce_events(spec, "avro", lambda event, c: ser(avro_input(event), c), produced)


def test_protobuf_serializer_produces_for_eventguard(spec, registry, table_class, produced):
    ser = ProtobufSerializer(table_class, registry, {"auto.register.schemas": False, "use.latest.version": True})
    produce_events(spec, "protobuf", lambda event, c: ser(json_format.ParseDict(event, table_class()), c), produced)
