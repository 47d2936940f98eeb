"""Helpers shared by the Avro and Protobuf interop suites (test_formats_interop.py,
engine level; test_formats_broker.py, on the real broker): how a Python producer
builds an event for fastavro, how fastavro's values compare with eventguard's
JSON, and the Protobuf message class built from the registry's descriptors."""

import base64
import datetime
import decimal
import uuid

from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor_pool import DescriptorPool
from google.protobuf.message_factory import GetMessageClass


def ctx(subject):
    """The serialization context of the topic whose value subject (topic
    name strategy) is subject."""
    assert subject.endswith("-value")
    return SerializationContext(subject[: -len("-value")], MessageField.VALUE)


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


def message_class(registry, subject, message):
    """The Protobuf message class of message, built from the registry's
    descriptors of subject's latest version and its references (as
    Confluent's deserializer reads them), not from generated code."""
    latest = registry.get_latest_version(subject, fmt="serialized")
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
    return GetMessageClass(pool.FindMessageTypeByName(message))
