// Signed verdicts for portals: independent JOSE libraries (PyJWT, jose) verify our tokens against
// our JWK set with the README's recipes (audience, issuer, session, type), refuse measurements
// as verdicts, key rotation keeps old tokens valid, and the CLI and POST /api/v1/verify apply a
// policy that fails closed, with distinct answers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { useEdgeAndBrowser, onsite, produceVerdict, tamper, measureAt } from "./harness.mjs";

const PYTHON = process.env.ONSITE_INTEROP_PYTHON ?? "tests/interop/.venv/bin/python";

const env = useEdgeAndBrowser();

async function jwks() {
  const response = await fetch(`${env.edge.url}/.well-known/jwks.json`);
  assert.equal(response.status, 200);
  return response.json();
}

function pyjwt(keySet, token, ...flags) {
  const dir = mkdtempSync(join(tmpdir(), "onsite-pyjwt-"));
  writeFileSync(join(dir, "jwks.json"), JSON.stringify(keySet));
  writeFileSync(join(dir, "token"), token);
  const result = spawnSync(PYTHON, ["tests/interop/pyjwt_verify.py", join(dir, "jwks.json"), join(dir, "token"), ...flags], { encoding: "utf8" });
  return { code: result.status, output: (result.stdout + result.stderr).trim() };
}

/** The README's jose recipe; `expected` adds the session and issuer the portal expects. */
async function joseVerify(keySet, token, expected = {}) {
  return jwtVerify(token, createLocalJWKSet(keySet), { audience: "onsite", typ: "JWT", algorithms: ["EdDSA"], requiredClaims: ["iss", "sub", "exp", "iat"], ...expected });
}

test("PyJWT and jose verify our tokens against our JWK set and refuse altered ones", async () => {
  const { session, token } = await produceVerdict(env.browser, env.edge);
  const keySet = await jwks();

  const python = pyjwt(keySet, token, "--sub", session.id, "--iss", env.edge.url);
  assert.equal(python.code, 0, python.output);
  assert.equal(JSON.parse(python.output).sub, session.id);
  const otherSession = pyjwt(keySet, token, "--sub", "another-session");
  assert.equal(otherSession.code, 1, otherSession.output);
  assert.match(otherSession.output, /InvalidSubjectError/);
  const otherIssuer = pyjwt(keySet, token, "--iss", "https://other.example");
  assert.match(otherIssuer.output, /InvalidIssuerError/);
  const forged = tamper(token, { verdict: { ...JSON.parse(python.output).verdict, class: "local", p_remote: 0 } });
  const pythonForged = pyjwt(keySet, forged);
  assert.equal(pythonForged.code, 1, pythonForged.output);
  assert.match(pythonForged.output, /InvalidSignatureError/);

  const { payload, protectedHeader } = await joseVerify(keySet, token, { subject: session.id, issuer: env.edge.url });
  await assert.rejects(joseVerify(keySet, token, { subject: "another-session" }), /unexpected "sub" claim value/);
  assert.equal(protectedHeader.alg, "EdDSA");
  assert.equal(payload.sub, session.id);
  assert.equal(payload.verdict.keystrokes, 30);
  assert.match(payload.evidence_sha256, /^[0-9a-f]{64}$/);
  await assert.rejects(joseVerify(keySet, forged), /signature verification failed/);
});

test("a measurement is never taken for a verdict, by PyJWT, jose, the CLI or the API", async () => {
  const session = await env.edge.createSession();
  const page = await (await env.browser.newContext()).newPage();
  await page.goto(`${env.edge.url}/`);
  // Anyone may have an edge measure them, for any session id; the edge signs it with its key.
  const measurement = await measureAt(page, env.edge.url, session.id);
  const header = decodeProtectedHeader(measurement);
  assert.equal(header.typ, "onsite-measurement+jwt");
  const claims = JSON.parse(Buffer.from(measurement.split(".")[1], "base64url"));
  assert.equal(claims.aud, "onsite-measurement");
  assert.ok(claims.exp - claims.iat <= 600, JSON.stringify(claims));
  const keySet = await jwks();
  const recipe = pyjwt(keySet, measurement, "--sub", session.id);
  assert.equal(recipe.code, 1, recipe.output);
  // Even a portal that forgets the audience refuses it: it names an audience of its own.
  const careless = pyjwt(keySet, measurement, "--no-audience");
  assert.equal(careless.code, 1, careless.output);
  assert.match(careless.output, /InvalidAudienceError/);
  await assert.rejects(joseVerify(keySet, measurement), /unexpected "typ" JWT header value|"aud"/);
  await assert.rejects(jwtVerify(measurement, createLocalJWKSet(keySet), { typ: "JWT" }), /unexpected "typ" JWT header value/);
  const cli = onsite("verify", "--jwks", `${env.edge.url}/.well-known/jwks.json`, "--sub", session.id, measurement);
  assert.equal(cli.code, 3, cli.stderr);
  assert.match(cli.stderr, /token type is "onsite-measurement\+jwt"/);
  const api = await fetch(`${env.edge.url}/api/v1/verify`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token: measurement, sub: session.id }) });
  const answer = await api.json();
  assert.deepEqual([answer.decision, answer.valid], ["hold", false], JSON.stringify(answer));
  await page.context().close();
});

