// Topology builders live in src/lab (the demo ships them); tests import them from here.
export * from '../../src/lab/topology.js';
