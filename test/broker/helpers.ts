// Shared pieces of the broker's tests: a device with its own Ed25519 key that signs requests,
// a settable clock, a fake per-subscriber meter, and a provider profile.
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { signRequest } from '../../control/broker/crypto.js';
import { zeroUsage, type SubscriberUsage, type TrafficType, type UsageMeter } from '../../control/daemon/usage.js';
import { call, type Harness } from '../api/fakes.js';

export class Clock {
  constructor(public ms: number) {}
  now = (): number => this.ms;
  advance(sec: number): void {
    this.ms += sec * 1000;
  }
}

export class FakeMeter implements UsageMeter {
  readonly totals = new Map<string, SubscriberUsage>();
  current(subscriber: string): SubscriberUsage | undefined {
    return this.totals.get(subscriber);
  }
  add(subscriber: string, dir: 'up' | 'down', type: TrafficType, packets: number, bytes: number): void {
    const u = this.totals.get(subscriber) ?? zeroUsage();
    u[dir][type] = { packets: u[dir][type].packets + BigInt(packets), bytes: u[dir][type].bytes + BigInt(bytes) };
    this.totals.set(subscriber, u);
  }
}

export interface Device {
  name: string;
  key: KeyObject;
  /** raw public key, base64url */
  x: string;
}

export function newDevice(name: string): Device {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { name, key: privateKey, x: (publicKey.export({ format: 'jwk' }) as { x: string }).x };
}

export interface SignOpts {
  nonce?: string;
  /** the signing time (ms) */
  at?: number;
  /** sign with this key instead of the device's */
  key?: KeyObject;
  /** send this body text instead of the signed one */
  tamper?: string;
}

/** A request signed as the device. */
export async function signed(h: Harness, dev: Device, at: number, method: string, path: string, body?: unknown, o: SignOpts = {}) {
  const text = body === undefined ? '' : JSON.stringify(body);
  const headers = signRequest(o.key ?? dev.key, dev.name, method, path, text, o.at ?? at, o.nonce ?? randomBytes(18).toString('base64url'));
  const res = await fetch(h.url + path, { method, headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: o.tamper ?? (body === undefined ? undefined : text) });
  const t = await res.text();
  let json: any;
  try {
    json = JSON.parse(t);
  } catch {
    json = undefined;
  }
  return { status: res.status, json };
}

export const PROFILE = {
  plan: { up: '50Mbit', down: '200Mbit', traffic: ['ipv4_tcp', 'ipv4_udp', 'ipv6_tcp', 'ipv6_udp'] },
  tariff: { currency: 'EUR', perGb: { '*': '0.50', ipv4_udp: '0.25' }, perMinute: '0.01', monthly: '5' },
  billTo: 'cpe',
  tokenTtl: 600,
};

/** Registers alpha and beta (ISPs of the fake router file) and enrols device `name` on line s1. */
export async function setup(h: Harness, name = 'alice', at = Date.now()): Promise<Device> {
  for (const p of ['alpha', 'beta']) {
    const r = await call(h, 'POST', '/v1/broker/providers', { name: p, kind: 'isp', profile: PROFILE });
    if (r.status !== 201) throw new Error(`provider ${p}: ${r.text}`);
  }
  return enrolDevice(h, name, 's1', at);
}

export async function enrolDevice(h: Harness, name: string, subscriber: string, _at = Date.now()): Promise<Device> {
  if (!h.registry.subscriber(subscriber)) {
    const mac = `02:00:00:00:00:${(h.registry.subscriberCount() + 1).toString(16).padStart(2, '0')}`;
    const a = await call(h, 'POST', '/v1/subscribers', { subscriber: { mac, isp: 'alpha', name: subscriber } });
    if (a.status !== 201) throw new Error(`subscriber: ${a.text}`);
  }
  const c = await call(h, 'POST', '/v1/broker/cpes', { name, isp: 'alpha', subscriber });
  if (c.status !== 201) throw new Error(`cpe: ${c.text}`);
  const dev = newDevice(name);
  const e = await call(h, 'POST', '/v1/broker/device/enrol', { code: c.json.code, publicKey: dev.x }, null);
  if (e.status !== 201) throw new Error(`enrol: ${e.text}`);
  return dev;
}
