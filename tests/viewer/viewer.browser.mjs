// Browser test of `r1 serve`: generates the fixture database, starts the server on a free port, and
// drives Debian's chromium (headless, through playwright-core) the way a user would: filter the
// trace list, page through it, search, open a trace, open the charts. Screenshots of the three
// pages land in the working directory (build/tests/viewer_browser/). Run by ctest as viewer_browser;
// the environment names the binaries: R1_BINARY, R1_FIXTURE_DB, and optionally R1_CHROMIUM.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

const r1Binary = requiredEnv('R1_BINARY');
const fixtureTool = requiredEnv('R1_FIXTURE_DB');
const chromiumPath = process.env.R1_CHROMIUM || '/usr/bin/chromium';
const workDir = process.cwd();

function requiredEnv(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this test through ctest (tests/CMakeLists.txt sets it)`);
  return value;
}

async function loadPlaywright() {
  const nodeMajor = Number(process.versions.node.split('.')[0]);
  if (nodeMajor < 20) throw new Error(`playwright-core needs Node >= 20; this is Node ${process.versions.node}`);
  try {
    return (await import('playwright-core')).chromium;
  } catch (error) {
    throw new Error(`playwright-core is not installed (run scripts/setup, which runs npm ci at the repository root): ${error.message}`);
  }
}

// Starts `r1 serve` and resolves with its URL once it prints "listening on http://HOST:PORT".
function startServer(db) {
  const child = spawn(r1Binary, ['serve', '--db', db, '--port', '0', '--threads', '2'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const url = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('r1 serve printed no "listening on" line within 60 s')), 60000);
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      const match = /^listening on (http:\/\/\S+)$/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    exited.then(({ code }) => reject(new Error(`r1 serve exited with code ${code} before listening`)));
  });
  return { child, url, exited };
}

async function launchChromium(chromium) {
  if (!fs.existsSync(chromiumPath)) throw new Error(`chromium not found at ${chromiumPath} (scripts/setup installs Debian's chromium; R1_CHROMIUM names another)`);
  try {
    // --no-sandbox: CI runs as root, where chromium refuses its sandbox.
    return await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox'], timeout: 60000 });
  } catch (error) {
    throw new Error(`chromium at ${chromiumPath} could not start: ${error.message}`);
  }
}

// The rows of the trace table as {id, stage, step, reward}.
async function tableRows(page) {
  return page.$$eval('table.traces tbody tr', (rows) =>
    rows.map((row) => ({ id: Number(row.dataset.id), stage: row.dataset.stage, step: Number(row.dataset.step), reward: Number(row.dataset.reward) })));
}

async function total(page) {
  return Number(await page.getAttribute('.total', 'data-total'));
}

async function submitFilters(page) {
  await Promise.all([page.waitForLoadState('load'), page.waitForURL(/\?/), page.click('form.filters button[type=submit]')]);
}

async function main() {
  const chromium = await loadPlaywright();
  const db = path.join(workDir, 'viewer-browser.db');
  for (const suffix of ['', '-wal', '-shm']) fs.rmSync(db + suffix, { force: true });
  const fixture = JSON.parse(execFileSync(fixtureTool, [db]).toString());
  const server = startServer(db);
  let browser;
  try {
    const base = await server.url;
    console.log(`server at ${base}; fixture ${JSON.stringify(fixture)}`);
    browser = await launchChromium(chromium);
    const problems = [];  // dialogs (an alert() that ran) and uncaught page errors
    const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    page.on('dialog', async (dialog) => { problems.push(`dialog: ${dialog.message()}`); await dialog.dismiss(); });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));

    // --- The list: every trace counted, one page of rows.
    await page.goto(base + '/');
    assert.equal(await total(page), fixture.traces, 'the list counts every trace');
    const firstPage = await tableRows(page);
    assert.equal(firstPage.length, 20, 'one page of 20 rows');

    // --- Paging: next shows the following 20, previous goes back.
    await Promise.all([page.waitForURL(/offset=20/), page.click('nav.pager a.next')]);
    const secondPage = await tableRows(page);
    assert.equal(secondPage.length, 20);
    assert.ok(secondPage.every((row) => !firstPage.some((first) => first.id === row.id)), 'page 2 repeats no row of page 1');
    assert.match(await page.textContent('.range'), /21.40/);
    await Promise.all([page.waitForURL((url) => !url.search.includes('offset')), page.click('nav.pager a.prev')]);
    assert.deepEqual((await tableRows(page)).map((row) => row.id), firstPage.map((row) => row.id));

    // --- Filters: a stage and a minimum reward; every row shown matches, and the count drops.
    await page.selectOption('select[name=stage]', 'reasoning_rl');
    await page.fill('input[name=min_reward]', '1.5');
    await page.selectOption('select[name=limit]', '100');
    await submitFilters(page);
    const filteredTotal = await total(page);
    const filtered = await tableRows(page);
    assert.ok(filteredTotal > 0 && filteredTotal < fixture.traces, `filtered count ${filteredTotal} is below ${fixture.traces}`);
    assert.equal(filtered.length, Math.min(filteredTotal, 100));
    for (const row of filtered) {
      assert.equal(row.stage, 'reasoning_rl');
      assert.ok(row.reward >= 1.5, `row ${row.id} has reward ${row.reward}`);
    }
    assert.equal(await page.inputValue('input[name=min_reward]'), '1.5', 'the form keeps its values');
    const api = await (await fetch(base + '/api/traces?stage=reasoning_rl&min_reward=1.5')).json();
    assert.equal(api.total, filteredTotal, 'the page and /api/traces agree');
    await page.screenshot({ path: path.join(workDir, 'viewer-list.png'), fullPage: false });

    // --- Search: a rare word; every match contains it.
    await page.goto(base + '/');
    await page.fill('input[name=q]', 'zebra');
    await submitFilters(page);
    const matches = await page.$$eval('table.traces td.preview', (cells) => cells.map((cell) => cell.textContent));
    assert.ok(matches.length > 0, 'the search finds something');
    for (const text of matches) assert.match(text, /zebra/);

    // --- A trace: reasoning and answer apart, the reward and its components.
    await Promise.all([page.waitForURL(/\/trace\/\d+$/), page.click('table.traces a.trace-link >> nth=0')]);
    const reasoning = await page.textContent('pre.reasoning');
    const answer = await page.textContent('pre.answer');
    assert.match(reasoning, /zebra/);
    assert.match(answer, /^\d+$/, 'the answer is the number inside <answer>');
    assert.ok(!reasoning.includes('<answer>') && !reasoning.includes('<think>'), 'the reasoning holds no tags');
    const components = await page.$$eval('table.components tr', (rows) => rows.map((row) => row.dataset.component));
    assert.ok(components.includes('accuracy') && components.includes('format'), `components: ${components}`);
    assert.match(await page.textContent('tr[data-fact=reward] td'), /^-?\d+\.\d{4}$/);
    await page.screenshot({ path: path.join(workDir, 'viewer-trace.png'), fullPage: true });

    // --- Hostile text shows as text: the trace with <script> and SQL in it runs nothing.
    await page.goto(base + '/?q=alert');
    await Promise.all([page.waitForURL(/\/trace\/\d+$/), page.click('table.traces a.trace-link >> nth=0')]);
    assert.ok((await page.textContent('pre.reasoning')).includes("<script>alert(1)</script> and ' OR 1=1 --"));
    assert.equal(await page.textContent('pre.answer'), '<b>42</b>');
    assert.ok((await page.textContent('pre.prompt')).includes('<img src=x onerror=alert(2)>'));
    assert.equal(await page.$$eval('main script, main img', (nodes) => nodes.length), 0, 'no element was injected');

    // --- Charts: one SVG per stage and metric, one polyline point per step.
    await Promise.all([page.waitForURL(/\/charts$/), page.click('header nav a[href="/charts"]')]);
    for (const [stage, steps] of Object.entries(fixture.steps)) {
      for (const metric of ['reward', 'accuracy', 'length', 'language']) {
        const chart = page.locator(`svg.chart[data-stage="${stage}"][data-metric="${metric}"]`);
        assert.equal(await chart.count(), 1, `chart ${stage}/${metric}`);
        const points = await chart.locator('polyline.line').evaluate((line) => line.points.numberOfItems);
        assert.equal(points, steps, `${stage}/${metric}: one point per step`);
        const box = await chart.boundingBox();
        assert.ok(box && box.width > 200 && box.height > 80, `${stage}/${metric} is drawn (${JSON.stringify(box)})`);
      }
    }
    assert.ok(await page.locator('svg.chart[data-metric="metrics.loss"]').count() >= 1, 'step metrics are charted');
    // A stage without rejection verdicts says so instead of drawing an empty chart.
    assert.match(await page.textContent('.no-data[data-stage="zero"][data-metric="acceptance"]'), /no data/);
    assert.equal(await page.locator('svg.chart[data-stage="rejection_sampling"][data-metric="acceptance"] polyline').count(), 1);
    await page.screenshot({ path: path.join(workDir, 'viewer-charts.png'), fullPage: true });

    assert.deepEqual(problems, [], 'no dialog opened and no script error');
  } catch (error) {
    server.child.kill('SIGKILL');  // a server left running would hold ctest's output pipe open
    throw error;
  } finally {
    await browser?.close();
  }
  server.child.kill('SIGTERM');
  const { code, signal } = await server.exited;
  assert.equal(code, 0, `r1 serve exits 0 on SIGTERM (code ${code}, signal ${signal})`);
  console.log(`viewer browser test passed; screenshots in ${workDir}: viewer-list.png viewer-trace.png viewer-charts.png`);
}

main().catch((error) => {
  console.error(`viewer browser test FAILED: ${error.stack || error}`);
  process.exit(1);
});
