"""Confluent REST Proxy's produce API (v2, v3) served by eventguard, driven
with plain HTTP as REST Proxy's API reference documents it (no REST Proxy
client on PyPI fits: see docs/rest-proxy.md), and what lands in Kafka read
back with Confluent's own consumer and JSONDeserializer.

Run by the Go e2e test TestRESTProxyAndCloudEventsInterop, which starts
eventguard on a real broker and writes the spec named by INGRESS_SPEC.
"""

import base64
import http.client
import json
import urllib.parse
from datetime import datetime, timezone

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.json_schema import JSONDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from ingress import call, call_json, end_offsets, load_spec, read_records

V2_SCHEMA = "application/vnd.kafka.jsonschema.v2+json"
V2_JSON = "application/vnd.kafka.json.v2+json"


@pytest.fixture(scope="module")
def spec():
    return load_spec()


@pytest.fixture(scope="module")
def rp(spec):
    return spec["restproxy"]


@pytest.fixture(scope="module")
def cluster(spec):
    status, _, body = call_json(spec["http"], "GET", "/v3/clusters")
    assert status == 200 and body["kind"] == "KafkaClusterList", body
    assert len(body["data"]) == 1
    c = body["data"][0]
    assert c["kind"] == "KafkaCluster" and c["cluster_id"], c
    assert c["metadata"]["self"].endswith("/v3/clusters/" + c["cluster_id"])
    return c["cluster_id"]


def deserialize(spec, msg):
    """The record's value by Confluent's JSONDeserializer (schema by id from
    the registry), and its framing checked."""
    registry = SchemaRegistryClient({"url": spec["registry_url"]})
    raw = msg.value()
    assert raw[0] == 0, f"magic byte {raw[0]}"
    return JSONDeserializer(None, schema_registry_client=registry)(raw, SerializationContext(msg.topic(), MessageField.VALUE))


def test_v3_cluster_lookup(spec, cluster):
    """A client looks the cluster up first, as REST Proxy clients do."""
    status, _, body = call_json(spec["http"], "GET", f"/v3/clusters/{cluster}")
    assert status == 200 and body["cluster_id"] == cluster
    status, _, body = call_json(spec["http"], "GET", "/v3/clusters/lkc-nosuch")
    assert status == 404 and body == {"error_code": 404, "message": "Cluster lkc-nosuch cannot be found."}


def test_v3_record_lands_in_kafka(spec, rp, cluster):
    """One record: partition, headers, STRING key and timestamp as sent; the
    value validated and framed with the topic's schema."""
    start = end_offsets(spec["brokers"], rp["topic"], rp["partitions"])
    record = {
        "partition_id": 1,
        "headers": [{"name": "origin", "value": base64.b64encode(b"bowl-firmware").decode()}],
        "key": {"type": "STRING", "data": "pet-v3"},
        "value": {"type": "JSON", "data": rp["pet"]},
        "timestamp": "2026-11-02T08:15:00.250Z",
    }
    status, _, body = call_json(
        spec["http"], "POST", f"/v3/clusters/{cluster}/topics/{rp['topic']}/records", json.dumps(record), {"Content-Type": "application/json"}
    )
    assert status == 200, body
    assert body["error_code"] == 200 and body["partition_id"] == 1 and body["topic_name"] == rp["topic"], body
    assert body["timestamp"] == "2026-11-02T08:15:00.250Z"
    assert body["key"] == {"type": "STRING", "size": 6}
    assert body["value"]["subject"] == rp["subject"] and body["value"]["schema_id"] == rp["schema_id"]
    [msg] = read_records(spec["brokers"], rp["topic"], {1: start[1]}, 1)
    assert msg.key() == b"pet-v3" and msg.offset() == body["offset"]
    assert msg.timestamp()[1] == int(datetime(2026, 11, 2, 8, 15, 0, 250000, tzinfo=timezone.utc).timestamp() * 1000)
    assert dict(msg.headers())["origin"] == b"bowl-firmware"
    assert deserialize(spec, msg) == rp["pet"]


