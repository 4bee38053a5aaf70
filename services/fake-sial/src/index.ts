/** @lucy/fake-sial: a faithful SIAL web-service fake for development, demos and tests. */
export {
  createFakeSial,
  SIAL_BASE_PATH,
  type FakeSial,
  type FakeSialOptions,
  type FakeSialPatch,
  type FakeSialRecord,
  type FakeSialRequestCounts,
  type FakeSialState,
} from './fake-sial.server.js';
export {
  BAD_RECORD_KINDS,
  type BadRecordKind,
  type CountedFault,
  type CountedFaultInput,
  type FakeSialFaults,
  type FakeSialFaultsInput,
  type FaultEndpoints,
  type ShapeVariant,
} from './faults.js';
export { FakeInputError, type TouchChange, type TouchTarget } from './dataset.js';
export {
  FAKE_TIPOS,
  MAX_RECORDS_PER_TIPO,
  type FakeCarrera,
  type FakeComision,
  type FakeListRecord,
  type FakePersonalRecord,
  type FakeSizes,
  type FakeTipo,
} from './population.js';
export { formatSialPathDate, parseSialPathDate } from './sial-time.js';
