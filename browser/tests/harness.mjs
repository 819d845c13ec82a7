// Starts a Steward demo and a headless Chromium for the browser tests.
// STEWARD_BIN names a built steward binary; CHROMIUM names the browser
// (default /usr/bin/chromium, Debian's package).
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
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
    output: () => output,
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
