// Shapes of the API's request bodies. They check what the API itself needs (a subscriber has
// exactly one match, a MAC looks like a MAC); whether the result makes sense as a router
// config is then decided by the config schema, on the whole new config.
import { z } from 'zod';
import type { Subscriber, SubscriberMatch } from '../daemon/model.js';

const mac = z
  .string()
  .regex(/^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$/, 'expected a MAC address like aa:bb:cc:dd:ee:ff')
  .transform((s) => s.toLowerCase().replace(/-/g, ':'));

const vid = z.number().int().min(1, 'VLAN ids are 1..4094').max(4094, 'VLAN ids are 1..4094');

const vlan = z
  .object({ interface: z.string().min(1, 'the access interface name is required'), outer: vid, inner: vid.optional() })
  .strict();

const prefix = z.string().min(2).regex(/^[0-9a-fA-F.:]+(\/\d{1,3})?$/, 'expected an IPv4 or IPv6 prefix like 100.64.0.0/24');

export const dryRunField = { dryRun: z.boolean().optional() };

/** A subscriber match: exactly one of mac, vlan, prefix. */
export const matchSchema = z
  .object({ mac: mac.optional(), vlan: vlan.optional(), prefix: prefix.optional() })
  .strict()
  .superRefine((m, ctx) => {
    const n = [m.mac, m.vlan, m.prefix].filter((x) => x !== undefined).length;
    if (n !== 1) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'give exactly one of mac, vlan, prefix' });
  })
  .transform((m): SubscriberMatch => (m.mac !== undefined ? { mac: m.mac } : m.vlan !== undefined ? { vlan: m.vlan } : { prefix: m.prefix! }));

const ispName = z.string().min(1, 'an ISP name is required');

const name = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'a name is 1..63 letters, digits, dot, dash or underscore, starting with a letter or digit');

const tpid = z.enum(['802.1Q', '802.1ad'], { errorMap: () => ({ message: "tpid must be '802.1Q' or '802.1ad'" }) });

/** The return path, as the router file's `deliver` has it; the config schema checks the rest
 * (that the interface is an access port, the addresses fit the match...). */
export const deliverySchema = z
  .object({
    interface: z.string().min(1).max(64).optional(),
    mac: mac.optional(),
    vlan: z.object({ outer: vid, inner: vid.optional(), tpid: tpid.optional() }).strict().optional(),
    addresses: z.array(prefix).min(1).max(64).optional(),
  })
  .strict()
  .refine((d) => Object.keys(d).length > 0, 'a delivery needs at least one of interface, mac, vlan, addresses');

/** A subscriber's own rate per direction (the config schema checks the values); null removes it. */
const subscriberRate = z
  .object({ up: z.object({ rate: z.union([z.string(), z.number()]), burst: z.union([z.string(), z.number()]) }).strict().optional(), down: z.object({ rate: z.union([z.string(), z.number()]), burst: z.union([z.string(), z.number()]) }).strict().optional() })
  .strict()
  .nullable();

export const subscriberSchema = z
  .object({ mac: mac.optional(), vlan: vlan.optional(), prefix: prefix.optional(), isp: ispName, name: name.optional(), deliver: deliverySchema.optional(), rate: subscriberRate.optional() })
  .strict()
  .superRefine((m, ctx) => {
    const n = [m.mac, m.vlan, m.prefix].filter((x) => x !== undefined).length;
    if (n !== 1) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'give exactly one of mac, vlan, prefix' });
  })
  .transform((m): Subscriber => ({
    match: m.mac !== undefined ? { mac: m.mac } : m.vlan !== undefined ? { vlan: m.vlan } : { prefix: m.prefix! },
    isp: m.isp,
    ...(m.name !== undefined ? { name: m.name } : {}),
    ...(m.deliver !== undefined ? { deliver: m.deliver } : {}),
    ...(m.rate !== undefined ? { rate: m.rate } : {}),
  }));

export const assignBody = z.object({ subscriber: subscriberSchema, ...dryRunField }).strict();
export const removeBody = z.object({ match: matchSchema, ...dryRunField }).strict();
export const importBody = z
  .object({
    subscribers: z.array(subscriberSchema).max(2_000_000),
    replace: z.boolean().optional(),
    /** with replace: an empty list removes every subscriber only when this says so */
    allowEmpty: z.boolean().optional(),
    ...dryRunField,
  })
  .strict();

const quantity = z.union([z.string().min(1), z.number().int().nonnegative()]);

export const rateLimitSchema = z.object({ rate: quantity, burst: quantity.optional() }).strict();
const limit = rateLimitSchema;

/** Per direction: a limit, null to remove it, absent to leave it. */
export const setRateBody = z
  .object({
    up: limit.nullable().optional(),
    down: limit.nullable().optional(),
    /** drop the API's rate for these directions, so the router file's applies again */
    clear: z.array(z.enum(['up', 'down'])).max(2).optional(),
    ...dryRunField,
  })
  .strict()
  .refine((b) => b.up !== undefined || b.down !== undefined || (b.clear?.length ?? 0) > 0, { message: 'give up and/or down (null removes a limit), or clear' })
  .refine((b) => !b.clear?.some((d) => b[d] !== undefined), { message: 'a direction cannot be both set and cleared' });

