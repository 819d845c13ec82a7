// A new user's first ten minutes with `steward demo`, end to end in headless
// Chromium: sign in, connect Contoso by admin consent, sync, limit a
// subscription, bulk-edit tags and see them reach Azure, meet a conflict,
// read spend, check a Lighthouse template, manage access, and find it all
// in the audit log. The steps share one browser page and run in order; each
// saves a screenshot under artifacts/demo-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { startSteward, launchBrowser, shot, adminPassword, azureClient } from './harness.mjs';

let steward, browser, context, page, conn;
// What the steps learn and later steps use.
const state = {};
const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

before(async () => {
  steward = await startSteward();
  conn = steward.connection();
  browser = await launchBrowser();
  // The emulator's sign-in page is on another origin with its own CA.
  context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(15_000);
  page = await context.newPage();
});

after(async () => {
  await context?.close();
  await browser?.close();
  await steward?.stop();
});

const go = (path) => page.goto(steward.url + path);

// reloadUntil reloads path until check(page) is true, as a person waiting
// on a background job would.
async function reloadUntil(path, check, what, timeout = 30_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    await go(path);
    if (await check()) return;
    if (Date.now() > deadline) {
      await shot(page, 'demo-timeout');
      throw new Error(`timed out waiting for ${what} on ${path}`);
    }
    await page.waitForTimeout(500);
  }
}

test('1. sign in as admin', async () => {
  await go('/');
  await page.getByLabel('User name').fill('admin');
  await page.getByLabel('Password').fill(adminPassword);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  await page.getByRole('heading', { name: 'No Azure tenant connected yet' }).waitFor();
  await shot(page, 'demo-01-dashboard');
});

test('2. connect Contoso by admin consent and sync it', async () => {
  const contoso = conn.tenants.find((t) => t.name === 'Contoso');
  const admin = contoso.users[0];
  // The demo prints the Contoso admin's sign-in; the connection file has the same.
  const printed = steward.output().match(/sign in to Azure as (\S+) with password (\S+)/);
  assert.ok(printed, 'the demo prints the Contoso admin sign-in');
  assert.equal(printed[1], admin.userPrincipalName);
  assert.equal(printed[2], admin.password);

  await page.getByRole('link', { name: 'Tenants' }).click();
  await page.getByRole('heading', { name: 'Tenants' }).waitFor();
  await page.getByRole('link', { name: 'Connect a tenant' }).first().click();
  await page.getByRole('heading', { name: 'Connect a tenant' }).waitFor();
  await shot(page, 'demo-02a-connect');
  await page.getByRole('button', { name: 'Continue to consent' }).click();

  // The emulator's Entra sign-in: another origin.
  await page.waitForURL((u) => u.origin !== new URL(steward.url).origin);
  assert.equal(new URL(page.url()).origin, new URL(conn.url).origin);
  await page.getByRole('radio', { name: new RegExp(admin.userPrincipalName.replace(/\./g, '\\.')) }).check();
  await page.getByLabel(/Password/).fill(admin.password);
  await shot(page, 'demo-02b-entra-sign-in');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Accept' }).waitFor();
  await shot(page, 'demo-02c-entra-consent');
  await page.getByRole('button', { name: 'Accept' }).click();

  // Back in Steward: choose the subscriptions.
  await page.getByRole('heading', { name: 'Choose subscriptions' }).waitFor();
  assert.equal(new URL(page.url()).origin, new URL(steward.url).origin);
  assert.equal(await page.locator('input[name=subscription]:checked').count(), contoso.subscriptions.length, 'every owned subscription is ticked');
  await page.getByLabel('Tenant name in Steward').fill('Contoso');
  await shot(page, 'demo-02d-choose-subscriptions');
  await page.getByRole('button', { name: 'Assign roles and connect' }).click();

  await page.getByRole('heading', { name: 'Contoso', level: 1 }).waitFor();
  state.tenantId = contoso.id;
  assert.match(page.url(), new RegExp(`/tenants/${contoso.id}`));
  await shot(page, 'demo-02e-tenant');
  const subsTable = page.getByRole('table', { name: 'Subscriptions of this tenant' });
  await subsTable.waitFor();
  assert.equal(await subsTable.locator('tbody tr').count(), contoso.subscriptions.length);
  // Each subscription shows where its first sync is.
  for (const cell of await subsTable.locator('tbody tr td:nth-child(3)').allTextContents()) {
    assert.match(cell, /queued|syncing|synced/);
  }

  // The syncs run in the background: watch them on the subscriptions page.
  let sawProgress = false;
  await reloadUntil('/subscriptions', async () => {
    const rows = page.locator('main table tbody tr');
    const n = await rows.count();
    const synced = await page.locator('main table tbody tr .badge.ok', { hasText: 'synced' }).count();
    if (await page.locator('main table tbody').getByText(/syncing|queued/).count()) {
      sawProgress = true;
      await shot(page, 'demo-02f-syncing');
    }
    return n === contoso.subscriptions.length && synced === n;
  }, 'every Contoso subscription to sync', 60_000);
  await shot(page, 'demo-02g-synced');
  if (!sawProgress) console.log('# the syncs finished before the page showed them running');
  state.subs = await page.locator('main table tbody tr').evaluateAll((rows) => rows.map((r) => ({
    name: r.querySelector('td a').textContent.trim(),
    id: r.querySelector('td .mono').textContent.trim(),
    seen: Number((r.textContent.match(/(\d+) resources/) || [])[1]),
  })));
  for (const s of state.subs) assert.ok(s.seen > 0, `${s.name} has resources`);
});

