// The IPv4 header checksum: the incremental update of RFC 1624 that the data plane applies
// when it rewrites the TTL, and the full computation of RFC 791 that tests compare it with.

/** One's-complement sum of 16-bit words, folded to 16 bits. */
function onesComplementAdd(...words: number[]): number {
  let sum = 0;
  for (const w of words) sum += w & 0xffff;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/**
 * RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for one 16-bit word changing from m to m'.
 * A header whose checksum was wrong stays wrong by the same amount.
 */
export function incrementalChecksum(oldChecksum: number, oldWord: number, newWord: number): number {
  return ~onesComplementAdd(~oldChecksum, ~oldWord, newWord) & 0xffff;
}

/** RFC 791: the checksum a header should carry, computed with its checksum field as zero. */
export function ipv4HeaderChecksum(header: Buffer): number {
  const words: number[] = [];
  for (let i = 0; i + 1 < header.length; i += 2) words.push(i === 10 ? 0 : header.readUInt16BE(i));
  return ~onesComplementAdd(...words) & 0xffff;
}
