// The configuration module's public face: load, parse or validate a router's configuration.

export { ConfigError, formatPath, type ConfigIssue } from './errors.js';
export { loadConfigFile, parseConfig, type ConfigFormat } from './load.js';
export { checkConfig, validateConfig } from './validate.js';
export { PrefixIndex, SubscriberIndex, type ChangeCheck, type SubscriberChange } from './incremental.js';
export { parseRate, parseSize } from './units.js';
export { CAPACITY, capacityIssues, tableUsage, type CapacityTable, type TableUsage } from './capacity.js';
export * from './types.js';
export { ldpSchema, type LdpConfig, type LdpIspFecs } from './ldp.js';