// The Azure side, as Contoso's own service principals see it.
const reader = () => azureClient(conn, 'Contoso', 'contoso-reader');
const tagContributor = () => azureClient(conn, 'Contoso', 'contoso-tag-contributor');
const hidden = (r) => Object.keys(r.tags || {}).some((k) => k.toLowerCase().startsWith('hidden-'));

test('3. a Read Tags Only subscription refuses tag edits, and says why', async () => {
  // Bulk-edit (step 4) the subscription where some App Service sites carry
  // Azure's hidden-related tags; make another one read-only.
  const az = reader();
  const withHidden = [];
  for (const s of state.subs) {
    if ((await az.resources(s.id)).some(hidden)) withHidden.push(s);
  }
  assert.ok(withHidden.length > 0, 'some Contoso subscription has resources with hidden-related tags');
  state.bulkSub = withHidden[0];
  state.roSub = state.subs.find((s) => s !== state.bulkSub);

  await go('/subscriptions');
  await page.getByRole('link', { name: state.roSub.name }).click();
  await page.getByRole('heading', { name: state.roSub.name, level: 1 }).waitFor();
  await page.getByRole('radio', { name: /Read Tags Only/ }).check();
  await page.getByRole('button', { name: 'Save sync level' }).click();
  await page.locator('label.level.current', { hasText: 'Read Tags Only' }).waitFor();
  await shot(page, 'demo-03a-read-tags-only');

  // The resource page offers no editing, and explains.
  await page.getByRole('link', { name: /\d+ resources/ }).click();
  await page.getByRole('heading', { name: 'Resources' }).waitFor();
  const first = page.locator('main table tbody tr td a').first();
  const name = (await first.textContent()).trim();
  await first.click();
  await page.getByRole('heading', { name, level: 1 }).waitFor();
  assert.equal(await page.getByRole('link', { name: 'Edit tags' }).count(), 0, 'no Edit tags button on a read-only subscription');
  assert.match(await page.locator('main .notice').textContent(), /Read Tags Only/);
  await shot(page, 'demo-03b-resource-read-only');

  // Editing it anyway (a bookmarked editor, say) is refused with the reason.
  const id = new URL(page.url()).searchParams.get('id');
  await go('/tag-edits/new?id=' + encodeURIComponent(id));
  await page.locator('#mk0').fill('Project');
  await page.locator('#mv0').fill('Atlas');
  await page.getByRole('button', { name: 'Preview changes' }).click();
  const refusal = page.locator('main [role=alert]');
  await refusal.waitFor();
  assert.match(await refusal.textContent(), new RegExp(`${state.roSub.name}.*Read Tags Only`, 's'));
  assert.equal(await page.getByRole('button', { name: /^Apply to/ }).count(), 0, 'nothing to apply');
  await shot(page, 'demo-03c-edit-refused');
});

