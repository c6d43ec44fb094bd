// Shapes of the API's answers, as zod schemas: the OpenAPI document is generated from them (and
// from the request schemas in ./schemas.ts), and the contract test checks every route's real
// answers against that document.
import { z } from 'zod';

const counters = z.object({ packets: z.string().regex(/^\d+$/), bytes: z.string().regex(/^\d+$/) });
const limit = z.object({ rate: z.union([z.string(), z.number()]), burst: z.union([z.string(), z.number()]).optional() });

export const errorReply = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).max(100),
    /** how many issues were left out of the list */
    issuesOmitted: z.number().int().positive().optional(),
  }),
});

export const okReply = z.object({ ok: z.literal(true) });

export const readyReply = z.object({ ready: z.boolean(), programs: z.number().int(), lastReconcileOk: z.boolean().nullable(), detached: z.boolean() });

export const statusReply = z.object({
  node: z.string().nullable(),
  ready: z.boolean(),
  detached: z.boolean(),
  configPath: z.string(),
  uptimeSeconds: z.number().int(),
  programs: z.array(z.object({ ifname: z.string(), role: z.string(), mode: z.string(), progId: z.number().int(), tag: z.string(), reused: z.boolean() })),
  tables: z.record(z.number().int()),
  isps: z.number().int(),
  subscribers: z.number().int(),
  lastReconcile: z
    .object({ at: z.string(), ok: z.boolean(), trigger: z.string(), error: z.string().nullable(), durationMs: z.number() })
    .nullable(),
});

export const configReply = z.object({ config: z.record(z.unknown()) });

export const changeReply = z.object({
  ok: z.literal(true),
  dryRun: z.boolean().optional(),
  changed: z.boolean(),
  counts: z.record(z.object({ set: z.number().int(), delete: z.number().int() })),
  plan: z.string(),
  summary: z.object({ added: z.number().int(), moved: z.number().int(), removed: z.number().int(), unchanged: z.number().int() }).optional(),
});

export const ispsReply = z.object({
  isps: z.array(
    z.object({ name: z.string(), index: z.number().int(), up: limit.optional(), down: limit.optional(), subscribers: z.number().int(), spec: z.record(z.unknown()) }),
  ),
});

const vlanMatch = z.object({ interface: z.string(), outer: z.number().int(), inner: z.number().int().optional() });
const subscriberView = z.object({
  match: z.union([z.object({ mac: z.string() }), z.object({ vlan: vlanMatch }), z.object({ prefix: z.string() })]),
  isp: z.string(),
  name: z.string().optional(),
  deliver: z
    .object({
      interface: z.string().optional(),
      mac: z.string().optional(),
      vlan: z.object({ outer: z.number().int(), inner: z.number().int().optional(), tpid: z.enum(['802.1Q', '802.1ad']).optional() }).optional(),
      addresses: z.array(z.string()).optional(),
    })
    .optional(),
});
export const subscribersReply = z.object({ subscribers: z.array(subscriberView), total: z.number().int() });
export const subscriberReply = z.object({ subscriber: subscriberView });

export const auditReply = z.object({
  records: z.array(
    z.object({
      id: z.number().int(),
      at: z.string(),
      actor: z.string(),
      role: z.string(),
      action: z.string(),
      target: z.string(),
      detail: z.unknown(),
      request: z.string().nullable(),
      source: z.string().nullable(),
    }),
  ),
});

export const registryReply = z.object({ path: z.string(), bytes: z.number().int(), subscribers: z.number().int(), initialized: z.string().nullable() });
export const registryCheckReply = z.object({ ok: z.literal(true), subscribers: z.number().int(), version: z.number().int() });

const nexthop = z.object({ id: z.number().int(), ifname: z.string().nullable(), dmac: z.string().nullable(), smac: z.string().nullable(), vid: z.number().int(), mtu: z.number().int() });
const fec = { labels: z.array(z.number().int()), tc: z.number().int(), nhGroup: z.number().int(), nexthops: z.array(nexthop) };
export const fecsReply = z.object({
  upstream: z.array(z.object({ isp: z.string(), ispIndex: z.number().int(), ...fec })),
  ispRoutes: z.array(z.object({ isp: z.string(), ispIndex: z.number().int(), prefix: z.string(), ...fec })),
});

export const labelsReply = z.object({
  labels: z.array(
    z.object({
      label: z.number().int(),
      action: z.enum(['swap', 'pop-forward', 'pop-continue', 'pop-to-isp', 'pop-to-sub']),
      outLabels: z.array(z.number().int()).optional(),
      tc: z.number().int().optional(),
      isp: z.string().optional(),
      direction: z.enum(['up', 'down']).optional(),
      nexthops: z.array(nexthop).optional(),
      packets: z.string().nullable(),
      bytes: z.string().nullable(),
    }),
  ),
});

const points = z.object({ in: counters, out: counters, policed: counters, transit: counters });
export const statsReply = z.object({
  at: z.number().int(),
  isps: z.array(z.object({ isp: z.string(), index: z.number().int(), up: points, down: points })),
  drops: z.array(z.object({ reason: z.string(), ...counters.shape })),
});

export const detachReply = z.object({ ok: z.literal(true), detached: z.literal(true) });
export const rotateReply = z.object({ ok: z.literal(true), token: z.string(), path: z.string() });

const role = z.string().regex(/^(admin|reader|isp:[A-Za-z0-9][A-Za-z0-9._-]{0,62})$/);
const tokenInfo = z.object({
  name: z.string(),
  role,
  created: z.string(),
  createdBy: z.string(),
  revoked: z.string().nullable(),
  lastUsed: z.string().nullable(),
});
export const tokensReply = z.object({ tokens: z.array(tokenInfo) });
export const whoamiReply = z.object({ name: z.string(), role, isp: z.string().nullable() });
export const tokenCreatedReply = z.object({ ok: z.literal(true), token: tokenInfo, secret: z.string().regex(/^[0-9a-f]{64}$/) });
export const tokenRevokedReply = z.object({ ok: z.literal(true), token: tokenInfo });

const webhookInfo = z.object({
  name: z.string(),
  url: z.string(),
  types: z.array(z.string()).nullable(),
  isp: z.string().nullable(),
  created: z.string(),
  delivered: z.number().int(),
  pending: z.number().int(),
  lastError: z.string().nullable(),
});
export const webhooksReply = z.object({ webhooks: z.array(webhookInfo) });
export const webhookAddedReply = z.object({ ok: z.literal(true), webhook: webhookInfo, secret: z.string() });

/** One event, as SSE `data:` and as a webhook's body. */
export const eventSchema = z.object({
  id: z.string(),
  seq: z.number().int(),
  type: z.string(),
  at: z.string(),
  isp: z.string().nullable(),
  subject: z.string(),
  data: z.record(z.unknown()),
});
export const eventsReply = z.object({ events: z.array(eventSchema), last: z.number().int() });

export const openapiReply = z.object({ openapi: z.string(), info: z.record(z.unknown()), paths: z.record(z.unknown()) });
