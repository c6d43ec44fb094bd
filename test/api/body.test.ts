// readBody: the body limit of the API.
import { PassThrough } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { HttpError, MAX_BODY, readBody } from '../../control/api/http.js';

function request(): PassThrough & IncomingMessage {
  return new PassThrough() as PassThrough & IncomingMessage;
}

describe('readBody', () => {
  it('takes a whole config of a million subscribers (~70 MB of JSON)', () => {
    expect(MAX_BODY).toBeGreaterThanOrEqual(200 * 1024 * 1024);
  });

  it('returns a body within the limit, split over chunks, as UTF-8 text', async () => {
    const req = request();
    const body = readBody(req, 16);
    req.write(Buffer.from('{"isp":"'));
    req.write(Buffer.from('é"}'));
    req.end();
    await expect(body).resolves.toBe('{"isp":"é"}');
  });

  it('refuses a body over the limit with 413 and stops reading it', async () => {
    const req = request();
    const body = readBody(req, 8);
    req.write(Buffer.from('12345'));
    req.write(Buffer.from('6789'));
    const err = await body.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(413);
    expect((err as HttpError).message).toMatch(/over 8 bytes/);
    expect(req.destroyed).toBe(true);
  });
});
