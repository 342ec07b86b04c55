// The proof-by-attack suites' kit (test/security/attack-*.test.ts) in one import, split by concern:
// attackRoutes.ts — ROUTE_CATALOG (every mounted route must be described there), route discovery, paths;
// attackHttp.ts — raw HTTP sent byte for byte; attackTenants.ts — tenants and their resources;
// attackChecks.ts — state snapshots and response invariants; attackInputs.ts — hostile inputs;
// attackBodies.ts — per body-reading route, its valid body with one field made invalid.
export * from './attackRoutes.js';
export * from './attackHttp.js';
export * from './attackTenants.js';
export * from './attackChecks.js';
export * from './attackInputs.js';
export * from './attackBodies.js';
