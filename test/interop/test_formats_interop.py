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

import json
import os

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from google.protobuf import json_format

from formats_common import avro_input, comparable, ctx, expected_avro, message_class

SPEC_PATH = os.environ.get("FORMATS_SPEC")

pytestmark = pytest.mark.skipif(
    not SPEC_PATH,
    reason="FORMATS_SPEC is not set: run through the Go test "
    "(go test ./test/e2e -run TestConfluentPythonFormats)",
)


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
    return message_class(registry, spec["protobuf"]["subject"], spec["protobuf"]["message"])


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
