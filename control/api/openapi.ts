// The API's OpenAPI 3.1 document, generated from the route table: each route's request and
// response schemas are the zod schemas the API validates with (./schemas.ts) and answers in
// (./responses.ts), so the document cannot drift from the code. Served at /v1/openapi.json.
import { OpenAPIRegistry, OpenApiGeneratorV31, extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z, type AnyZodObject, type ZodTypeAny } from 'zod';

// the generator reads its metadata through a method it adds to zod's schemas
extendZodWithOpenApi(z);
import type { Route } from './http.js';
import { errorReply, eventSchema } from './responses.js';

export interface RouteDoc {
  summary: string;
  tags?: string[];
  /** the JSON request body */
  body?: ZodTypeAny;
  query?: AnyZodObject;
  /** request headers the route reads (e.g. Last-Event-ID) */
  headers?: AnyZodObject;
  /** status -> what is answered; the schema is JSON unless contentType says otherwise */
  responses: Record<number, { description: string; schema?: ZodTypeAny; contentType?: string; also?: { contentType: string; schema: ZodTypeAny } }>;
}

const ACCESS_TEXT = {
  admin: 'Needs an admin token.',
  read: 'Needs an admin or reader token.',
  isp: 'Needs a token: admin and reader see every ISP (reader only on GET); an isp:<name> token sees and changes only that ISP\'s objects (404 for others).',
} as const;

/** The document for these routes. */
export function openapiDocument(routes: readonly Route[], version: string): object {
  const reg = new OpenAPIRegistry();
  const bearer = reg.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', description: 'An API token: the node token file, or one made with `fecflow token create`.' });
  const error = { description: 'an error: code, message and the issues (path + message), at most 100', content: { 'application/json': { schema: errorReply } } };
  for (const r of routes) {
    const doc: RouteDoc = r.doc ?? { summary: `${r.method} ${r.path}`, responses: { 200: { description: 'the answer (not described yet)', schema: z.record(z.unknown()) } } };
    const keys = [...r.path.matchAll(/:([a-zA-Z]+)/g)].map((m) => m[1]!);
    const responses: Record<string, unknown> = {};
    for (const [status, resp] of Object.entries(doc.responses)) {
      responses[status] = resp.schema || resp.contentType
        ? { description: resp.description, content: { [resp.contentType ?? 'application/json']: { schema: resp.schema ?? z.string() }, ...(resp.also ? { [resp.also.contentType]: { schema: resp.also.schema } } : {}) } }
        : { description: resp.description };
    }
    if (r.auth) {
      responses['401'] ??= { ...error, description: 'no token, or a wrong or revoked one' };
      responses['403'] ??= { ...error, description: 'the token\'s role may not call this route' };
    }
    responses.default = error;
    reg.registerPath({
      method: r.method.toLowerCase() as 'get' | 'post' | 'put' | 'delete',
      path: r.path.replace(/:([a-zA-Z]+)/g, '{$1}'),
      summary: doc.summary,
      description: r.auth ? ACCESS_TEXT[r.access ?? 'admin'] : 'Open: no token needed.',
      tags: doc.tags,
      operationId: `${r.method.toLowerCase()}${r.path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      security: r.auth ? [{ [bearer.name]: [] }] : [],
      request: {
        ...(keys.length ? { params: z.object(Object.fromEntries(keys.map((k) => [k, z.string()]))) } : {}),
        ...(doc.query ? { query: doc.query } : {}),
        ...(doc.headers ? { headers: doc.headers } : {}),
        ...(doc.body ? { body: { required: true, content: { 'application/json': { schema: doc.body } } } } : {}),
      },
      responses: responses as never,
    });
  }
  reg.registerWebhook({
    method: 'post',
    path: 'event',
    summary: 'An event, posted to each webhook that wants it (fecflow webhook add)',
    description:
      'Signed: header X-Fecflow-Signature is `t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the webhook\'s secret>`. ' +
      'Retried with back-off until the receiver answers 2xx; the id is the same in every attempt, so de-duplicate by it.',
    request: { body: { content: { 'application/json': { schema: eventSchema } } } },
    responses: { 200: { description: 'taken (any 2xx)' } },
  });
  return new OpenApiGeneratorV31(reg.definitions).generateDocument({
    openapi: '3.1.0',
    info: { title: 'fecflow', version, description: 'The API of one fecflow router daemon.' },
  });
}
