// The shape of a configuration file: one zod schema per element (interface, ISP, subscriber,
// label binding) plus the document around them. Shapes only — references between elements
// (an unknown ISP, a next hop on a core port…) are checked in ./validate.ts, which parses each
// element on its own so one broken element never hides the mistakes in the others.

import { z } from 'zod';
import { MAX_ECMP, MAX_ISPS, MAX_LABEL, MAX_LABELS, MAX_RESERVED_LABEL } from '../tables/types.js';
import { parseHostAddress, parseMac, parsePrefix, type Parsed } from './addr.js';
import { DEFAULT_ICMP, type FecConfig, type Interface, type Isp, type IspRadius, type LabelBinding, type NextHopRef, type RadiusAttributeRef, type SessionSettings, type Subscriber, type Tpid } from './types.js';
import { isIP } from 'node:net';
import { FF_ICMP_MAX_BURST, FF_ICMP_MAX_RATE } from '../tables/shared.gen.js';
import { parseRate, parseSize } from './units.js';

export const NODE_RE = /^[a-z0-9_-]{1,64}$/;
export const NAME_RE = /^[A-Za-z][A-Za-z0-9._-]{0,62}$/;
/** Linux IFNAMSIZ is 16 with the terminating NUL. */
const DEVICE_RE = /^[A-Za-z0-9._@-]{1,15}$/;

function int(what: string, min: number, max: number) {
  const range = `${what} must be ${min}..${max}`;
  return z
    .number({ required_error: `${what} is required`, invalid_type_error: `${what} must be a number` })
    .int(`${what} must be a whole number`)
    .min(min, range)
    .max(max, range);
}

function text(what: string, re: RegExp, rule: string) {
  return z
    .string({ required_error: `${what} is required`, invalid_type_error: `${what} must be a string` })
    .regex(re, `${what} ${rule}`);
}

/** A string checked and normalised by one of the ./addr.js or ./units.js parsers. */
function parsedString<T>(what: string, parse: (s: string) => Parsed<T>) {
  return z
    .string({ required_error: `${what} is required`, invalid_type_error: `${what} must be a string (quote it in YAML)` })
    .transform((s, ctx) => {
      const r = parse(s);
      if (r.ok) return r.value;
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: r.reason });
      return z.NEVER;
    });
}

function quantity(what: string, parse: (v: string | number) => Parsed<number>) {
  return z
    .union([z.string(), z.number()], { errorMap: () => ({ message: `${what} must be a string with a unit or a number` }) })
    .transform((v, ctx) => {
      const r = parse(v);
      if (r.ok) return r.value;
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: r.reason });
      return z.NEVER;
    });
}

/**
 * A single item or a list of them, always a list afterwards. Issues keep the path the operator
 * wrote: 'nexthop.neighbour' for a single object, 'nexthop[1].neighbour' in a list.
 */
function oneOrMany<T>(item: z.ZodType<T, z.ZodTypeDef, unknown>, what: string, max: number) {
  return z.unknown().transform((v, ctx): T[] => {
    const list = Array.isArray(v);
    if (v === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${what} is required` });
      return z.NEVER;
    }
    const items: unknown[] = list ? v : [v];
    if (items.length === 0 || items.length > max) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${what} takes 1..${max} entries, not ${items.length}` });
      return z.NEVER;
    }
    const out: T[] = [];
    let bad = false;
    items.forEach((x, i) => {
      const r = item.safeParse(x);
      if (r.success) out.push(r.data);
      else {
        bad = true;
        for (const issue of r.error.issues) {
          ctx.addIssue({ ...issue, path: list ? [i, ...issue.path] : issue.path } as z.IssueData);
        }
      }
    });
    return bad ? z.NEVER : out;
  });
}

