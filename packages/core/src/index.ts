export * from './bytes.js';
export * from './classifier.js';
export * from './datagram.js';
export * from './errors.js';
export * from './flow.js';
export * from './protocol.js';
export * from './registry.js';
export * from './session-book.js';
