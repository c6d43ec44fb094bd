// The router file's `ldp:` section: labels learned from neighbours by LDP instead of written
// by hand. Present and enabled, the daemon runs an LDP speaker on the named core interfaces and
// composes the labels it learns into the running config (ISP FECs, ISP return routes, the
// ILM); absent, the file's own labels (the static plan) are all there is. Shapes here; the
// references (interfaces, ISPs) are checked with the rest of the file in ./validate.ts.
import { z } from 'zod';
import { MAX_LABEL } from '../tables/types.js';
import { parsePrefix } from './addr.js';

/** The FECs of one ISP, the same on every router of the network. */
export interface LdpIspFecs {
  /** the ISP's hand-off prefix: the tailend is its egress; the headend pushes its label */
  upstream: string;
  /** the ISP's return FEC: the headend is its egress; the tailend pushes its label */
  downstream: string;
  /** tailend: the end-user prefixes whose traffic from this ISP is labelled with the return FEC */
  routes: string[];
}

export interface LdpConfig {
  enable: boolean;
  lsrId: string;
  /** TCP source and destination of sessions; defaults to lsrId */
  transportAddress: string;
  /** config interface names (role core) that send and accept link Hellos */
  interfaces: string[];
  helloInterval: number;
  holdTime: number;
  keepaliveTime: number;
  /** the range local labels are allocated from (kept apart from any static label of the file) */
  labels: { min: number; max: number };
  /** seconds after a restart before labels not refreshed by a neighbour are removed */
  staleTimeout: number;
  /** seconds a withdrawn or replaced local label stays installed waiting for the peer's Release */
  releaseTimeout: number;
  /** graceful restart (RFC 3478) with neighbours that announce it: keep forwarding across a
   * restart on either side; staleTimeout is both our reconnect and our recovery time */
  gracefulRestart: boolean;
  /** per ISP name */
  fecs: Record<string, LdpIspFecs>;
}

const V4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

const ipv4 = (what: string) =>
  z.string({ required_error: `${what} is required`, invalid_type_error: `${what} must be a string` }).refine((s) => V4.test(s), { message: `${what} must be an IPv4 address (a.b.c.d)` }).refine((s) => !/^(0|127)\./.test(s) && Number(s.split('.')[0]) < 224, {
    message: `${what} must be a unicast address outside 0/8 and 127/8 (a peer must be able to reach it)`,
  });

const prefix = (what: string, v4only: boolean) =>
  z.string({ required_error: `${what} is required`, invalid_type_error: `${what} must be a string` }).transform((s, ctx) => {
    const r = parsePrefix(s);
    if (!r.ok) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: r.reason });
      return z.NEVER;
    }
    if (v4only && r.value.family !== 4) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${what} must be an IPv4 prefix (the daemon's speaker distributes IPv4 FECs)` });
      return z.NEVER;
    }
    return r.value.text;
  });

const seconds = (what: string, min: number, max: number, dflt: number) =>
  z.number({ invalid_type_error: `${what} must be a number of seconds` }).int(`${what} must be a whole number`).min(min, `${what} must be ${min}..${max} s`).max(max, `${what} must be ${min}..${max} s`).default(dflt);

const ispFecs = z
  .object({
    upstream: prefix('upstream FEC', true),
    downstream: prefix('downstream FEC', true),
    routes: z.array(prefix('route', false)).default([]),
  })
  .strict();

export const ldpSchema: z.ZodType<LdpConfig, z.ZodTypeDef, unknown> = z
  .object({
    enable: z.boolean({ invalid_type_error: 'enable must be true or false' }).default(true),
    lsrId: ipv4('lsrId'),
    transportAddress: ipv4('transportAddress').optional(),
    interfaces: z.array(z.string({ invalid_type_error: 'an LDP interface is a config interface name' })).min(1, 'ldp needs at least one interface'),
    helloInterval: seconds('helloInterval', 1, 21845, 5),
    holdTime: seconds('holdTime', 3, 65535, 15),
    keepaliveTime: seconds('keepaliveTime', 15, 65535, 180),
    labels: z
      .object({ min: z.number().int().min(16, 'labels.min must be at least 16 (0..15 are reserved)'), max: z.number().int().max(MAX_LABEL, `labels.max must be at most ${MAX_LABEL}`) })
      .strict()
      .refine((l) => l.min <= l.max, { message: 'labels.min must not exceed labels.max' })
      .default({ min: 100_000, max: 199_999 }),
    staleTimeout: seconds('staleTimeout', 1, 3600, 120),
    releaseTimeout: seconds('releaseTimeout', 1, 3600, 60),
    gracefulRestart: z.boolean({ invalid_type_error: 'gracefulRestart must be true or false' }).default(true),
    fecs: z.record(z.string(), ispFecs).default({}),
  })
  .strict()
  .transform((l) => ({ ...l, transportAddress: l.transportAddress ?? l.lsrId }))
  .superRefine((l, ctx) => {
    if (l.holdTime < 3 * l.helloInterval) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['holdTime'], message: `holdTime ${l.holdTime} s should be at least three Hello intervals (${3 * l.helloInterval} s)` });
    const owner = new Map<string, string>();
    for (const [isp, f] of Object.entries(l.fecs)) {
      for (const [dir, p] of [
        ['upstream', f.upstream],
        ['downstream', f.downstream],
      ] as const) {
        const prev = owner.get(p);
        if (prev) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['fecs', isp, dir], message: `FEC ${p} is also ${prev}: each ISP direction needs its own FEC` });
        else owner.set(p, `${isp}.${dir}`);
      }
    }
  });