test('4. bulk-tag a subscription, skip what Azure would refuse, and see it in Azure', async () => {
  const sub = state.bulkSub;
  await go('/resources');
  await page.getByLabel('Subscription').selectOption({ label: sub.name });
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForURL(/subscription=/);
  await shot(page, 'demo-04a-resources');
  const rows = await page.locator('main table tbody tr').count();
  assert.ok(rows > 0, 'the subscription has resources');
  await page.getByRole('link', { name: 'Edit tags of all matching' }).click();
  await page.getByRole('heading', { name: 'Edit tags' }).waitFor();
  await page.locator('#mk0').fill('Project');
  await page.locator('#mv0').fill('Atlas');
  await page.getByRole('button', { name: 'Preview changes' }).click();
  await page.getByRole('heading', { name: 'Preview' }).waitFor();
  const refused = page.locator('main [role=alert]');
  assert.match(await refused.textContent(), /hidden-related/);
  const apply = page.getByRole('button', { name: /^Apply to \d+ resources, skip \d+$/ });
  const [, n, m] = (await apply.textContent()).match(/Apply to (\d+) resources, skip (\d+)/).map(Number);
  assert.ok(n > 0 && m > 0);
  state.bulk = { n, m };
  await shot(page, 'demo-04b-preview');
  await apply.click();

  await page.getByRole('heading', { name: /^Tag edit \d+$/ }).waitFor();
  const editPath = new URL(page.url()).pathname;
  await shot(page, 'demo-04c-edit-pending');
  await reloadUntil(editPath, async () => (await page.locator('main dd .badge').first().textContent()).trim() === 'done',
    'the edit to be done');
  assert.match(await page.locator('main dl').textContent(), new RegExp(`${n}: ${n} applied, 0 failed, 0 in conflict`));
  await shot(page, 'demo-04d-edit-applied');

  // In Azure now: every resource without Azure's hidden tags has the tag.
  const inAzure = await reader().resources(sub.id);
  const tagged = inAzure.filter((r) => r.tags?.Project === 'Atlas');
  assert.equal(tagged.length, n, 'the edited resources carry Project=Atlas in Azure');
  assert.ok(inAzure.filter(hidden).every((r) => r.tags?.Project !== 'Atlas'), 'the refused ones were left alone');
  state.target = tagged[0];
});

test('5. a change made in Azure meanwhile is a conflict, and you decide', async () => {
  const target = state.target;
  await go('/resource?id=' + encodeURIComponent(target.id));
  await page.getByRole('link', { name: 'Edit tags' }).click();
  await page.getByRole('heading', { name: 'Edit tags' }).waitFor();
  await page.locator('#mk0').fill('Project');
  await page.locator('#mv0').fill('Borealis');
  await page.getByRole('button', { name: 'Preview changes' }).click();
  await page.getByRole('button', { name: 'Apply to 1 resources' }).waitFor();
  // Someone changes the tag in Azure. Steward compares Azure with what it
  // last saw when the edit was submitted, and the write-back job starts
  // within a second of submitting, so changing Azure after the click would
  // race it: change it after Steward's last sync and before it writes.
  await tagContributor().mergeTags(target.id, { Project: 'Cassiopeia' });
  await page.getByRole('button', { name: 'Apply to 1 resources' }).click();
  await page.getByRole('heading', { name: /^Tag edit \d+$/ }).waitFor();
  const editPath = new URL(page.url()).pathname;
  await reloadUntil(editPath, async () => (await page.locator('main dd .badge').first().textContent()).trim() === 'conflict',
    'the write-back to find the conflict');
  await shot(page, 'demo-05a-edit-conflict');

  await page.getByRole('link', { name: 'Tag edits' }).click();
  const conflicts = page.getByRole('table', { name: 'Conflicts' });
  await conflicts.waitFor();
  const row = conflicts.locator('tbody tr', { hasText: target.id });
  assert.match(await row.textContent(), /Atlas.*Cassiopeia.*Borealis/s, 'Steward saw Atlas, Azure has Cassiopeia, the edit wants Borealis');
  await shot(page, 'demo-05b-conflicts');
  await row.getByRole('button', { name: 'Apply the edit' }).click();
  await reloadUntil(editPath, async () => (await page.locator('main dd .badge').first().textContent()).trim() === 'done',
    'the resolved edit to be done');
  await shot(page, 'demo-05c-resolved');
  const now = (await reader().resources(state.bulkSub.id)).find((r) => r.id === target.id);
  assert.equal(now.tags.Project, 'Borealis', "Steward's value won in Azure");
});

