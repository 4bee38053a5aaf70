/** @lucy/fake-moodle: a faithful Moodle REST web-services fake for development, demos and tests. */
export {
  createFakeMoodle,
  MOODLE_REST_PATH,
  type FakeMoodle,
  type FakeMoodleCall,
  type FakeMoodleOptions,
  type FakeMoodleRequestCounts,
  type FakeMoodleState,
} from './fake-moodle.server.js';
export {
  FakeInputError,
  type CountedFault,
  type CountedFaultInput,
  type FakeMoodleFaults,
  type FakeMoodleFaultsInput,
} from './faults.js';
export { ALL_CAPABILITIES, WS_FUNCTION_NAMES } from './functions.js';
export {
  ADMIN_USER_ID,
  DEFAULT_COURSES,
  DEFAULT_ROLES,
  GUEST_USER_ID,
  SITE_COURSE_ID,
  WS_USER_ID,
  type FakeMoodleCourse,
  type FakeMoodleCourseInput,
  type FakeMoodleEnrolment,
  type FakeMoodleRole,
  type FakeMoodleToken,
  type FakeMoodleUser,
  type FakeMoodleUserInput,
} from './site.js';
