/** @lucy/fake-graph: a faithful Microsoft Graph v1.0 + Entra ID token endpoint fake over HTTPS. */
export {
  createFakeGraph,
  DEFAULT_APP,
  DEFAULT_DOMAINS,
  DEFAULT_TENANT_ID,
  DEFAULT_WRITE_LIMIT,
  MAX_BATCH_REQUESTS,
  WRITE_WINDOW_MS,
  type FakeGraph,
  type FakeGraphOptions,
  type FakeGraphRequestCounts,
  type FakeGraphState,
  type FakeGraphWrites,
} from './fake-graph.server.js';
export {
  FACULTY_SKU,
  passwordIsStrong,
  STUDENT_SKU,
  type FakeGraphSku,
  type FakeGraphUser,
  type SkuUsage,
} from './directory.js';
export {
  FakeInputError,
  type CountedFault,
  type CountedFaultInput,
  type FakeGraphFaults,
  type FakeGraphFaultsInput,
  type FaultTarget,
} from './faults.js';
export { DEFAULT_APP_ROLES, GRAPH_RESOURCE, type FakeGraphApp } from './token.js';
export {
  JWT_BEARER_ASSERTION,
  registerCertificate,
  verifyClientAssertion,
  type AssertionCheck,
  type RegisteredCertificate,
} from './client-assertion.js';
export {
  certificateCovers,
  DEFAULT_TLS_HOSTS,
  generateCertificate,
  generateClientCertificate,
  loadOrCreateCertificate,
  type FakeGraphTls,
} from './tls.js';
