// Real-browser test of the admin page (GET /ui): starts `eventguard dev`
// (embedded Kafka and registry) with a subscription delivering to a tiny
// app that refuses one record, sends valid, deprecated, invalid and hostile
// produce traffic, then opens the page in Debian's Chromium driven by
// playwright-core and checks what a person would see: the map's nodes and
// edges drawn, the deprecated version marked with its sunset, the rejected
// and dead-lettered rows, the readiness checks, a hostile topic name shown
// as text, the page refreshing itself, and no request leaving the admin
// listener. It saves a screenshot.
//
// Environment (test/run-browser.sh sets it):
//   EVENTGUARD_BIN          the eventguard binary
//   EVENTGUARD_CHROMIUM     the Chromium executable (command -v chromium)
//   EVENTGUARD_BROWSER_PORTS  port range to take ports from (default 20440-20499)
//   EVENTGUARD_SCREENSHOT   where to save the screenshot (default test/browser/out/admin-page.png)

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import net from "node:net";
import http from "node:http";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const bin = process.env.EVENTGUARD_BIN;
const chromiumPath = process.env.EVENTGUARD_CHROMIUM;
const screenshot = resolve(process.env.EVENTGUARD_SCREENSHOT || join(here, "out", "admin-page.png"));
const [portLo, portHi] = (process.env.EVENTGUARD_BROWSER_PORTS || "20440-20499").split("-").map(Number);
const hostileTopic = "<script>alert(1)</script>";

const v2 = (id) => ({
  event_type: "pet.weight.updated.v2", pet_id: id, device_id: "bowl-7f3a", net_weight_grams: 4210,
  tare_weight_grams: 380, measured_at: "2026-11-02T08:15:00Z", source: "sensor",
});
const v1 = { event_type: "pet.weight.updated.v1", pet_id: "pet-9", device_id: "bowl-1", weight_grams: 4000, measured_at: "2026-11-02T08:15:00Z", source: "app" };
const order = {
  event_id: "0193a5d2-7c1e-7b3a-9f00-1c2d3e4f5a6b", event_type: "OrderPlaced", tenant_id: "cafe-12", occurred_at: "2026-11-02T12:30:00Z",
  version: 1, order_id: "5f0c6e2a-1b2c-4d3e-8f90-123456789abc", customer_id: null, total_amount: "18.50", order_type: "dine_in",
  items: [{ sku: "LATTE-L", quantity: 2, unit_price: "4.75" }],
};

let tmp, app, sidecar, sidecarLog = "", ports, browser;

// freePort returns the next port of the range nobody listens on.
let nextPort = portLo;
async function freePort() {
  for (; nextPort <= portHi; nextPort++) {
    const p = nextPort;
    const ok = await new Promise((res) => {
      const s = net.createServer().once("error", () => res(false)).listen(p, "127.0.0.1", () => s.close(() => res(true)));
    });
    if (ok) {
      nextPort++;
      return p;
    }
  }
  throw new Error(`no free port left in ${portLo}-${portHi}`);
}

async function waitFor(what, fn, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}${last ? ": " + last.message : ""}\n--- eventguard log (tail) ---\n${sidecarLog.slice(-4000)}`);
}

async function produce(topic, records, feature = "weight-sync") {
  const res = await fetch(`http://127.0.0.1:${ports.http}/v1/topics/${encodeURIComponent(topic)}/records`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "Eventguard-Feature": feature },
    body: JSON.stringify({ records }),
  });
  return { status: res.status, body: await res.text() };
}

async function adminJSON(path) {
  const res = await fetch(`http://127.0.0.1:${ports.admin}${path}`);
  return res.json();
}