test("after a key rotation old tokens still verify and new tokens use the new key", async () => {
  const before = await produceVerdict(env.browser, env.edge);
  const oldKid = decodeProtectedHeader(before.token).kid;
  assert.deepEqual((await jwks()).keys.map((k) => k.kid), [oldKid]);

  const rotated = onsite("keys", "rotate", "--data-dir", env.edge.dataDir);
  assert.equal(rotated.code, 0, rotated.stderr);
  const newKid = rotated.stdout.match(/new signing key (\S+)/)[1];
  assert.notEqual(newKid, oldKid);

  const after = await produceVerdict(env.browser, env.edge);
  assert.equal(decodeProtectedHeader(after.token).kid, newKid, "new tokens are signed with the new key");
  const keySet = await jwks();
  assert.deepEqual(keySet.keys.map((k) => k.kid), [oldKid, newKid], "the old key stays published");
  for (const token of [before.token, after.token]) {
    await joseVerify(keySet, token);
    const cli = onsite("verify", "--jwks", `${env.edge.url}/.well-known/jwks.json`, token);
    assert.equal(cli.code, 0, cli.stderr);
  }
  const listed = onsite("keys", "list", "--data-dir", env.edge.dataDir);
  assert.match(listed.stdout, new RegExp(`${oldKid}.*retired at`));
  assert.match(listed.stdout, new RegExp(`${newKid}.*signing`));
});

test("the CLI applies a policy that fails closed, with distinct exit codes", async () => {
  const { session, token } = await produceVerdict(env.browser, env.edge);
  const jwksUrl = `${env.edge.url}/.well-known/jwks.json`;
  const { iat } = JSON.parse(Buffer.from(token.split(".")[1], "base64url"));
  const cases = [
    [["--require", "local"], 0, /verdict local/],
    [["--sub", session.id, "--iss", env.edge.url], 0, /verdict local/],
    [["--require", "remote,remote_suspected"], 7, /requires remote or remote_suspected/],
    [["--require", ""], 1, /at least one verdict class/],
    [["--aud", "portal"], 5, /audience is "onsite", expected "portal"/],
    [["--sub", "another-session"], 8, /is about session/],
    [["--iss", "https://other.example"], 8, /issuer/],
    [["--require", "sideways"], 1, /unknown verdict class "sideways"/],
    // Time is given, not waited for: one second after it was issued, with no age allowed.
    [["--max-age", "0", "--now-s", String(iat + 1)], 6, /at most 0 s/],
  ];
  for (const [flags, code, message] of cases) {
    const result = onsite("verify", "--jwks", jwksUrl, ...flags, token);
    assert.equal(result.code, code, `${flags.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, message);
  }
  const truncated = onsite("verify", "--jwks", jwksUrl, token.slice(0, -20));
  assert.equal(truncated.code, 3, truncated.stderr);
  assert.match(truncated.stderr, /refused: token is malformed/);
});

test("POST /api/v1/verify answers ship or hold with reasons, and refuses an empty policy", async () => {
  const { session, token } = await produceVerdict(env.browser, env.edge);
  const ask = async (body) => {
    const response = await fetch(`${env.edge.url}/api/v1/verify`, { method: "POST", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) });
    return { status: response.status, json: await response.json() };
  };
  const ship = await ask({ token, sub: session.id, iss: env.edge.url });
  assert.equal(ship.status, 200);
  assert.equal(ship.json.decision, "ship", JSON.stringify(ship.json));
  assert.equal(ship.json.claims.verdict.class, "local");

  const elsewhere = await ask({ token, sub: "another-session" });
  assert.deepEqual([elsewhere.json.decision, elsewhere.json.valid], ["hold", false]);
  assert.match(elsewhere.json.reasons[0], /is about session/);
  for (const require of [[], [""], [" "]]) {
    const empty = await ask({ token, sub: session.id, require });
    assert.equal(empty.status, 400, JSON.stringify(require));
    assert.match(empty.json.error, /at least one verdict class/);
  }

  const strict = await ask({ token, require: ["remote"] });
  assert.equal(strict.json.decision, "hold");
  assert.match(strict.json.reasons[0], /requires remote/);

  const forged = await ask({ token: tamper(token, { sub: "someone-else" }) });
  assert.deepEqual([forged.json.decision, forged.json.valid], ["hold", false]);
  assert.match(forged.json.reasons[0], /signature does not verify/);

  const malformed = await ask("{not json");
  assert.equal(malformed.status, 400);
  assert.match(malformed.json.error, /send JSON like/);
  const health = await fetch(`${env.edge.url}/healthz`);
  assert.equal(health.status, 200);
});
