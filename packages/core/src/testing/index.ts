export * from './fuzz.js';
export * from './random.js';
