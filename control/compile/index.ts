// The compiler's public face: validated Config + host interfaces → desired Tables.

export {
  compile,
  compileSubscriber,
  staticEnv,
  subscriberContext,
  subVlanEntry,
  CompileError,
  type CompileEnv,
  type InterfaceInfo,
  type SubscriberContext,
  type SubscriberEntries,
} from './compile.js';
export { assignIds, fnv1a } from './ids.js';
