// Signs in and out of Steward in headless Chromium, as a new user would.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSteward, launchBrowser, shot, adminPassword } from './harness.mjs';

let steward, browser;

before(async () => {
  steward = await startSteward();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await steward?.stop();
});

test('sign in, see the dashboard, sign out', async () => {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(steward.url + '/');
  assert.match(page.url(), /\/login\?next=%2F$/);
  assert.equal(await page.locator('h1').textContent(), 'Sign in to Steward');
  await shot(page, '01-sign-in');

  await page.getByLabel('User name').fill('admin');
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').waitFor();
  assert.equal(await page.getByRole('alert').textContent(), 'The user name or password is wrong.');
  await shot(page, '02-sign-in-refused');

  await page.getByLabel('Password').fill(adminPassword);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  assert.equal(new URL(page.url()).pathname, '/');
  assert.match(await page.locator('.who').textContent(), /admin/);
  await shot(page, '03-dashboard');

  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === '__Host-steward_session');
  assert.ok(session, 'session cookie set');
  assert.ok(session.secure && session.httpOnly && session.sameSite === 'Lax', 'session cookie is Secure, HttpOnly, SameSite=Lax');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in to Steward' }).waitFor();
  assert.equal((await context.cookies()).find((c) => c.name === '__Host-steward_session'), undefined);
  await page.goto(steward.url + '/');
  assert.match(page.url(), /\/login/);
  await context.close();
});

test('the sign-in page fits a 375 px phone screen', async () => {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 375, height: 740 } });
  const page = await context.newPage();
  await page.goto(steward.url + '/login');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page is ${overflow}px wider than the screen`);
  await page.getByLabel('User name').fill('admin');
  await page.getByLabel('Password').fill(adminPassword);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  const overflow2 = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow2 <= 0, `dashboard is ${overflow2}px wider than the screen`);
  await shot(page, '04-dashboard-375px');
  await context.close();
});