export const name = (what: string) => text(what, NAME_RE, 'must start with a letter and hold only letters, digits, ".", "_" or "-" (at most 63)');
export const mac = parsedString('MAC address', parseMac);
export const prefix = parsedString('prefix', (s) => {
  const r = parsePrefix(s);
  return r.ok ? { ok: true, value: r.value.text } : r;
});
const hostAddress = parsedString('address', (s) => {
  const r = parseHostAddress(s);
  return r.ok ? { ok: true, value: r.value.len === undefined ? r.value.address : `${r.value.address}/${r.value.len}` } : r;
});
const vid = (what: string) => int(what, 1, 4094);

export const incomingLabel = int('label', 0, MAX_LABEL).refine((l) => l < 0 || l > MAX_RESERVED_LABEL, (l) => ({
  message: `label ${l} is reserved (0..${MAX_RESERVED_LABEL}) and cannot be an incoming label`,
}));

const outgoingLabel = int('label', 0, MAX_LABEL).superRefine((l, ctx) => {
  if (l === 3) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      message: 'label 3 (implicit null) is never sent; to pop the label before the next hop use action pop-forward (PHP)',
    });
  } else if (l === 1 || (l > 3 && l <= MAX_RESERVED_LABEL)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `label ${l} is reserved and cannot be pushed (explicit null 0 and 2 can)` });
  }
});

export const labelStack = z
  .array(outgoingLabel, { required_error: 'labels is required', invalid_type_error: 'labels must be a list of labels' })
  .min(1, `a label stack holds 1..${MAX_LABELS} labels, not 0`)
  .max(MAX_LABELS, `a label stack holds 1..${MAX_LABELS} labels`);

const tc = int('tc', 0, 7).default(0);

export const nextHopRef: z.ZodType<NextHopRef, z.ZodTypeDef, unknown> = z
  .object({ interface: name('interface'), neighbour: name('neighbour') })
  .strict();

const nexthops = oneOrMany(nextHopRef, 'nexthop', MAX_ECMP);

export const fecSchema: z.ZodType<FecConfig, z.ZodTypeDef, unknown> = z
  .object({ labels: labelStack, tc, nexthop: nexthops })
  .strict();

export const interfaceSchema: z.ZodType<Interface, z.ZodTypeDef, unknown> = z
  .object({
    name: name('interface name'),
    device: text('device', DEVICE_RE, 'must be a Linux interface name (at most 15 characters)').optional(),
    role: z.enum(['access', 'core', 'isp'], {
      errorMap: () => ({ message: "role must be 'access', 'core' or 'isp'" }),
    }),
    mtu: int('mtu', 68, 65535).default(1500),
    vlan: vid('vlan').optional(),
    addresses: z.array(hostAddress).default([]),
    neighbours: z.record(name('neighbour name'), mac).default({}),
  })
  .strict()
  .transform((i) => {
    const out: Interface = {
      name: i.name,
      device: i.device ?? i.name,
      role: i.role,
      mtu: i.mtu,
      addresses: i.addresses,
      neighbours: i.neighbours,
    };
    if (i.vlan !== undefined) out.vlan = i.vlan;
    return out;
  });

const rateLimit = z
  .object({ rate: quantity('rate', parseRate), burst: quantity('burst', parseSize) })
  .strict()
  .superRefine((r, ctx) => {
    if (r.rate > 0 && r.rate < 8) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['rate'], message: 'rate must be at least 8bit (1 byte/s)' });
    if (r.burst < 1518) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['burst'],
        message: `burst ${r.burst} B is smaller than one full Ethernet frame (1518 B): every full-size frame would be dropped`,
      });
    }
  });

/** A rate limit per direction: an ISP's policer, a subscriber's rate. */
const rateLimits = z.object({ up: rateLimit.optional(), down: rateLimit.optional() }).strict();

const ispRoute = z
  .object({ prefix, labels: labelStack, tc, nexthop: nexthops })
  .strict();

const ipAddress = (what: string) =>
  z
    .string({ required_error: `${what} is required`, invalid_type_error: `${what} must be a string` })
    .refine((a) => isIP(a) !== 0, (a) => ({ message: `${what} '${a}' is not an IPv4 or IPv6 address` }));

const port = (what: string) => int(what, 1, 65535);

