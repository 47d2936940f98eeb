#!/usr/bin/env python3
"""Example producer app (Python standard library only).

Waits for its eventguard sidecar to be ready, then posts one valid and one
invalid event (golden payloads from examples/contracts) and prints both
answers. Exits 1 unless the valid one got 200 and the invalid one 422.

Environment (defaults fit `eventguard dev` on a laptop):
  SIDECAR_URL        eventguard's HTTP ingress   (http://127.0.0.1:8080)
  SIDECAR_ADMIN_URL  eventguard's admin listener (http://127.0.0.1:9464)
  TOPIC              topic to produce to         (pets)
  SCHEMA_VERSION     subject version to pin      (2)
  VALID_EVENT, INVALID_EVENT  JSON files to send
  SIDECAR_TOKEN_FILE file holding the ingress token, sent as
                     "Authorization: Bearer <token>" (none: no header)
"""
import json
import os
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
CONTRACTS = os.path.join(HERE, "..", "contracts")
SIDECAR = os.environ.get("SIDECAR_URL", "http://127.0.0.1:8080")
ADMIN = os.environ.get("SIDECAR_ADMIN_URL", "http://127.0.0.1:9464")
TOPIC = os.environ.get("TOPIC", "pets")
VERSION = int(os.environ.get("SCHEMA_VERSION", "2"))
VALID = os.environ.get("VALID_EVENT", os.path.join(CONTRACTS, "pets-value/2/valid/typical.json"))
INVALID = os.environ.get("INVALID_EVENT", os.path.join(CONTRACTS, "pets-value/2/invalid/old-v1-payload.json"))
TOKEN_FILE = os.environ.get("SIDECAR_TOKEN_FILE", "")


def auth_header():
    """The ingress token as an Authorization header, read at each request
    (a rotated Secret is picked up); {} without SIDECAR_TOKEN_FILE."""
    if not TOKEN_FILE:
        return {}
    with open(TOKEN_FILE, encoding="utf-8") as f:
        return {"Authorization": "Bearer " + f.read().strip()}


def wait_ready(timeout=180):
    """Polls /readyz: the sidecar answers 200 once Kafka and the registry do."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(ADMIN + "/readyz", timeout=2):
                return
        except (urllib.error.URLError, OSError) as err:
            if time.monotonic() > deadline:
                sys.exit(f"producer: eventguard not ready after {timeout}s: {err}")
            time.sleep(1)


def produce(path):
    """Posts the JSON file at path as one record; returns (status, body)."""
    with open(path, encoding="utf-8") as f:
        value = json.load(f)
    record = {"key": value.get("pet_id"), "value": value, "schema_version": VERSION}
    req = urllib.request.Request(
        f"{SIDECAR}/v1/topics/{TOPIC}/records",
        data=json.dumps({"records": [record]}).encode(),
        headers={"Content-Type": "application/json", "Eventguard-Feature": "example-producer", **auth_header()},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def main():
    wait_ready()
    ok = True
    for label, path, want in (("valid", VALID, 200), ("invalid", INVALID, 422)):
        status, body = produce(path)
        print(f"producer: {label} event {os.path.basename(path)} -> HTTP {status} {body.strip()}", flush=True)
        ok = ok and status == want
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
