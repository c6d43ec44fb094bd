// Next-hop and group ids. An id is derived from the thing's identity, not from its position
// in a list: id = 1 + FNV-1a(key) mod 65535, and on a collision the next free id (keys taken in
// sorted order, so the result does not depend on the order of the config). Re-compiling an
// unchanged config gives the same ids; adding or removing a next hop or group leaves every
// other id alone (unless two keys collide, which is rare with a handful of next hops in 65535).
//
// A next hop's key is its adjacency (device, VLAN, neighbour MAC); a group's key is the sorted
// set of its members' keys. A group whose membership changes is therefore a new group with a
// new id: it is written next to the old one and the pointers switch to it, make-before-break.

/** 32-bit FNV-1a over the UTF-16 code units (keys are ASCII). */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Ids 1..space for every distinct key. Throws when there are more keys than ids. */
export function assignIds(keys: Iterable<string>, space = 65535): Map<string, number> {
  const sorted = [...new Set(keys)].sort();
  if (sorted.length > space) throw new RangeError(`${sorted.length} ids needed, only ${space} available`);
  const used = new Set<number>();
  const out = new Map<string, number>();
  for (const key of sorted) {
    let id = (fnv1a(key) % space) + 1;
    while (used.has(id)) id = (id % space) + 1;
    used.add(id);
    out.set(key, id);
  }
  return out;
}
