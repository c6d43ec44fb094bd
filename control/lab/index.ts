// The lab's public face: bring a lab up or down, read its status, run the demo.
export { Lab, labStatus, type LabStatus, type RouterStatus, type Say } from './lab.js';
export { formatStatus } from './status.js';
export { runDemo, type DemoOptions } from './demo.js';
export { LabError } from './sys.js';
export * from './topology.js';
export * from './plan.js';
export * from './traffic.js';
export * from './ldp.js';
