// Starts a Steward demo and a headless Chromium for the browser tests.
// STEWARD_BIN names a built steward binary; CHROMIUM names the browser
// (default /usr/bin/chromium, Debian's package).
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import https from 'node:https';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const artifacts = join(here, '..', 'artifacts');
mkdirSync(artifacts, { recursive: true });

export const adminPassword = 'browser-test admin password';

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

function healthy(url) {
  return new Promise((resolve) => {
    const req = https.get(url + '/healthz', { rejectUnauthorized: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
  });
}

// startSteward runs `steward demo` on a free port and resolves once it
// answers /healthz.
export async function startSteward(extraArgs = []) {
  const bin = process.env.STEWARD_BIN;
  if (!bin) throw new Error('set STEWARD_BIN to a built steward binary');
  const port = await freePort();
  const data = mkdtempSync(join(tmpdir(), 'steward-browser-'));
  const url = `https://127.0.0.1:${port}`;
  const proc = spawn(bin, ['demo', '--addr', `127.0.0.1:${port}`, '--data', data, ...extraArgs], {
    env: { ...process.env, STEWARD_ADMIN_PASSWORD: adminPassword },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout.on('data', (d) => { output += d; });
  proc.stderr.on('data', (d) => { output += d; });
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  const deadline = Date.now() + 60_000;
  while (!(await healthy(url))) {
    if (proc.exitCode !== null) throw new Error(`steward demo exited: ${output}`);
    if (Date.now() > deadline) throw new Error(`steward demo did not come up: ${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    dataDir: data,
    output: () => output,
    // connection is the emulator's connection file (URL, CA, tenants and
    // their seeded users and service principals, with secrets).
    connection: () => JSON.parse(readFileSync(join(data, 'emulator.json'), 'utf8')),
    async stop() {
      proc.kill('SIGTERM');
      await exited;
      rmSync(data, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export async function shot(page, name) {
  await page.screenshot({ path: join(artifacts, name + '.png'), fullPage: true });
}

// azureClient talks to the emulator as a service principal of the connection
// file, over its REST API and trusting its CA. The spec checks Azure "through
// the emulator with the official SDK"; node has no Azure SDK here, so this
// makes the same ARM calls the SDK would, raw.
export function azureClient(conn, tenantName, spName) {
  const tenant = conn.tenants.find((t) => t.name === tenantName);
  if (!tenant) throw new Error(`no tenant ${tenantName} in the connection file`);
  const sp = tenant.servicePrincipals.find((p) => p.name === spName);
  if (!sp) throw new Error(`no service principal ${spName} in ${tenantName}`);
  const base = conn.url.replace(/\/$/, '');
  const agent = new https.Agent({ ca: conn.caCertPEM });
  function call(method, url, { body, headers = {} } = {}) {
    return new Promise((resolve, reject) => {
      const req = https.request(url, { method, agent, headers }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { text += d; });
        res.on('end', () => {
          let json;
          try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
          if (res.statusCode >= 400) {
            reject(new Error(`${method} ${url}: ${res.statusCode} ${text}`));
            return;
          }
          resolve(json);
        });
      });
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  }
  let token;
  async function bearer() {
    if (!token) {
      const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: sp.clientId,
        client_secret: sp.clientSecret, scope: base + '/.default' }).toString();
      const res = await call('POST', `${base}/${tenant.id}/oauth2/v2.0/token`,
        { body: form, headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
      token = res.access_token;
    }
    return { Authorization: 'Bearer ' + token };
  }
  return {
    tenant,
    // resources lists a subscription's resources with their tags.
    async resources(subscriptionId) {
      const out = [];
      let next = `${base}/subscriptions/${subscriptionId}/resources?api-version=2021-04-01`;
      while (next) {
        const page = await call('GET', next, { headers: await bearer() });
        out.push(...page.value);
        next = page.nextLink;
      }
      return out;
    },
    // mergeTags merges tags into a resource's, as the Tags API's PATCH does.
    async mergeTags(resourceId, tags) {
      return call('PATCH', `${base}${resourceId}/providers/Microsoft.Resources/tags/default?api-version=2021-04-01`, {
        body: JSON.stringify({ operation: 'Merge', properties: { tags } }),
        headers: { ...(await bearer()), 'Content-Type': 'application/json' },
      });
    },
  };
}
