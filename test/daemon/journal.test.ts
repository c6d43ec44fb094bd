// Persistence of API subscriber edits through the journal next to the config file: an edit is
// journaled before the API answers (the file is not rewritten), a daemon started on the same
// file — after a clean stop or a kill — replays it and folds it into the file, the journal is
// folded when the API goes quiet, and an operator's edit of the file wins over the journal,
// which is kept aside rather than lost.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { journalPathFor } from '../../control/daemon/journal.js';
import { call, CONFIG, startHarness, type Harness } from '../api/fakes.js';

const MOVE = { subscriber: { mac: '02:00:00:00:00:01', isp: 'beta' } };
const macKey = '020000000001' + '0000';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** journal lines after the header */
const journaled = (path: string) => readFileSync(journalPathFor(path), 'utf8').split('\n').filter(Boolean).slice(1);

describe('the journal of subscriber edits', () => {
  const open: Harness[] = [];
  const start = async (...args: Parameters<typeof startHarness>) => {
    const h = await startHarness(...args);
    open.push(h);
    return h;
  };
  afterEach(async () => {
    for (const h of open.splice(0).reverse()) await h.close();
  });
  // never folded by size or time unless a test says so
  const keep = { compactRatio: 1e9, compactIdleMs: 1e9 };

  it('journals a move instead of rewriting the file, and a restarted daemon keeps it', async () => {
    const h1 = await start(CONFIG, keep);
    const file = readFileSync(h1.configPath, 'utf8');
    expect((await call(h1, 'POST', '/v1/subscribers/move', MOVE)).status).toBe(200);
    expect(readFileSync(h1.configPath, 'utf8')).toBe(file);
    const lines = journaled(h1.configPath);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ trigger: 'api:subscriber-move', op: { op: 'move', subscriber: { match: { mac: '02:00:00:00:00:01' }, isp: 'beta' } } });

    // h1 is left running, as if killed: nothing else of it reaches the disk
    const h2 = await start(undefined, { ...keep, configPath: h1.configPath });
    expect((await call(h2, 'GET', '/v1/subscribers')).json.subscribers).toEqual([{ name: 's1', match: { mac: '02:00:00:00:00:01' }, isp: 'beta' }]);
    expect(h2.maps.get('sub_mac')!.data.get(macKey)!.readUInt32LE(0)).toBe(2);
    // folded into the file at start; the journal starts over
    expect(parse(readFileSync(h1.configPath, 'utf8')).subscribers[0]).toMatchObject({ name: 's1', isp: 'beta' });
    expect(journaled(h1.configPath)).toEqual([]);
  });

  it('replays assigns, moves and removes in order', async () => {
    const h1 = await start(CONFIG, keep);
    expect((await call(h1, 'POST', '/v1/subscribers', { subscriber: { mac: '02:00:00:00:00:02', isp: 'alpha' } })).status).toBe(201);
    expect((await call(h1, 'POST', '/v1/subscribers/move', { subscriber: { mac: '02:00:00:00:00:02', isp: 'beta' } })).status).toBe(200);
    expect((await call(h1, 'POST', '/v1/subscribers', { subscriber: { vlan: { interface: 'acc', outer: 100 }, isp: 'beta' } })).status).toBe(201);
    expect((await call(h1, 'POST', '/v1/subscribers/remove', { match: { mac: '02:00:00:00:00:01' } })).status).toBe(200);
    expect(journaled(h1.configPath)).toHaveLength(4);
    const h2 = await start(undefined, { ...keep, configPath: h1.configPath });
    expect((await call(h2, 'GET', '/v1/config')).json.config).toEqual((await call(h1, 'GET', '/v1/config')).json.config);
    expect(h2.snapshot()).toBe(h1.snapshot());
  });

  it('folds the journal into the file when the API goes quiet', async () => {
    const h = await start(CONFIG, { compactRatio: 1e9, compactIdleMs: 50 });
    expect((await call(h, 'POST', '/v1/subscribers/move', MOVE)).status).toBe(200);
    for (let i = 0; i < 100 && journaled(h.configPath).length > 0; i++) await sleep(20);
    expect(journaled(h.configPath)).toEqual([]);
    expect(parse(readFileSync(h.configPath, 'utf8')).subscribers[0]).toMatchObject({ name: 's1', isp: 'beta' });
  });

  it('folds the journal into the file once it outgrows its share of the file', async () => {
    const h = await start(CONFIG, { compactRatio: 1 / 8, compactIdleMs: 1e9 });
    const file = readFileSync(h.configPath, 'utf8');
    expect((await call(h, 'POST', '/v1/subscribers/move', MOVE)).status).toBe(200);
    // one line of a few hundred bytes is more than an eighth of this small file
    expect(readFileSync(h.configPath, 'utf8')).not.toBe(file);
    expect(journaled(h.configPath)).toEqual([]);
  });

  it('an operator edit of the file while edits are journaled wins; the journal is kept aside', async () => {
    const h = await start(CONFIG, keep);
    expect((await call(h, 'POST', '/v1/subscribers/move', MOVE)).status).toBe(200);
    writeFileSync(h.configPath, CONFIG.replace('labels: [200]', 'labels: [201]'));
    await h.daemon.reload('test');
    // the file as written: the new label, and s1 still with alpha (the move is not in it)
    expect((await call(h, 'GET', '/v1/subscribers')).json.subscribers[0].isp).toBe('alpha');
    expect(h.maps.get('sub_mac')!.data.get(macKey)!.readUInt32LE(0)).toBe(1);
    expect((await call(h, 'GET', '/v1/fecs')).json.upstream[1].labels).toEqual([201]);
    expect(journaled(h.configPath)).toEqual([]);
    const aside = readdirSync(dirname(h.configPath)).filter((f) => f.includes('.journal.replaced-'));
    expect(aside).toHaveLength(1);
    expect(readFileSync(`${dirname(h.configPath)}/${aside[0]}`, 'utf8')).toContain('"isp":"beta"');
  });

  it('a file edited while the daemon was down wins over the journal, which is kept aside', async () => {
    const h1 = await start(CONFIG, keep);
    expect((await call(h1, 'POST', '/v1/subscribers/move', MOVE)).status).toBe(200);
    writeFileSync(h1.configPath, CONFIG.replace('labels: [200]', 'labels: [202]'));
    const h2 = await start(undefined, { ...keep, configPath: h1.configPath });
    expect((await call(h2, 'GET', '/v1/subscribers')).json.subscribers[0].isp).toBe('alpha');
    expect(existsSync(journalPathFor(h1.configPath))).toBe(true);
    expect(journaled(h1.configPath)).toEqual([]);
    expect(readdirSync(dirname(h1.configPath)).filter((f) => f.includes('.journal.stale-'))).toHaveLength(1);
  });

  it('leaves out a last line cut off by a crash', async () => {
    const h1 = await start(CONFIG, keep);
    expect((await call(h1, 'POST', '/v1/subscribers/move', MOVE)).status).toBe(200);
    writeFileSync(journalPathFor(h1.configPath), `${readFileSync(journalPathFor(h1.configPath), 'utf8')}{"at":"2026-01-01T00:00:00Z","trig`);
    const h2 = await start(undefined, { ...keep, configPath: h1.configPath });
    expect((await call(h2, 'GET', '/v1/subscribers')).json.subscribers[0].isp).toBe('beta');
  });
});
