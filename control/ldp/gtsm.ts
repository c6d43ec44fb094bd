// GTSM for LDP sessions (RFC 6720): we send with TTL 255 and, when both LSRs set the G bit in
// their Hellos, accept only TTL 255. FRR sets the G bit and then requires TTL 255 from us. Node's
// TCP sockets cannot set IP_TTL, so this goes through the native binding's setsockoptInt on the
// descriptor of the socket's libuv handle; where that is unavailable we do not advertise GTSM,
// which FRR accepts (it then negotiates GTSM off).
import type net from 'node:net';
import { k, native } from '../bpf/native.js';

/** The descriptor behind a net.Socket or net.Server (Linux: libuv exposes it as handle.fd). */
export function socketFd(s: net.Socket | net.Server): number | undefined {
  const fd = (s as unknown as { _handle?: { fd?: number } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/** Whether sockets can be given TTL options here (the addon loads). */
export function gtsmAvailable(): boolean {
  try {
    return typeof native().setsockoptInt === 'function' && k('IP_MINTTL') > 0;
  } catch {
    return false;
  }
}

/**
 * Sends with TTL 255 (on a listener this also covers its SYN-ACKs and the sockets it accepts);
 * with `enforce`, drops anything that arrives with a lower TTL. Throws if the option cannot be set.
 */
export function applyGtsm(s: net.Socket | net.Server, enforce: boolean): void {
  const fd = socketFd(s);
  if (fd === undefined) throw new Error('socket has no descriptor yet');
  native().setsockoptInt(fd, k('IPPROTO_IP'), k('IP_TTL'), 255);
  if (enforce) native().setsockoptInt(fd, k('IPPROTO_IP'), k('IP_MINTTL'), 255);
}
