// The one error type of the LDP codecs and sessions: it carries the RFC 5036 status code the
// peer must be told in a Notification, and the message it was about (id and type, zero for a
// PDU-level error), so the session can answer without re-parsing anything.
import { STATUS_E_BIT, statusName } from './constants.js';

export class LdpError extends Error {
  constructor(
    readonly status: number,
    detail: string,
    readonly msgId = 0,
    readonly msgType = 0,
  ) {
    super(`${statusName(status)}: ${detail}`);
    this.name = 'LdpError';
  }

  /** E bit set: the session must be closed after the Notification */
  get fatal(): boolean {
    return (this.status & STATUS_E_BIT) !== 0;
  }

  /** the same error, now knowing which message it was about */
  about(msgId: number, msgType: number): LdpError {
    if (this.msgId !== 0 || this.msgType !== 0) return this;
    const e = new LdpError(this.status, this.message.slice(statusName(this.status).length + 2), msgId, msgType);
    return e;
  }
}
