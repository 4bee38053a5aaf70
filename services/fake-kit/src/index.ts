/** @lucy/fake-kit: what the outside-system fakes (fake-*) share: process runner, env, HTTP plumbing, faults. */
export { FakeConfigError, FakeInputError } from './errors.js';
export { intEnv, isNonNegativeInt, stringEnv, type Env } from './env.js';
export { runFake, type Closable, type RunFakeOptions } from './run-fake.js';
export {
  closeServer,
  extendKeepAlive,
  listen,
  readBody,
  readJsonBody,
  sendBody,
  sendJson,
  serverOrigin,
} from './http.js';
export { isJsonObject, nonNegativeInt, spendFault, type CountedFaultState } from './faults.js';
export { mulberry32, type Random } from './random.js';
