"""Avro and Protobuf wire compatibility of eventguard's engines with Confluent's
own Python client (confluent-kafka[avro,protobuf,schemaregistry]).

Driven by the Go test TestConfluentPythonFormats (test/e2e/formats_interop_test.go),
which serves a schema registry (srfake, with Confluent's ?format=serialized
for Protobuf), encodes golden JSON events with validate.Schema.EncodeDoc, and
writes a spec file named by FORMATS_SPEC:

    {"registry_url": "http://127.0.0.1:41234", "out": "/tmp/.../python-wrote.json",
     "avro":     {"subject": "payments-value",
                  "records": [{"name", "json": {...}, "decoded": {...}, "wire_hex": "00..."}]},
     "protobuf": {"subject": "tables-value", "message": "acme.pos.v1.TableStatusChanged",
                  "records": [...]}}

json is the golden event as an app posts it; decoded is eventguard's DecodeDoc
rendering of its own encoding; wire_hex is that encoding in Confluent wire
format (magic byte, schema id, payload).

Here, Confluent's AvroDeserializer and ProtobufDeserializer decode every
wire_hex to the decoded value; its AvroSerializer and ProtobufSerializer
(auto.register.schemas off, use.latest.version on) serialize every json
event, and what they wrote goes to the out file, for the Go test to decode
with DecodeDoc. Run alone (without FORMATS_SPEC) every test here is skipped.
"""

import base64
import datetime
import decimal
import json
import os
import uuid

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2, json_format
from google.protobuf.descriptor_pool import DescriptorPool
from google.protobuf.message_factory import GetMessageClass

SPEC_PATH = os.environ.get("FORMATS_SPEC")

pytestmark = pytest.mark.skipif(
    not SPEC_PATH,
    reason="FORMATS_SPEC is not set: run through the Go test "
    "(go test ./test/e2e -run TestConfluentPythonFormats)",
)



def ctx(subject):
    """The serialization context of the topic whose value subject (topic
    name strategy) is subject."""
    assert subject.endswith("-value")
    return SerializationContext(subject[: -len("-value")], MessageField.VALUE)


@pytest.fixture(scope="module")
def spec():
    with open(SPEC_PATH, encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="module")
def registry(spec):
    return SchemaRegistryClient({"url": spec["registry_url"]})


@pytest.fixture(scope="module")
def written(spec):
    """What the serializers wrote, saved for the Go test when the module ends."""
    out = {"avro": [], "protobuf": []}
    yield out
    with open(spec["out"], "w", encoding="utf-8") as f:
        json.dump(out, f)


def comparable(value):
    """fastavro's Python values in the JSON form eventguard writes."""
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.timezone.utc)
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def expected_avro(decoded):
    """eventguard's decoded JSON with timestamps as datetimes (Python and Go
    write fractions of a second differently)."""
    out = dict(decoded)
    out["occurred_at"] = datetime.datetime.fromisoformat(out["occurred_at"].replace("Z", "+00:00"))
    return out


def avro_input(event):
    """A golden JSON event as a Python producer builds it for fastavro."""
    out = dict(event)
    out["amount"] = decimal.Decimal(str(out["amount"]))
    ts = out["occurred_at"]
    if isinstance(ts, str):
        out["occurred_at"] = datetime.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    tx = out.get("transaction_id")
    if isinstance(tx, dict):  # the Avro JSON union form is eventguard's; fastavro takes the value
        out["transaction_id"] = tx["string"]
    return out


def test_avro_deserializer_reads_eventguard(spec, registry):
    deser = AvroDeserializer(registry)
    for rec in spec["avro"]["records"]:
        got = comparable(deser(bytes.fromhex(rec["wire_hex"]), ctx(spec["avro"]["subject"])))
        assert got == expected_avro(rec["decoded"]), rec["name"]


def test_avro_serializer_writes_for_eventguard(spec, registry, written):
    ser = AvroSerializer(registry, conf={"auto.register.schemas": False, "use.latest.version": True})
    for rec in spec["avro"]["records"]:
        data = ser(avro_input(rec["json"]), ctx(spec["avro"]["subject"]))
        assert data[0] == 0, "Confluent wire format starts with the magic byte 0"
        written["avro"].append({"name": rec["name"], "wire_hex": data.hex()})


@pytest.fixture(scope="module")
def table_class(spec, registry):
    """The Protobuf message class built from the registry's descriptors (as
    Confluent's deserializer reads them), not from generated code."""
    latest = registry.get_latest_version(spec["protobuf"]["subject"], fmt="serialized")
    pool = DescriptorPool()
    from google.protobuf import any_pb2, descriptor_pb2 as d, duration_pb2, field_mask_pb2, timestamp_pb2

    for mod in (d, duration_pb2, field_mask_pb2, timestamp_pb2, any_pb2):
        pool.AddSerializedFile(mod.DESCRIPTOR.serialized_pb)
    for ref in latest.schema.references:
        dep = registry.get_version(ref.subject, ref.version, True, "serialized")
        fdp = descriptor_pb2.FileDescriptorProto.FromString(base64.b64decode(dep.schema.schema_str))
        fdp.name = ref.name
        pool.Add(fdp)
    main = descriptor_pb2.FileDescriptorProto.FromString(base64.b64decode(latest.schema.schema_str))
    pool.Add(main)
    return GetMessageClass(pool.FindMessageTypeByName(spec["protobuf"]["message"]))


def test_protobuf_deserializer_reads_eventguard(spec, registry, table_class):
    deser = ProtobufDeserializer(table_class, {"use.deprecated.format": False}, schema_registry_client=registry)
    for rec in spec["protobuf"]["records"]:
        got = deser(bytes.fromhex(rec["wire_hex"]), ctx(spec["protobuf"]["subject"]))
        want = json_format.ParseDict(rec["decoded"], table_class())
        assert got == want, rec["name"]
        # The golden as posted reads to the same message too (protojson rules
        # in Python: lowerCamelCase names, enum numbers, offsets).
        assert got == json_format.ParseDict(rec["json"], table_class()), rec["name"]


def test_protobuf_serializer_writes_for_eventguard(spec, registry, table_class, written):
    ser = ProtobufSerializer(table_class, registry, {"auto.register.schemas": False, "use.latest.version": True})
    for rec in spec["protobuf"]["records"]:
        data = ser(json_format.ParseDict(rec["json"], table_class()), ctx(spec["protobuf"]["subject"]))
        assert data[0] == 0
        written["protobuf"].append({"name": rec["name"], "wire_hex": data.hex()})