before(async () => {
  assert.ok(bin, "EVENTGUARD_BIN is not set (run test/run-browser.sh)");
  assert.ok(chromiumPath, "EVENTGUARD_CHROMIUM is not set (run test/run-browser.sh)");
  tmp = mkdtempSync(join(tmpdir(), "eventguard-browser-"));
  ports = { http: await freePort(), grpc: await freePort(), admin: await freePort(), kafka: await freePort(), registry: await freePort(), app: await freePort() };

  // The app: takes every delivery, refuses (422) the record keyed "poison",
  // so that it is dead-lettered as rejected_by_app.
  app = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(req.headers["eventguard-key"] === "poison" ? 422 : 200).end();
    });
  });
  await new Promise((r) => app.listen(ports.app, "127.0.0.1", r));

  const cfg = join(tmp, "dev.yaml");
  writeFileSync(cfg, `# eventguard dev for the browser test; the dev config deprecates pets-value v1.
instance: browser-test
listen:
  http: 127.0.0.1:${ports.http}
  grpc: 127.0.0.1:${ports.grpc}
  admin: 127.0.0.1:${ports.admin}
subscriptions:
  - name: pet-app
    topics: [pets]
    group: pet-app
    deliver: {url: "http://127.0.0.1:${ports.app}/events"}
    retry: {attempts: 2, initial_backoff: 10ms, max_backoff: 50ms}
`);
  sidecar = spawn(bin, ["dev", "--config", cfg, "--kafka-port", String(ports.kafka), "--registry-addr", `127.0.0.1:${ports.registry}`], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  sidecar.stdout.on("data", (d) => (sidecarLog += d));
  sidecar.stderr.on("data", (d) => (sidecarLog += d));
  const exited = new Promise((r) => sidecar.once("exit", (code) => r(code)));
  await waitFor("eventguard dev to be ready", async () => {
    if (sidecar.exitCode !== null) throw new Error(`eventguard dev exited ${sidecar.exitCode}`);
    const res = await fetch(`http://127.0.0.1:${ports.admin}/readyz`);
    return res.status === 200;
  });
  void exited;

  // Traffic: accepted v2 from one feature, a deprecated v1 from another,
  // an order, one record the app refuses, an invalid record, and a hostile
  // topic name (refused as invalid_topic: the page must show it as text).
  for (const id of ["pet-1", "pet-2", "pet-3"]) {
    assert.equal((await produce("pets", [{ key: id, value: v2(id) }])).status, 200);
  }
  assert.equal((await produce("pets", [{ key: "pet-9", schema_version: 1, value: v1 }], "legacy-import")).status, 200);
  assert.equal((await produce("orders", [{ key: "order-1", value: order }], "checkout")).status, 200);
  assert.equal((await produce("pets", [{ key: "poison", value: v2("poison") }])).status, 200);
  const bad = await produce("pets", [{ key: "pet-4", value: { ...v2("pet-4"), net_weight_grams: "4210" } }]);
  assert.equal(bad.status, 422, bad.body);
  const hostile = await produce(hostileTopic, [{ key: "x", value: {} }]);
  assert.equal(hostile.status, 400, hostile.body);
  await waitFor("the dead-letter of the refused record", async () => {
    const r = await adminJSON("/v1/recent");
    return r.rejections.some((x) => x.outcome === "dead_lettered" && x.reason === "rejected_by_app");
  });
  await waitFor("the consumer group in the catalog", async () => {
    const c = await adminJSON("/v1/catalog");
    return c.entries.some((e) => e.version === 1 && e.consumers.length > 0);
  });

  const profile = join(tmp, "chromium-profile");
  mkdirSync(profile);
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
    viewport: { width: 1440, height: 900 },
    deviceScaleFactor: 1,
    locale: "en-GB",
    timezoneId: "UTC",
    colorScheme: "light",
  });
});

