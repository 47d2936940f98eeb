"""CloudEvents 1.0 with the official Python SDK (the cloudevents package):
events sent to eventguard in binary, structured and batch mode land in
Kafka in the Kafka binding's binary mode (read back with Confluent's
consumer and the SDK's Kafka binding), and the deliveries of a
subscription with deliver.format: cloudevents are read by the SDK's HTTP
binding.

Run by the Go e2e test TestRESTProxyAndCloudEventsInterop (INGRESS_SPEC):
first every test but test_deliveries_read_by_the_sdk, then, once the Go
test has written what its app received, that one.
"""

import json
import os
from datetime import datetime, timezone

import pytest
from cloudevents.core.bindings import http as cehttp
from cloudevents.core.bindings import kafka as cekafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from ingress import call, call_json, end_offsets, load_spec, read_records

FMT = JSONFormat()
SUBJECT = "Euro € 😀"  # percent-encoded on HTTP headers, raw UTF-8 in Kafka


@pytest.fixture(scope="module")
def spec():
    return load_spec()


@pytest.fixture(scope="module")
def ce(spec):
    return spec["cloudevents"]


def event(ce, id, data=None, **extra):
    attrs = {
        "id": id,
        "source": "/bowls/bowl-7f3a",
        "type": "pet.weight.updated.v2",
        "subject": SUBJECT,
        "time": datetime(2026, 11, 2, 8, 15, tzinfo=timezone.utc),
        "dataschema": "https://schemas.example.com/pet.weight.updated/2",
        "datacontenttype": "application/json",
        "partitionkey": "pet-42",
        "tenantid": "acme",
    }
    attrs.update(extra)
    return CloudEvent(attrs, ce["pet"] if data is None else data)


def post(spec, ce, headers, body):
    return call_json(spec["http"], "POST", f"/v1/topics/{ce['topic']}/cloudevents", body, headers)


def test_events_land_in_kafka_as_the_binary_binding(spec, ce):
    """Binary, structured and batch mode; each event becomes one record with
    ce_* headers, content-type, the partitionkey as key and the id as
    eventguard's event id; the value is the data in Confluent wire format."""
    start = end_offsets(spec["brokers"], ce["topic"], ce["partitions"])
    sent = {}

    ev = event(ce, "py-binary")
    msg = cehttp.to_binary(ev, FMT)
    status, _, body = post(spec, ce, msg.headers, msg.body)
    assert status == 200 and body["results"][0]["event_id"] == "py-binary", body
    sent[ev.get_id()] = ev

    ev = event(ce, "py-structured")
    msg = cehttp.to_structured(ev, FMT)
    assert msg.headers["content-type"].startswith("application/cloudevents+json")
    status, _, body = post(spec, ce, msg.headers, msg.body)
    assert status == 200 and body["results"][0]["subject"] == ce["subject"], body
    sent[ev.get_id()] = ev

    batch = [event(ce, f"py-batch-{i}") for i in range(3)]
    body = b"[" + b",".join(FMT.write(e) for e in batch) + b"]"
    status, _, answer = post(spec, ce, {"Content-Type": "application/cloudevents-batch+json"}, body)
    assert status == 200 and [r["event_id"] for r in answer["results"]] == ["py-batch-0", "py-batch-1", "py-batch-2"], answer
    sent.update({e.get_id(): e for e in batch})

    msgs = read_records(spec["brokers"], ce["topic"], start, len(sent))
    for m in msgs:
        raw = m.value()
        assert raw[0] == 0 and int.from_bytes(raw[1:5], "big") == ce["schema_id"], raw[:5]
        headers = dict(m.headers())
        got = cekafka.from_binary(cekafka.KafkaMessage(headers=headers, key=m.key(), value=raw[5:]), FMT)
        want = sent.pop(got.get_id())
        assert headers["eventguard.event_id"].decode() == want.get_id()
        assert m.key() == b"pet-42"
        for name in ("source", "type", "subject", "dataschema", "datacontenttype", "time"):
            assert got.get_attributes()[name] == want.get_attributes()[name], name
        assert got.get_extension("tenantid") == "acme"
        assert got.get_data() == ce["pet"]
    assert not sent, f"never read back: {sorted(sent)}"


def test_refusals(spec, ce):
    """Data that breaks the contract is a 422; an event without source, or
    with text data, is refused; nothing is produced."""
    start = end_offsets(spec["brokers"], ce["topic"], ce["partitions"])
    msg = cehttp.to_binary(event(ce, "py-bad", data=ce["bad_pet"]), FMT)
    status, _, body = post(spec, ce, msg.headers, msg.body)
    assert status == 422 and body["error"]["code"] == "invalid_records", body
    structured = json.loads(FMT.write(event(ce, "py-no-source")))
    del structured["source"]
    status, _, body = post(spec, ce, {"Content-Type": "application/cloudevents+json"}, json.dumps(structured))
    assert status == 400 and body["error"]["code"] == "invalid_cloudevent" and "source" in body["error"]["message"], body
    msg = cehttp.to_binary(event(ce, "py-text", data="hello", datacontenttype="text/plain"), FMT)
    status, _, body = post(spec, ce, msg.headers, msg.body)
    assert status == 415, body
    assert end_offsets(spec["brokers"], ce["topic"], ce["partitions"]) == start


def test_deliveries_read_by_the_sdk(spec, ce):
    """What the subscription (deliver.format: cloudevents) POSTed to the Go
    test's app, read with the SDK's HTTP binding: the events sent, attributes
    (the percent-encoded subject included) and data."""
    path = ce.get("deliveries")
    if not path or not os.path.exists(path):
        pytest.skip("run by the Go test once the app has the deliveries")
    with open(path, encoding="utf-8") as f:
        deliveries = json.load(f)
    assert len(deliveries) >= 5, deliveries
    for d in deliveries:
        headers = {k: v[0] for k, v in d["headers"].items()}
        got = cehttp.from_http(cehttp.HTTPMessage(headers=headers, body=d["body"].encode()), FMT)
        assert got.get_id() == headers["Eventguard-Event-Id"]
        assert got.get_source() == "/bowls/bowl-7f3a" and got.get_type() == "pet.weight.updated.v2"
        assert got.get_subject() == SUBJECT
        assert got.get_extension("partitionkey") == "pet-42" and got.get_extension("tenantid") == "acme"
        assert got.get_time() == datetime(2026, 11, 2, 8, 15, tzinfo=timezone.utc)
        assert got.get_data() == ce["pet"]