/** A shared secret: RFC 2865 wants at least one octet; the attributes we hide with it take 128. */
const secret = z
  .string({ required_error: 'secret is required', invalid_type_error: 'secret must be a string (quote it in YAML)' })
  .min(1, 'secret must not be empty')
  .max(128, 'secret takes at most 128 characters');

/** Well-known reply attributes carrying a rate in bit/s, by name. */
export const RATE_ATTRIBUTES = new Map<string, RadiusAttributeRef>([
  ['WISPr-Bandwidth-Max-Up', { vendor: 14122, type: 7 }],
  ['WISPr-Bandwidth-Max-Down', { vendor: 14122, type: 8 }],
]);

/** 'WISPr-Bandwidth-Max-Up', a standard attribute number, or 'VENDOR:TYPE' of a Vendor-Specific. */
const attributeRef = z
  .union([z.string(), z.number()], { errorMap: () => ({ message: 'an attribute is a name, a number or VENDOR:TYPE' }) })
  .transform((v, ctx): RadiusAttributeRef => {
    if (typeof v === 'number' || /^\d+$/.test(v)) {
      const t = Number(v);
      if (Number.isInteger(t) && t >= 1 && t <= 255 && t !== 26) return { type: t };
    } else {
      const known = RATE_ATTRIBUTES.get(v);
      if (known) return known;
      const m = /^(\d{1,10}):(\d{1,3})$/.exec(v);
      if (m && Number(m[1]) <= 0xffffff && Number(m[2]) >= 1 && Number(m[2]) <= 255) return { vendor: Number(m[1]), type: Number(m[2]) };
    }
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `attribute '${v}' is not one of ${[...RATE_ATTRIBUTES.keys()].join(', ')}, a number 1..255 (not 26) or VENDOR:TYPE` });
    return z.NEVER;
  });

const ispRadius: z.ZodType<IspRadius, z.ZodTypeDef, unknown> = z
  .object({
    server: ipAddress('server'),
    authPort: port('authPort').default(1812),
    acctPort: port('acctPort').default(1813),
    secret,
    password: z.string().max(128, 'password takes at most 128 characters').optional(),
    accounting: z.boolean({ invalid_type_error: 'accounting must be true or false' }).default(true),
    interimInterval: int('interimInterval', 1, 86_400).default(300),
    timeout: int('timeout (ms)', 50, 60_000).default(2000),
    retries: int('retries', 0, 10).default(2),
    coa: z.object({ from: z.array(ipAddress('coa.from')).min(1, 'coa.from lists at least one address'), secret: secret.optional() }).strict().optional(),
    rate: z.object({ up: attributeRef.optional(), down: attributeRef.optional() }).strict().optional(),
  })
  .strict()
  .transform((r): IspRadius => {
    const out: IspRadius = {
      server: r.server,
      authPort: r.authPort,
      acctPort: r.acctPort,
      secret: r.secret,
      accounting: r.accounting,
      interimInterval: r.interimInterval,
      timeout: r.timeout,
      retries: r.retries,
      coa: { from: r.coa?.from ?? [], secret: r.coa?.secret ?? r.secret },
      rate: r.rate ?? { up: RATE_ATTRIBUTES.get('WISPr-Bandwidth-Max-Up'), down: RATE_ATTRIBUTES.get('WISPr-Bandwidth-Max-Down') },
    };
    if (r.password !== undefined) out.password = r.password;
    return out;
  });

const seconds = (what: string, min: number, max: number) =>
  z
    .number({ required_error: `${what} is required`, invalid_type_error: `${what} must be a number of seconds` })
    .min(min, `${what} must be ${min}..${max} s`)
    .max(max, `${what} must be ${min}..${max} s`);

