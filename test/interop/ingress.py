"""What the ingress suites share: the spec the Go e2e test writes
(INGRESS_SPEC), plain HTTP calls and reading a topic back."""

import http.client
import json
import os
import time
import urllib.parse
import uuid

from confluent_kafka import Consumer, TopicPartition


def load_spec():
    with open(os.environ["INGRESS_SPEC"], encoding="utf-8") as f:
        return json.load(f)


def call(base, method, path, body=None, headers=None):
    """One HTTP request to eventguard; returns (status, headers, body bytes)."""
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        if isinstance(body, str):
            body = body.encode()
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def call_json(base, method, path, body=None, headers=None):
    status, hdrs, raw = call(base, method, path, body, headers)
    return status, hdrs, json.loads(raw) if raw.strip() else None


def end_offsets(brokers, topic, partitions):
    c = Consumer({"bootstrap.servers": brokers, "group.id": f"ingress-{uuid.uuid4()}"})
    try:
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(partitions)}
    finally:
        c.close()


def read_records(brokers, topic, start, count, timeout_s=60.0):
    """Reads count records of topic from the offsets in start (partition ->
    offset), in no particular order."""
    c = Consumer(
        {
            "bootstrap.servers": brokers,
            "group.id": f"ingress-{uuid.uuid4()}",
            "enable.auto.commit": False,
        }
    )
    try:
        c.assign([TopicPartition(topic, p, o) for p, o in start.items()])
        msgs = []
        deadline = time.monotonic() + timeout_s
        while len(msgs) < count and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            assert m.error() is None, f"consume {topic}: {m.error()}"
            msgs.append(m)
        assert len(msgs) == count, f"read {len(msgs)} of {count} records of {topic} in {timeout_s}s"
        return msgs
    finally:
        c.close()