after(async () => {
  await browser?.close();
  if (sidecar && sidecar.exitCode === null) {
    sidecar.kill("SIGTERM");
    await new Promise((r) => {
      const t = setTimeout(() => { sidecar.kill("SIGKILL"); r(); }, 15000);
      sidecar.once("exit", () => { clearTimeout(t); r(); });
    });
  }
  await new Promise((r) => (app ? app.close(r) : r()));
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test("the admin page draws the map, marks the deprecated version, lists the rejections", async () => {
  const page = browser.pages()[0] ?? (await browser.newPage());
  const problems = [];
  page.on("dialog", (d) => { problems.push(`dialog opened: ${d.message()}`); d.dismiss(); });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console error: ${m.text()}`); });
  const origin = `http://127.0.0.1:${ports.admin}`;
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));

  const res = await page.goto(`${origin}/ui`, { waitUntil: "load" });
  assert.equal(res.status(), 200);
  assert.match(res.headers()["content-security-policy"], /default-src 'none'/);

  // The map: nodes for every column, drawn with a size.
  const map = page.locator("svg#usage-map");
  await map.waitFor({ state: "visible" });
  const node = (key) => page.locator(`svg#usage-map g.node[data-key="${key}"]`);
  for (const key of ["weight-sync", "legacy-import", "checkout", "pets", "orders", "pets-value v1 (topic pets)", "pets-value v2 (topic pets)",
    "orders-OrderPlaced v1 (topic orders)", "pet-app"]) {
    const box = await node(key).locator("rect").boundingBox();
    assert.ok(box && box.width > 100 && box.height > 20, `node ${key} is drawn: ${JSON.stringify(box)}`);
  }
  const x = async (key) => (await node(key).locator("rect").boundingBox()).x;
  assert.ok((await x("weight-sync")) < (await x("pets")), "features left of topics");
  assert.ok((await x("pets")) < (await x("pets-value v2 (topic pets)")), "topics left of versions");
  assert.ok((await x("pets-value v2 (topic pets)")) < (await x("pet-app")), "versions left of groups");

  // Edges: feature → topic → version → group, each a drawn path.
  const id = (key) => node(key).getAttribute("id");
  for (const [from, to] of [["weight-sync", "pets"], ["pets", "pets-value v2 (topic pets)"], ["pets-value v2 (topic pets)", "pet-app"],
    ["legacy-import", "pets"], ["pets-value v1 (topic pets)", "pet-app"]]) {
    const edge = page.locator(`svg#usage-map g.edge[data-from="${await id(from)}"][data-to="${await id(to)}"] path`);
    assert.equal(await edge.count(), 1, `edge ${from} → ${to}`);
    const box = await edge.boundingBox();
    assert.ok(box && box.width > 50, `edge ${from} → ${to} is drawn: ${JSON.stringify(box)}`);
  }
  assert.equal(await page.locator(`svg#usage-map g.edge[data-from="${await id("weight-sync")}"] text.count`).textContent(), "4");

  // The deprecated version: marked, dashed, with its sunset.
  const v1node = node("pets-value v1 (topic pets)");
  assert.match(await v1node.getAttribute("class"), /\bdeprecated\b/);
  assert.match(await v1node.textContent(), /deprecated · sunset 2027-03-31/);
  assert.match(await v1node.textContent(), /→ pets-value v2/);
  const dash = await v1node.locator("rect").evaluate((r) => getComputedStyle(r).strokeDasharray);
  assert.notEqual(dash, "none", "the deprecated version's box is dashed");
  assert.doesNotMatch(await node("pets-value v2 (topic pets)").getAttribute("class"), /deprecated/);
  assert.match(await node("pets-value v2 (topic pets)").textContent(), /✗ schema_violation: 1/);

  // The rows: the invalid record with its path, the dead-letter with its
  // group, and the hostile topic name as plain text.
  const rows = page.locator("table#recent tbody tr");
  const invalid = rows.filter({ hasText: "schema_violation" });
  assert.equal(await invalid.count(), 1);
  assert.match(await invalid.textContent(), /\/net_weight_grams/);
  assert.match(await invalid.textContent(), /weight-sync/);
  const dead = rows.filter({ hasText: "rejected_by_app" });
  assert.equal(await dead.count(), 1);
  assert.match(await dead.textContent(), /dead_lettered.*pets.*pets-value v2.*pet-app/s);
  const hostileRow = rows.filter({ hasText: "invalid_topic" });
  assert.equal(await hostileRow.locator("td").nth(2).textContent(), hostileTopic);
  assert.equal(await node(hostileTopic).count(), 1, "the hostile topic is a node, its name escaped");
  assert.equal(await page.locator("script:not([src])").count(), 0, "no script from the data");
  const byReason = page.locator("table#by-reason tbody tr", { hasText: "schema_violation" });
  assert.match(await byReason.textContent(), /pets.*rejected.*schema_violation.*1/s);

  // Readiness.
  for (const check of ["kafka", "registry", "subscriptions", "lifecycle"]) {
    assert.equal(await page.locator(`tr[data-check="${check}"] td`).last().textContent(), "ok");
  }

  // The page refreshes itself: one more rejection shows up without a reload.
  const before = await rows.count();
  const again = await produce("pets", [{ key: "pet-5", value: { ...v2("pet-5"), source: "carrier-pigeon" } }]);
  assert.equal(again.status, 422, again.body);
  await page.waitForFunction((n) => document.querySelectorAll("table#recent tbody tr").length > n, before, { timeout: 20000 });
  await page.locator("#status", { hasText: "live · updated" }).waitFor();

  // Nothing left the admin listener; nothing went wrong in the page.
  const foreign = requests.filter((u) => !u.startsWith(origin + "/"));
  assert.deepEqual(foreign, [], "requests outside the admin listener");
  assert.deepEqual(problems, []);

  mkdirSync(dirname(screenshot), { recursive: true });
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`screenshot: ${screenshot}`);
});