def test_v3_stream_answers_as_records_arrive(spec, rp, cluster):
    """The streamed form: one chunked request, records sent one at a time,
    each answer read before the next record goes out."""
    u = urllib.parse.urlsplit(spec["http"])
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.putrequest("POST", f"/v3/clusters/{cluster}/topics/{rp['topic']}/records")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()

    def send(obj):
        data = json.dumps(obj).encode()
        conn.send(b"%x\r\n%s\r\n" % (len(data), data))

    records = [{"partition_id": 2, "key": {"type": "STRING", "data": f"stream-{i}"}, "value": {"data": rp["pet"]}} for i in range(4)]
    records.insert(2, {"partition_id": 2, "value": {"data": rp["bad_pet"]}})
    send(records[0])
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Content-Type") == "application/json"
    answers = []
    for i, r in enumerate(records):
        if i > 0:
            send(r)
        line = resp.readline()
        while not line.strip():
            line = resp.readline()
        answers.append(json.loads(line))
    conn.send(b"0\r\n\r\n")
    assert resp.read().strip() == b""
    conn.close()
    codes = [a["error_code"] for a in answers]
    assert codes == [200, 200, 400, 200, 200], answers
    assert "schema_violation" in answers[2]["message"]
    offsets = [a["offset"] for a in answers if a["error_code"] == 200]
    assert offsets == list(range(offsets[0], offsets[0] + 4)), offsets


def test_v3_refusals(spec, rp, cluster):
    path = f"/v3/clusters/{cluster}/topics/{rp['topic']}/records"
    for record, code, text in [
        ({"value": {"data": rp["bad_pet"]}}, 400, "schema_violation"),
        ({"value": {"type": "AVRO", "data": {}}}, 400, "AVRO is not supported"),
        ({"value": {"type": "BINARY", "data": 1}}, 400, "data=1 is not a base64 string."),
        ({"partition_id": 99, "value": {"data": rp["pet"]}}, 40402, "has no partition 99"),
        ({"value": {"schema_version": 42, "data": rp["pet"]}}, 42207, "schema_not_found"),
    ]:
        status, _, body = call_json(spec["http"], "POST", path, json.dumps(record), {"Content-Type": "application/json"})
        assert status == 200 and body["error_code"] == code and text in body["message"], (record, body)
    status, _, body = call_json(spec["http"], "POST", path, b"", {"Content-Type": "application/json"})
    assert status == 422 and body == {"error_code": 422, "message": "Payload error. Request body is empty. Data is required."}


def test_v2_jsonschema_with_the_schema_text(spec, rp):
    """v2, jsonschema: the value schema sent as text is found in the
    registry (never registered), keys are written as JSON text."""
    start = end_offsets(spec["brokers"], rp["topic"], rp["partitions"])
    body = {"value_schema": rp["schema"], "records": [{"key": "pet-v2", "value": rp["pet"], "partition": 0}, {"value": rp["pet"], "partition": 0}]}
    status, hdrs, answer = call_json(
        spec["http"], "POST", f"/topics/{rp['topic']}", json.dumps(body), {"Content-Type": V2_SCHEMA, "Accept": "application/vnd.kafka.v2+json"}
    )
    assert status == 200 and hdrs["content-type"] == "application/vnd.kafka.v2+json", answer
    assert answer["value_schema_id"] == rp["schema_id"] and answer["key_schema_id"] is None
    assert [o["partition"] for o in answer["offsets"]] == [0, 0]
    assert all(o["error_code"] is None and o["error"] is None for o in answer["offsets"])
    msgs = read_records(spec["brokers"], rp["topic"], {0: start[0]}, 2)
    msgs.sort(key=lambda m: m.offset())
    assert msgs[0].key() == b'"pet-v2"' and msgs[1].key() is None
    assert [deserialize(spec, m) for m in msgs] == [rp["pet"], rp["pet"]]

    body = {"value_schema_id": rp["schema_id"], "records": [{"value": rp["pet"]}]}
    status, _, answer = call_json(spec["http"], "POST", f"/topics/{rp['topic']}", json.dumps(body), {"Content-Type": V2_SCHEMA})
    assert status == 200 and answer["offsets"][0]["offset"] is not None, answer


def test_v2_refusals_produce_nothing(spec, rp):
    """All or nothing: a request with one bad record writes none."""
    start = end_offsets(spec["brokers"], rp["topic"], rp["partitions"])
    for ct, body, status, code, text in [
        (V2_JSON, {"records": [{"value": rp["pet"]}, {"value": rp["bad_pet"]}]}, 400, 400, "record 1"),
        (V2_SCHEMA, {"key_schema_id": 1, "records": [{"key": "k", "value": rp["pet"]}]}, 422, 42201, "key schema"),
        (V2_SCHEMA, {"value_schema": '{"type":"string"}', "records": [{"value": "x"}]}, 422, 42205, "does not register schemas"),
        ("application/vnd.kafka.avro.v2+json", {"records": [{"value": 1}]}, 415, 415, "avro"),
        (V2_JSON, {"records": []}, 422, 422, "records may not be empty"),
    ]:
        got, _, answer = call_json(spec["http"], "POST", f"/topics/{rp['topic']}", json.dumps(body), {"Content-Type": ct})
        assert got == status and answer["error_code"] == code and text in answer["message"], (body, answer)
    assert end_offsets(spec["brokers"], rp["topic"], rp["partitions"]) == start