// Spend is fetched once a subscription's first sync is done (then daily):
// wait for it as a person would, reloading.
test('6. spend grouped by a tag, as a chart', async () => {
  await reloadUntil('/costs', async () => !(await page.getByText('No spend in this period').count()), 'spend fetched', 60_000);
  await page.getByRole('heading', { name: 'Spend', exact: true }).waitFor();
  const groupBy = page.getByLabel('Group by');
  const tagOption = groupBy.locator('option[value^="tag:"]', { hasText: /project/i });
  assert.equal(await tagOption.count(), 1, 'the tag written in step 4 is offered as a grouping');
  await groupBy.selectOption(await tagOption.getAttribute('value'));
  await page.getByRole('button', { name: 'Show' }).click();
  await page.waitForURL(/groupBy=tag/);
  await shot(page, 'demo-06-spend-by-tag');
  const chart = page.locator('figure.chart svg[role=img]');
  assert.equal(await chart.count(), 1, 'a chart is drawn');
  const heights = await chart.locator('rect').evaluateAll((rs) => rs.map((r) => Number(r.getAttribute('height'))));
  assert.ok(heights.some((h) => h > 0), 'some bar has a height');
  const total = await page.locator('#chart-title').textContent();
  assert.doesNotMatch(total, /^\D*0(\.00)?\D*from/, `the total is not zero: ${total}`);
});

// A delegation as a partner would paste it: a template with an Owner
// authorization, which Lighthouse refuses.
function lighthouseTemplate(managedBy, role) {
  return JSON.stringify({
    $schema: 'https://schema.management.azure.com/schemas/2019-08-01/subscriptionDeploymentTemplate.json#',
    contentVersion: '1.0.0.0',
    parameters: {},
    variables: { name: "[guid('Adatum manages Contoso')]" },
    resources: [
      {
        type: 'Microsoft.ManagedServices/registrationDefinitions', apiVersion: '2022-10-01', name: "[variables('name')]",
        properties: {
          registrationDefinitionName: 'Adatum manages Contoso',
          description: 'Adatum Partners operates Contoso subscriptions',
          managedByTenantId: managedBy,
          authorizations: [
            { principalId: '3f2a9c1e-7b4d-4e8a-b6f0-9d1c2e3a4b5c', principalIdDisplayName: 'Steward', roleDefinitionId: '4a9ae827-6dc8-4573-8ac7-8239d42aa03f' },
            { principalId: '8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d', principalIdDisplayName: 'Offboarding', roleDefinitionId: '91c1777a-f3dc-4fae-b103-61d183457e46' },
            { principalId: 'c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f', principalIdDisplayName: 'Operators', roleDefinitionId: role },
          ],
        },
      },
      {
        type: 'Microsoft.ManagedServices/registrationAssignments', apiVersion: '2022-10-01', name: "[variables('name')]",
        dependsOn: ["[resourceId('Microsoft.ManagedServices/registrationDefinitions/', variables('name'))]"],
        properties: { registrationDefinitionId: "[resourceId('Microsoft.ManagedServices/registrationDefinitions/', variables('name'))]" },
      },
    ],
  }, null, 2);
}

