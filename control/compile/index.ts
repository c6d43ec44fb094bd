// The compiler's public face: validated Config + host interfaces → desired Tables.

export { compile, staticEnv, CompileError, type CompileEnv, type InterfaceInfo } from './compile.js';
export { assignIds, fnv1a } from './ids.js';
