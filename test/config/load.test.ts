// Reading configuration files and text: the documented examples load, and an unreadable,
// empty or half-written file is an error — never an empty configuration.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ConfigError, loadConfigFile, parseConfig } from '../../control/config/index.js';

const examples = join(import.meta.dirname, '../../deploy/examples');
const dir = mkdtempSync(join(tmpdir(), 'fecflow-config-'));

async function loadError(path: string): Promise<ConfigError> {
  try {
    await loadConfigFile(path);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error(`${path} loaded`);
}

function parseError(text: string, format?: 'yaml' | 'json'): ConfigError {
  try {
    parseConfig(text, format);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('parsed');
}

describe('the documented examples', () => {
  test('headend.yaml: five subscribers, two ISPs, ECMP upstream, pop-to-subscriber labels', async () => {
    const c = await loadConfigFile(join(examples, 'headend.yaml'));
    expect(c.node).toBe('headend-1');
    expect(c.subscribers.map((s) => s.name)).toEqual(['alice', 'bob', 'carol-block', 'dave', 'erin']);
    expect(c.isps[0]!.upstream!.nexthop).toHaveLength(2);
    expect(c.isps[0]!.policer.up).toEqual({ rate: 100_000_000, burst: 262_144 });
    expect(c.subscribers[1]).toEqual({
      name: 'bob',
      isp: 'beta',
      match: { vlan: { interface: 'access0', outer: 100, inner: 7, tpid: '802.1ad' } },
      deliver: { mac: '02:00:00:00:01:02', addresses: ['10.0.0.2/32'] },
    });
    expect(c.ilm.map((b) => b.action)).toEqual(['pop-to-subscriber', 'pop-to-subscriber']);
  });

  test('lsr.yaml: swaps, PHP and pop-continue, no subscribers', async () => {
    const c = await loadConfigFile(join(examples, 'lsr.yaml'));
    expect(c.ilm.map((b) => `${b.label}:${b.action}`)).toEqual([
      '1001:swap',
      '1002:swap',
      '3001:swap',
      '3002:swap',
      '5000:pop-forward',
      '6000:pop-continue',
    ]);
    expect(c.subscribers).toEqual([]);
  });

  test('tailend.yaml: ISP links (one a VLAN of a shared port), routes, pop-to-isp', async () => {
    const c = await loadConfigFile(join(examples, 'tailend.yaml'));
    expect(c.interfaces.find((i) => i.name === 'isp-beta')).toMatchObject({ device: 'veth-te-shared', vlan: 200, role: 'isp' });
    expect(c.isps[0]!.downstream!.routes.map((r) => r.prefix)).toEqual(['100.64.0.0/16', '10.0.0.0/8', '2001:db8:100::/48']);
    expect(c.ilm.map((b) => b.action)).toEqual(['pop-to-isp', 'pop-to-isp']);
  });

  test('small-site.yaml: every role on one router, pipe mode, pass unknown end-users', async () => {
    const c = await loadConfigFile(join(examples, 'small-site.yaml'));
    expect(c.interfaces.map((i) => i.role)).toEqual(['access', 'core', 'isp']);
    expect(c.ttlMode).toBe('pipe');
    expect(c.unknownSubscriber).toBe('pass');
    expect(c.isps[1]!.upstream!.labels).toEqual([16010, 1103]);
  });

  test('each example is also accepted as JSON with the same result', async () => {
    for (const name of ['headend', 'lsr', 'tailend', 'small-site']) {
      const c = await loadConfigFile(join(examples, `${name}.yaml`));
      const path = join(dir, `${name}.json`);
      writeFileSync(path, JSON.stringify(c));
      expect(await loadConfigFile(path)).toEqual(c);
    }
  });
});

describe('files that are not a configuration', () => {
  test('a missing file', async () => {
    const e = await loadError(join(dir, 'nope.yaml'));
    expect(e.issues).toEqual([{ path: '', message: expect.stringMatching(/^cannot read .*nope\.yaml: ENOENT/) }]);
    expect(e.message).toContain('nope.yaml: invalid configuration');
  });

  test('an empty file, and one with only comments', async () => {
    writeFileSync(join(dir, 'empty.yaml'), '');
    writeFileSync(join(dir, 'comments.yaml'), '# nothing yet\n');
    writeFileSync(join(dir, 'empty.json'), '  \n');
    expect((await loadError(join(dir, 'empty.yaml'))).issues).toEqual([{ path: '', message: 'the configuration is empty' }]);
    expect((await loadError(join(dir, 'comments.yaml'))).issues).toEqual([{ path: '', message: 'the configuration is empty (only comments)' }]);
    expect((await loadError(join(dir, 'empty.json'))).issues).toEqual([{ path: '', message: 'the configuration is empty' }]);
  });

  test('a YAML file cut off in the middle of a line', async () => {
    const text = readFileSync(join(examples, 'headend.yaml'), 'utf8');
    const cut = text.slice(0, text.indexOf('neighbour: lsr-2') + 9);
    writeFileSync(join(dir, 'cut.yaml'), cut);
    const e = await loadError(join(dir, 'cut.yaml'));
    expect(e.issues[0]!.message).toContain('truncated');
  });

  test('a YAML file cut anywhere but at a line end never loads', async () => {
    // A cut exactly at a line end can still be a valid, smaller YAML document: no parser can
    // tell. That is why the README asks for atomic writes (write a temp file, rename it).
    const text = readFileSync(join(examples, 'headend.yaml'), 'utf8');
    const path = join(dir, 'cut-any.yaml');
    let cuts = 0;
    for (let at = 1; at < text.length - 1; at += 7) {
      if (text[at - 1] === '\n') continue;
      writeFileSync(path, text.slice(0, at));
      await loadError(path);
      cuts++;
    }
    expect(cuts).toBeGreaterThan(500);
  });

  test('truncated JSON', () => {
    const e = parseError('{"node": "r1", "isps": [{"id": 1, "na');
    expect(e.issues).toEqual([{ path: '', message: expect.stringContaining('not valid JSON (truncated or half-written?)') }]);
  });

  test('YAML with a syntax error reports it with the line', () => {
    const e = parseError('node: r1\ninterfaces:\n  - name: a\n   role: core\n  bad\n', 'yaml');
    expect(e.issues.length).toBeGreaterThan(0);
    expect(e.issues[0]!.message).toMatch(/not valid YAML .* at line \d+/);
  });

  test('YAML with a duplicate key is an error, not last-one-wins', () => {
    const e = parseError('node: r1\nnode: r2\n', 'yaml');
    expect(e.issues[0]!.message).toContain('not valid YAML');
  });

  test('a document that is not a mapping', () => {
    expect(parseError('- a\n- b\n').issues).toEqual([{ path: '', message: expect.stringContaining('must be a mapping') }]);
    expect(parseError('42', 'json').issues).toHaveLength(1);
  });
});

describe('parseConfig', () => {
  test('guesses JSON from a leading brace and YAML otherwise', () => {
    expect(parseConfig('{"node":"r1"}').node).toBe('r1');
    expect(parseConfig('node: r2').node).toBe('r2');
  });

  test('reads an unquoted MAC as a string (YAML 1.2, no base-60 numbers)', () => {
    const c = parseConfig('node: r1\ninterfaces:\n  - name: c\n    role: core\n    neighbours:\n      p: 02:00:00:00:00:01\n');
    expect(c.interfaces[0]!.neighbours).toEqual({ p: '02:00:00:00:00:01' });
  });
});