test('7. Lighthouse: an Owner delegation is refused, a Contributor one passes', async () => {
  const owner = '8e3af657-a8ff-443c-a75c-2fe8c4bcb635';
  const contributor = 'b24988ac-6180-42a0-ab88-20f7382dd24c';
  const partner = conn.tenants.find((t) => t.kind === 'partner').id;
  await page.getByRole('link', { name: 'Lighthouse' }).click();
  await page.getByRole('heading', { name: 'Azure Lighthouse' }).waitFor();
  await page.getByLabel('ARM template or registration definition (JSON)').fill(lighthouseTemplate(partner, owner));
  await page.getByRole('button', { name: 'Check', exact: true }).click();
  const result = page.locator('main .result[role=status]');
  await result.waitFor();
  assert.match(await result.locator('.notice').textContent(), /1 error\b/);
  const finding = result.getByRole('table', { name: 'Findings' }).locator('tbody tr', { hasText: 'owner' });
  assert.equal(await finding.count(), 1, 'the Owner authorization is the error');
  await shot(page, 'demo-07a-lighthouse-owner');

  const fixed = (await page.getByLabel('ARM template or registration definition (JSON)').inputValue()).replace(owner, contributor);
  await page.getByLabel('ARM template or registration definition (JSON)').fill(fixed);
  await page.getByRole('button', { name: 'Check', exact: true }).click();
  await page.locator('main .result .notice.ok', { hasText: 'No errors.' }).waitFor();
  await shot(page, 'demo-07b-lighthouse-fixed');
});

test('8. rotate a credential, and turn write access off', async () => {
  await page.getByRole('link', { name: 'Tenants' }).click();
  await page.getByRole('link', { name: 'Contoso' }).click();
  await page.getByRole('heading', { name: 'Contoso', level: 1 }).waitFor();
  // Consent-connected: Steward signs in with its own app, so Contoso has no
  // customer secret to rotate.
  const contosoCreds = page.locator('section', { has: page.getByRole('heading', { name: 'Credentials' }) });
  assert.match(await contosoCreds.textContent(), /no customer secret to keep/);
  assert.equal(await contosoCreds.locator('summary', { hasText: 'Rotate' }).count(), 0);
  await shot(page, 'demo-08a-consent-credentials');

  // Secrets live with service-principal connections: connect Northwind with
  // the app registration it made for Steward (allowed to manage its own
  // secrets, so Steward can rotate it through Graph).
  const nw = conn.tenants.find((t) => t.name === 'Northwind Traders');
  const app = nw.servicePrincipals.find((p) => p.name === 'northwind-steward');
  await go('/tenants/connect');
  const sp = page.locator('form[action="/tenants/connect/service-principal"]');
  await sp.getByLabel('Name').fill('Northwind');
  await sp.getByLabel('Tenant (directory) ID').fill(nw.id);
  await sp.getByLabel('Client (application) ID').fill(app.clientId);
  await sp.getByLabel('Client secret').first().fill(app.clientSecret); // the read credential's
  await sp.getByRole('button', { name: 'Check and connect' }).click();
  await page.getByRole('heading', { name: 'Northwind', level: 1 }).waitFor();
  const creds = page.getByRole('table', { name: 'Credentials' });
  assert.equal(await creds.locator('tbody tr').count(), 1);
  await shot(page, 'demo-08b-northwind-connected');
  // Rotating with no secret typed: Steward adds a new one through Graph,
  // proves it works, switches to it and removes the old one from the app.
  await creds.locator('summary', { hasText: 'Rotate' }).click();
  await creds.getByRole('button', { name: 'Rotate now' }).click();
  await page.getByText('Credential rotated').waitFor();
  const statuses = (await creds.locator('tbody tr td:nth-child(3)').allTextContents()).map((t) => t.trim()).sort();
  assert.deepEqual(statuses, ['active', 'retired']);
  await page.getByRole('button', { name: 'Validate now' }).click();
  await page.getByText('Permissions checked').or(page.getByRole('table', { name: 'Permissions per subscription' })).first().waitFor();
  const verdicts = await page.getByRole('table', { name: 'Permissions per subscription' }).locator('tbody .badge').allTextContents();
  assert.ok(verdicts.length > 0 && verdicts.every((v) => v.trim() === 'fine'), `the new secret works: ${verdicts}`);
  await shot(page, 'demo-08c-rotated');

  // Write access off for Contoso: edits there are refused, and say why.
  await go('/tenants/' + state.tenantId);
  await page.getByRole('button', { name: 'Turn write access off', exact: true }).click();
  await page.getByText('Steward writes nothing to this tenant.').waitFor();
  await shot(page, 'demo-08d-write-off');
  await go('/tag-edits/new?id=' + encodeURIComponent(state.target.id));
  await page.locator('#mk0').fill('Project');
  await page.locator('#mv0').fill('Draco');
  await page.getByRole('button', { name: 'Preview changes' }).click();
  const refusal = page.locator('main [role=alert]');
  await refusal.waitFor();
  assert.match(await refusal.textContent(), /Write access is off for tenant Contoso/);
  await shot(page, 'demo-08e-edit-refused-write-off');
});

