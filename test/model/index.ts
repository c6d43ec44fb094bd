// The reference model's public face, for the differential test and anyone else comparing
// against the spec.
export { forward } from './forward.js';
export type {
  Counters,
  DropCount,
  ForwardOptions,
  IspCount,
  LabelCount,
  ModelResult,
  PolicerBucket,
  PolicerState,
  Program,
  Verdict,
} from './forward.js';
export { ipFlowHash, mplsFlowHash, mixWords } from './hash.js';
export { incrementalChecksum, ipv4HeaderChecksum } from './checksum.js';
