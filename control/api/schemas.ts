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

export const subscriberSchema = z
  .object({ mac: mac.optional(), vlan: vlan.optional(), prefix: prefix.optional(), isp: ispName })
  .strict()
  .superRefine((m, ctx) => {
    const n = [m.mac, m.vlan, m.prefix].filter((x) => x !== undefined).length;
    if (n !== 1) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'give exactly one of mac, vlan, prefix' });
  })
  .transform((m): Subscriber => ({
    match: m.mac !== undefined ? { mac: m.mac } : m.vlan !== undefined ? { vlan: m.vlan } : { prefix: m.prefix! },
    isp: m.isp,
  }));

export const assignBody = z.object({ subscriber: subscriberSchema, ...dryRunField }).strict();
export const removeBody = z.object({ match: matchSchema, ...dryRunField }).strict();
export const importBody = z
  .object({
    subscribers: z.array(subscriberSchema).max(2_000_000),
    replace: z.boolean().optional(),
    ...dryRunField,
  })
  .strict();

export const applyBody = z.object({ config: z.string().min(1, 'the config text is empty'), ...dryRunField }).strict();

export const addIspBody = z
  .object({
    isp: z.object({ name: ispName }).passthrough(),
    ...dryRunField,
  })
  .strict();

const quantity = z.union([z.string().min(1), z.number().int().nonnegative()]);

const limit = z.object({ rate: quantity, burst: quantity.optional() }).strict();

/** Per direction: a limit, null to remove it, absent to leave it. */
export const setRateBody = z
  .object({ up: limit.nullable().optional(), down: limit.nullable().optional(), ...dryRunField })
  .strict()
  .refine((b) => b.up !== undefined || b.down !== undefined, { message: 'give up and/or down (null removes a limit)' });

