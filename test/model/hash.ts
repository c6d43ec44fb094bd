// The ECMP flow hash of FORWARDING.md ("Next hop selection and ECMP"): an FNV-1a-like mix over
// 32-bit words taken from the frame as received, finished with murmur3's fmix32.

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;

/** The node's ECMP key (hash_key[0]); zero is the unkeyed hash. */
export interface HashKey {
  k0: number;
  k1: number;
}
export const NO_HASH_KEY: HashKey = { k0: 0, k1: 0 };

export function mixWords(words: readonly number[], key: HashKey = NO_HASH_KEY): number {
  let h = (FNV_OFFSET ^ key.k0) >>> 0;
  for (const w of words) {
    h = Math.imul((h ^ w) >>> 0, FNV_PRIME) >>> 0;
    h = (h ^ (h >>> 15)) >>> 0;
  }
  h = (h ^ key.k1) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h = (h ^ (h >>> 13)) >>> 0;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  return h;
}

/**
 * The words of an IP packet starting at `offset`, with `end` the end of the frame. The caller
 * has checked that the fixed header (20 or 40 bytes) is in the frame. The ports word is
 * non-zero only for unfragmented TCP/UDP with 4 bytes of L4 header inside both the packet's
 * own length and the frame.
 */
export function ipWords(frame: Buffer, offset: number, version: 4 | 6): number[] {
  const end = frame.length;
  const ports = (l4: number, ipEnd: number): number =>
    l4 + 4 <= ipEnd && l4 + 4 <= end ? frame.readUInt32BE(l4) : 0;
  if (version === 4) {
    const protocol = frame[offset + 9];
    const ihlBytes = (frame[offset] & 0x0f) * 4;
    const totalLength = frame.readUInt16BE(offset + 2);
    const fragment = frame.readUInt16BE(offset + 6) & 0x3fff; // MF flag and fragment offset
    const words = [frame.readUInt32BE(offset + 12), frame.readUInt32BE(offset + 16), protocol];
    // An inner header (core) is not validated: with IHL < 5 there is no place where L4 starts.
    const l4ok = (protocol === IPPROTO_TCP || protocol === IPPROTO_UDP) && fragment === 0 && ihlBytes >= 20;
    words.push(l4ok ? ports(offset + ihlBytes, offset + totalLength) : 0);
    return words;
  }
  const nextHeader = frame[offset + 6];
  const payloadLength = frame.readUInt16BE(offset + 4);
  const words: number[] = [];
  for (let i = 8; i < 40; i += 4) words.push(frame.readUInt32BE(offset + i));
  words.push(nextHeader);
  const l4ok = nextHeader === IPPROTO_TCP || nextHeader === IPPROTO_UDP;
  words.push(l4ok ? ports(offset + 40, offset + 40 + payloadLength) : 0);
  return words;
}

/** Hash of an IP packet that the parser has validated (access and isp programs). */
export function ipFlowHash(frame: Buffer, offset: number, version: 4 | 6, key: HashKey = NO_HASH_KEY): number {
  return mixWords(ipWords(frame, offset, version), key);
}

/**
 * Hash of an MPLS frame (core program): up to 3 label values from the top, stopping after
 * S = 1; then, if the bottom was reached and a byte follows, the inner packet's IP words as far
 * as its fixed header is complete.
 */
export function mplsFlowHash(frame: Buffer, stackOffset: number, key: HashKey = NO_HASH_KEY): number {
  const words: number[] = [];
  let offset = stackOffset;
  let bottom = false;
  for (let i = 0; i < 3 && offset + 4 <= frame.length; i++) {
    const entry = frame.readUInt32BE(offset);
    words.push(entry >>> 12);
    offset += 4;
    if (entry & 0x100) {
      bottom = true;
      break;
    }
  }
  if (bottom && offset < frame.length) {
    const version = frame[offset] >> 4;
    if (version === 4 && offset + 20 <= frame.length) words.push(...ipWords(frame, offset, 4));
    if (version === 6 && offset + 40 <= frame.length) words.push(...ipWords(frame, offset, 6));
  }
  return mixWords(words, key);
}