export const sessionsSchema: z.ZodType<SessionSettings, z.ZodTypeDef, unknown> = z
  .object({
    walledGarden: z.union([z.string().min(1), int('ISP id', 1, MAX_ISPS - 1)]).optional(),
    coa: z.object({ address: ipAddress('coa.address'), port: int('coa.port', 0, 65535).default(3799) }).strict().optional(),
    eventWindow: seconds('eventWindow', 1, 3600).default(300),
    retry: z
      .object({ initial: seconds('retry.initial', 0.05, 3600).default(1), max: seconds('retry.max', 0.05, 86_400).default(60) })
      .strict()
      .default({})
      .refine((r) => r.max >= r.initial, { message: 'retry.max must not be below retry.initial' }),
  })
  .strict()
  .transform((s): SessionSettings => {
    const out: SessionSettings = { eventWindow: s.eventWindow, retry: { initial: s.retry.initial, max: s.retry.max } };
    if (s.walledGarden !== undefined) out.walledGarden = s.walledGarden;
    if (s.coa) out.coa = { address: s.coa.address, port: s.coa.port };
    return out;
  });

export const ispSchema: z.ZodType<Isp, z.ZodTypeDef, unknown> = z
  .object({
    id: int('ISP id', 1, MAX_ISPS - 1),
    name: name('ISP name'),
    policer: rateLimits.default({}),
    upstream: fecSchema.optional(),
    downstream: z
      .object({
        links: z.array(z.object({ interface: name('interface'), vlan: vid('vlan').optional() }).strict()).default([]),
        routes: z.array(ispRoute).default([]),
      })
      .strict()
      .optional(),
    radius: ispRadius.optional(),
  })
  .strict()
  .transform((i) => {
    const out: Isp = { id: i.id, name: i.name, policer: {} };
    if (i.policer.up) out.policer.up = i.policer.up;
    if (i.policer.down) out.policer.down = i.policer.down;
    if (i.upstream) out.upstream = i.upstream;
    if (i.downstream) {
      out.downstream = {
        links: i.downstream.links.map((l) => (l.vlan === undefined ? { interface: l.interface } : { interface: l.interface, vlan: l.vlan })),
        routes: i.downstream.routes,
      };
    }
    if (i.radius) out.radius = i.radius;
    return out;
  });

// string first: a failed branch builds an error object, and names are the common case
export const ispRef = z.union([z.string().min(1), int('ISP id', 1, MAX_ISPS - 1)], {
  errorMap: () => ({ message: `isp must be an ISP name or id (1..${MAX_ISPS - 1})` }),
});

const tpid = z
  .union([z.string(), z.number()], { errorMap: () => ({ message: "tpid must be '802.1Q' or '802.1ad'" }) })
  .transform((t, ctx): Tpid => {
    const s = String(t).toLowerCase();
    if (s === '802.1q' || s === '0x8100' || s === String(0x8100)) return '802.1Q';
    if (s === '802.1ad' || s === '0x88a8' || s === String(0x88a8)) return '802.1ad';
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `tpid '${t}' must be '802.1Q' (0x8100) or '802.1ad' (0x88a8)` });
    return z.NEVER;
  });

