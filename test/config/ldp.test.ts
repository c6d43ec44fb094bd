// The router file's `ldp:` section: defaults, and each mistake with its path and reason.
import { describe, expect, test } from 'vitest';
import { checkConfig } from '../../control/config/index.js';
import { routerDocument } from '../../control/lab/plan.js';

const base = () => routerDocument('lsr', undefined, undefined, { ldp: true }) as Record<string, any>;
const issues = (ldp: unknown) => checkConfig({ ...base(), ldp }).issues.map((i) => `${i.path}: ${i.message}`);

describe('ldp section', () => {
  test('fills in the defaults (transport address = LSR-ID, timers, label range, graceful restart)', () => {
    const c = checkConfig({ ...base(), ldp: { lsrId: '10.255.0.2', interfaces: ['core0'] } });
    expect(c.issues).toEqual([]);
    expect(c.config!.ldp).toEqual({
      enable: true,
      lsrId: '10.255.0.2',
      transportAddress: '10.255.0.2',
      interfaces: ['core0'],
      helloInterval: 5,
      holdTime: 15,
      keepaliveTime: 180,
      labels: { min: 100_000, max: 199_999 },
      staleTimeout: 120,
      releaseTimeout: 60,
      gracefulRestart: true,
      fecs: {},
    });
    expect(checkConfig({ ...base(), ldp: undefined }).config!.ldp).toBeUndefined();
  });

  test.each<[string, unknown, string]>([
    ['a loopback LSR-ID', { lsrId: '127.0.0.1', interfaces: ['core0'] }, 'ldp.lsrId: lsrId must be a unicast address outside 0/8 and 127/8'],
    ['a transport address that is no address', { lsrId: '10.0.0.1', transportAddress: 'lsr', interfaces: ['core0'] }, 'ldp.transportAddress: transportAddress must be an IPv4 address'],
    ['no interface', { lsrId: '10.0.0.1', interfaces: [] }, 'ldp.interfaces: ldp needs at least one interface'],
    ['an unknown interface', { lsrId: '10.0.0.1', interfaces: ['core9'] }, "ldp.interfaces[0]: unknown interface 'core9'"],
    ['reserved labels', { lsrId: '10.0.0.1', interfaces: ['core0'], labels: { min: 3, max: 100 } }, 'ldp.labels.min: labels.min must be at least 16'],
    ['a hold time under three Hellos', { lsrId: '10.0.0.1', interfaces: ['core0'], helloInterval: 5, holdTime: 10 }, 'ldp.holdTime: holdTime 10 s should be at least three Hello intervals'],
    ['an unknown ISP', { lsrId: '10.0.0.1', interfaces: ['core0'], fecs: { gamma: { upstream: '192.0.2.0/30', downstream: '192.0.2.4/30' } } }, "ldp.fecs.gamma: unknown ISP 'gamma'"],
    ['an IPv6 FEC', { lsrId: '10.0.0.1', interfaces: ['core0'], fecs: { alpha: { upstream: '2001:db8::/64', downstream: '192.0.2.4/30' } } }, 'ldp.fecs.alpha.upstream: upstream FEC must be an IPv4 prefix'],
    ['a FEC with host bits', { lsrId: '10.0.0.1', interfaces: ['core0'], fecs: { alpha: { upstream: '192.0.2.1/30', downstream: '192.0.2.4/30' } } }, "ldp.fecs.alpha.upstream: prefix '192.0.2.1/30' has host bits set"],
    ['one FEC for two directions', { lsrId: '10.0.0.1', interfaces: ['core0'], fecs: { alpha: { upstream: '192.0.2.0/30', downstream: '192.0.2.0/30' } } }, 'ldp.fecs.alpha.downstream: FEC 192.0.2.0/30 is also alpha.upstream'],
    ['an unknown field', { lsrId: '10.0.0.1', interfaces: ['core0'], targeted: true }, "ldp.targeted: unknown field 'targeted'"],
  ])('refuses %s', (_what, ldp, message) => {
    expect(issues(ldp).some((i) => i.startsWith(message)), issues(ldp).join('\n')).toBe(true);
  });

  test('refuses LDP on an interface that is not a core one', () => {
    const doc = routerDocument('tailend', undefined, undefined, { ldp: true }) as Record<string, any>;
    const r = checkConfig({ ...doc, ldp: { ...doc.ldp, interfaces: ['ispa'] } });
    expect(r.issues.map((i) => `${i.path}: ${i.message}`)).toEqual(["ldp.interfaces[0]: LDP runs on core interfaces; 'ispa' has role isp"]);
  });
});
