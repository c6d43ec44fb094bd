// GET /v1/events as Server-Sent Events: the events after the client's Last-Event-ID (the event
// log's sequence number) from the registry, then each new one as it is recorded, filtered by
// what the caller may see. A slow reader is never buffered for: the next page is read only
// once the previous one was written out (backpressure), so a client that stops reading costs
// one page of memory. The stream ends when its token is revoked or the server closes.
import type { ServerResponse } from 'node:http';
import type { EventFilter, EventLog } from '../registry/events.js';

export interface StreamOptions {
  log: EventLog;
  filter: EventFilter;
  /** the last sequence number the client has (Last-Event-ID), or where to start */
  after: number;
  /** false once the caller's token no longer works */
  stillValid(): boolean;
  heartbeatMs?: number;
}

export async function streamEvents(res: ServerResponse, o: StreamOptions): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
  res.write('retry: 2000\n\n');
  const first = o.log.firstSeq();
  if (o.after > 0 && first > o.after + 1) {
    // the log was pruned past what the client had: say so instead of pretending there was no gap
    res.write(`event: gap\ndata: ${JSON.stringify({ from: o.after + 1, to: first - 1 })}\n\n`);
  }
  let wake: (() => void) | undefined;
  const poke = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const unsubscribe = o.log.onAppend(poke);
  const closed = (): boolean => res.destroyed || res.writableEnded;
  res.on('close', poke);
  const beat = setInterval(() => {
    if (!o.stillValid()) res.end();
    else res.write(': keep-alive\n\n');
    poke();
  }, o.heartbeatMs ?? 15_000);
  let last = o.after;
  try {
    while (!closed()) {
      if (!o.stillValid()) {
        res.end();
        break;
      }
      const { events, next } = o.log.page(last, o.filter);
      let ok = true;
      for (const e of events) ok = res.write(`id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify({ id: e.id, seq: e.seq, type: e.type, at: e.at, isp: e.isp, subject: e.subject, data: e.data })}\n\n`);
      if (next !== last) {
        last = next;
        if (!ok) await new Promise<void>((r) => {
          wake = r;
          res.once('drain', poke);
        });
        continue;
      }
      await new Promise<void>((r) => (wake = r));
    }
  } finally {
    clearInterval(beat);
    unsubscribe();
    res.off('close', poke);
  }
}