test('9. the audit log has it all, and its chain verifies', async () => {
  await page.getByRole('link', { name: 'Audit log' }).click();
  await page.getByRole('heading', { name: 'Audit log' }).waitFor();
  const expect = {
    'user.login': /admin/,
    'tenant.consent_started': /./,
    'tenant.consent_granted': /./,
    'tenant.connect': /Contoso/,
    'role_assignment.create': /Tag Contributor/,
    'subscription.sync_level': new RegExp(state.roSub.id),
    'tags.edit': /Project=Atlas/,
    'tags.write': /Project=Borealis/,
    'tags.conflict': /Cassiopeia/,
    'tags.conflict_resolved': /apply Steward's edit/,
    'lighthouse.validate': /./,
    'credential.add': /051ed321|Adatum|graph/,
    'credential.activate': /./,
    'credential.retire': /./,
    'tenant.write_access': /./,
  };
  for (const [action, detail] of Object.entries(expect)) {
    await page.getByLabel('Action').fill(action);
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(new RegExp('action=' + action.replace('.', '\\.')));
    const rows = page.getByRole('table', { name: 'Audit events, newest first' }).locator('tbody tr');
    const texts = await rows.allTextContents();
    assert.ok(texts.some((t) => t.includes(action) && detail.test(t)), `an audit event ${action} matching ${detail}; got ${texts.length} rows`);
  }
  await page.getByLabel('Action').fill('tags.conflict');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForURL(/action=tags\.conflict/);
  await shot(page, 'demo-09a-audit-tags');
  await page.getByRole('button', { name: 'Verify the hash chain' }).click();
  const verdict = page.locator('main section[role=status]');
  await verdict.waitFor();
  assert.equal((await verdict.locator('h2').textContent()).trim(), 'The chain is intact');
  await shot(page, 'demo-09b-audit-verified');
});

// The main pages, with what the steps above put in them, on a 375 px phone:
// no sideways scrolling of the page itself (wide tables scroll in their own
// box), and no serious or critical accessibility violation by axe-core.
const mainPages = ['/', '/tenants', '/subscriptions', '/resources', '/tag-edits', '/costs', '/audit', '/lighthouse'];

test('10. the main pages fit 375 px and pass axe-core', async () => {
  const problems = [];
  for (const width of [375, 1280]) {
    // bypassCSP lets axe's script in: the pages allow their own scripts only.
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true, bypassCSP: true, viewport: { width, height: 800 },
      storageState: await context.storageState() });
    const p = await ctx.newPage();
    try {
      for (const path of mainPages) {
        await p.goto(steward.url + path);
        assert.ok(!/\/login/.test(p.url()), `signed in on ${path}`);
        const scrollWidth = await p.evaluate(() => document.documentElement.scrollWidth);
        if (scrollWidth > width + 1) problems.push(`${path} at ${width}px: the page is ${scrollWidth}px wide`);
        await p.addScriptTag({ path: axePath });
        const violations = await p.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] })).violations
          .filter((v) => v.impact === 'serious' || v.impact === 'critical')
          .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')}`));
        for (const v of violations) problems.push(`${path} at ${width}px: ${v}`);
        if (width === 375) await shot(p, 'demo-10-375px' + (path === '/' ? '-dashboard' : path.replace(/\//g, '-')));
      }
    } finally {
      await ctx.close();
    }
  }
  assert.deepEqual(problems, []);
});
