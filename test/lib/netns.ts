// Namespace primitives live in src/lab (the demo ships them); tests import them from here.
export * from '../../src/lab/netns.js';
