// Public face of fecflow's BPF layer: objects, programs, maps, XDP links, codecs and errors.
export { BpfObject, pinnedMapChanges, type OpenOptions, type PinnedMapChange } from './object.js';
export { Program, XdpAction, type XdpActionName, type ProgramInfo, type TestRunOptions, type TestRunResult } from './program.js';
export { BpfMap, TypedMap, PerCpuTypedMap, sumPerCpu, numPossibleCpus, type MapInfo, type PackedEntries, type UpdateMode } from './map.js';
export { XdpLink, xdpQuery, ifindexOf, type XdpMode, type XdpAttachOptions, type XdpLinkInfo, type XdpQueryResult } from './link.js';
export { BpfError, VerifierError, PinnedMapMismatchError } from './errors.js';
export { withNetns } from './netns.js';
export { ensureBpffs, isBpffs, DEFAULT_BPFFS } from './bpffs.js';
export * as codec from './codec.js';
export {
  type Codec,
  type Decoded,
  type StructCodec,
  type FieldLayout,
  type LpmKey,
  CodecError,
  u8,
  u16,
  u32,
  u64,
  be16,
  be32,
  bytes,
  ipv4,
  ipv6,
  mac,
  pad,
  struct,
  lpmKey,
} from './codec.js';