function tags<T extends z.ZodRawShape>(extra: T) {
  return z.object({ ...extra, outer: vid('outer'), inner: vid('inner').optional(), tpid: tpid.optional() }).strict();
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

export const subscriberSchema: z.ZodType<Subscriber, z.ZodTypeDef, unknown> = z
  .object({
    name: name('subscriber name'),
    isp: ispRef,
    match: z
      .object({
        mac: mac.optional(),
        vlan: tags({ interface: name('interface') }).optional(),
        prefix: oneOrMany(prefix, 'prefix', Number.MAX_SAFE_INTEGER).optional(),
      })
      .strict()
      .refine((m) => m.mac !== undefined || m.vlan !== undefined || m.prefix !== undefined, {
        message: 'match needs at least one of mac, vlan, prefix',
      }),
    deliver: z
      .object({
        interface: name('interface').optional(),
        mac: mac.optional(),
        vlan: tags({}).optional(),
        addresses: oneOrMany(prefix, 'addresses', Number.MAX_SAFE_INTEGER).optional(),
      })
      .strict()
      .optional(),
    admission: z.enum(['static', 'session'], { errorMap: () => ({ message: "admission must be 'static' or 'session'" }) }).optional(),
    session: z.string().min(1).max(64).optional(),
    rate: rateLimits.optional(),
  })
  .strict()
  .transform((s) => {
    const out: Subscriber = { name: s.name, isp: s.isp, match: dropUndefined({ ...s.match }) };
    if (s.admission !== undefined) out.admission = s.admission;
    if (s.session !== undefined) out.session = s.session;
    if (s.rate) out.rate = dropUndefined({ ...s.rate });
    if (out.match.vlan) out.match.vlan = dropUndefined(out.match.vlan);
    if (s.deliver) {
      out.deliver = dropUndefined({ ...s.deliver });
      if (out.deliver.vlan) out.deliver.vlan = dropUndefined(out.deliver.vlan);
    }
    if (s.rate && (s.rate.up || s.rate.down)) out.rate = dropUndefined({ ...s.rate });
    return out;
  });

/** swap and pop-forward on an LSR: whose traffic the label carries, for the per-ISP counters */
const transitCount = {
  isp: ispRef.optional(),
  direction: z.enum(['up', 'down'], { errorMap: () => ({ message: "direction must be 'up' or 'down'" }) }).optional(),
};

export const labelBindingSchema: z.ZodType<LabelBinding, z.ZodTypeDef, unknown> = z.discriminatedUnion(
  'action',
  [
    z.object({ label: incomingLabel, action: z.literal('swap'), labels: labelStack, tc, nexthop: nexthops, ...transitCount }).strict(),
    z.object({ label: incomingLabel, action: z.literal('pop-forward'), nexthop: nexthops, ...transitCount }).strict(),
    z.object({ label: incomingLabel, action: z.literal('pop-continue') }).strict(),
    z.object({ label: incomingLabel, action: z.literal('pop-to-isp'), isp: ispRef, nexthop: nexthops }).strict(),
    z.object({ label: incomingLabel, action: z.literal('pop-to-subscriber'), isp: ispRef }).strict(),
  ],
  {
    errorMap: (issue, ctx) =>
      issue.code === z.ZodIssueCode.invalid_union_discriminator
        ? { message: "action must be one of 'swap', 'pop-forward', 'pop-continue', 'pop-to-isp', 'pop-to-subscriber'" }
        : { message: ctx.defaultError },
  },
);

const list = (what: string) =>
  z.array(z.unknown(), { invalid_type_error: `${what} must be a list` }).default([]);

/** The document; element lists are parsed element by element in ./validate.ts. */
export const documentSchema = z
  .object({
    node: text('node', NODE_RE, 'must be 1..64 characters of a-z, 0-9, "-" or "_" (it names the pin directory)'),
    ttlMode: z.enum(['uniform', 'pipe'], { errorMap: () => ({ message: "ttlMode must be 'uniform' or 'pipe'" }) }).default('uniform'),
    unknownSubscriber: z
      .enum(['drop', 'pass'], { errorMap: () => ({ message: "unknownSubscriber must be 'drop' or 'pass'" }) })
      .default('drop'),
    interfaces: list('interfaces'),
    isps: list('isps'),
    subscribers: list('subscribers'),
    ilm: list('ilm'),
    sessions: z.unknown().optional(),
    icmp: z
      .object({ rate: int('icmp.rate', 0, FF_ICMP_MAX_RATE), burst: int('icmp.burst', 1, FF_ICMP_MAX_BURST).default(DEFAULT_ICMP.burst) })
      .strict()
      .optional(),
    // LDP: checked in ./validate.ts with ./ldp.ts, so its issues carry the section's path
    ldp: z.unknown().optional(),
  })
  .strict();

// ---- the common subscriber, checked by hand ----------------------------------------------
//
// zod spends tens of microseconds on one subscriber, and a headend may list a million. This
// accepts exactly the usual, valid shapes and returns what subscriberSchema would; anything
// else (a mistake, an unusual spelling) returns undefined and goes through the schema, which
// then reports it. test/config/fast.test.ts checks the two agree.

type Obj = Record<string, unknown>;

function plain(v: unknown, keys: readonly string[]): Obj | undefined {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  for (const k of Object.keys(v)) if (!keys.includes(k) || (v as Obj)[k] === undefined) return undefined;
  return v as Obj;
}

const isInt = (v: unknown, lo: number, hi: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
const isName = (v: unknown): v is string => typeof v === 'string' && NAME_RE.test(v);

function fastMac(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  const r = parseMac(v);
  return r.ok ? r.value : undefined;
}

function fastPrefixes(v: unknown): string[] | undefined {
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0) return undefined;
  const out: string[] = [];
  for (const x of list) {
    if (typeof x !== 'string') return undefined;
    const r = parsePrefix(x);
    if (!r.ok) return undefined;
    out.push(r.value.text);
  }
  return out;
}

// A Map: the operator's text ('toString', 'constructor') must not find inherited members.
const FAST_TPID = new Map<unknown, Tpid>([['802.1Q', '802.1Q'], ['802.1ad', '802.1ad']]);

function fastTags(v: unknown, withInterface: boolean): Obj | undefined {
  const o = plain(v, withInterface ? ['interface', 'outer', 'inner', 'tpid'] : ['outer', 'inner', 'tpid']);
  if (!o || !isInt(o.outer, 1, 4094)) return undefined;
  if (withInterface && !isName(o.interface)) return undefined;
  if (o.inner !== undefined && !isInt(o.inner, 1, 4094)) return undefined;
  const tpid = o.tpid === undefined ? undefined : FAST_TPID.get(o.tpid);
  if (o.tpid !== undefined && tpid === undefined) return undefined;
  const out: Obj = {};
  if (withInterface) out.interface = o.interface;
  out.outer = o.outer;
  if (o.inner !== undefined) out.inner = o.inner;
  if (tpid !== undefined) out.tpid = tpid;
  return out;
}

export function fastSubscriber(v: unknown): Subscriber | undefined {
  const s = plain(v, ['name', 'isp', 'match', 'deliver', 'admission', 'session']);
  if (!s || !isName(s.name)) return undefined;
  if (!((typeof s.isp === 'string' && s.isp.length > 0) || isInt(s.isp, 1, MAX_ISPS - 1))) return undefined;
  const m = plain(s.match, ['mac', 'vlan', 'prefix']);
  if (!m || (m.mac === undefined && m.vlan === undefined && m.prefix === undefined)) return undefined;
  const match: Obj = {};
  if (m.mac !== undefined && (match.mac = fastMac(m.mac)) === undefined) return undefined;
  if (m.vlan !== undefined && (match.vlan = fastTags(m.vlan, true)) === undefined) return undefined;
  if (m.prefix !== undefined && (match.prefix = fastPrefixes(m.prefix)) === undefined) return undefined;
  const out: Subscriber = { name: s.name, isp: s.isp as string | number, match: match as Subscriber['match'] };
  if (s.admission !== undefined) {
    if (s.admission !== 'static' && s.admission !== 'session') return undefined;
    out.admission = s.admission;
  }
  if (s.session !== undefined) {
    if (typeof s.session !== 'string' || s.session.length === 0 || s.session.length > 64) return undefined;
    out.session = s.session;
  }
  if (s.deliver !== undefined) {
    const d = plain(s.deliver, ['interface', 'mac', 'vlan', 'addresses']);
    if (!d) return undefined;
    const deliver: Obj = {};
    if (d.interface !== undefined) {
      if (!isName(d.interface)) return undefined;
      deliver.interface = d.interface;
    }
    if (d.mac !== undefined && (deliver.mac = fastMac(d.mac)) === undefined) return undefined;
    if (d.vlan !== undefined && (deliver.vlan = fastTags(d.vlan, false)) === undefined) return undefined;
    if (d.addresses !== undefined && (deliver.addresses = fastPrefixes(d.addresses)) === undefined) return undefined;
    out.deliver = deliver as Subscriber['deliver'];
  }
  return out;
}
