/**
 * The fake site's data: users, courses, manual enrolments and web-service tokens, with Moodle's seeded rows
 * (guest, the site administrator, the web-service user, the front page). Changes inside {@link MoodleSite.transaction}
 * are rolled back when it throws, like `$DB->start_delegated_transaction()`; id sequences are not rolled back, as in
 * a real database.
 */

/** A row of `mdl_user`, as the fake keeps it. */
export interface FakeMoodleUser {
  id: number;
  username: string;
  auth: string;
  /**
   * The plain-text password the client sent (a fake keeps it so tests can check what was sent; Moodle stores a
   * hash). `null` for external auth or `createpassword`.
   */
  password: string | null;
  /** Set when the user was created with `createpassword=1` (Moodle would mail a generated password). */
  createpassword: boolean;
  firstname: string;
  lastname: string;
  email: string;
  idnumber: string;
  lang: string;
  calendartype: string;
  theme: string;
  timezone: string;
  mailformat: number;
  maildisplay: number;
  description: string;
  city: string;
  country: string;
  institution: string;
  department: string;
  suspended: boolean;
  confirmed: boolean;
  deleted: boolean;
  siteadmin: boolean;
  customfields: { type: string; value: string }[];
  preferences: { type: string; value: string }[];
  timecreated: number;
  timemodified: number;
}

/** A row of `mdl_course`; id 1 is the front page (`format: "site"`), which has no manual enrolment instance. */
export interface FakeMoodleCourse {
  id: number;
  shortname: string;
  fullname: string;
  idnumber: string;
  categoryid: number;
  format: string;
  /** Whether the course has an enabled manual enrolment instance. */
  manualEnrol: boolean;
}

/** A manual enrolment plus its role assignment. */
export interface FakeMoodleEnrolment {
  courseid: number;
  userid: number;
  roleid: number;
  timestart: number;
  timeend: number;
  /** 0 active, 1 suspended (ENROL_USER_SUSPENDED). */
  status: 0 | 1;
  timecreated: number;
}

/** A role of the site; only `assignable` ones can be given through `enrol_manual_enrol_users`. */
export interface FakeMoodleRole {
  id: number;
  shortname: string;
  assignable: boolean;
}

/** A web-service token, the user it acts as, and its service's functions and the user's capabilities. */
export interface FakeMoodleToken {
  token: string;
  userid: number;
  functions: string[];
  capabilities: string[];
}

/** Input for users added directly (seeding, `POST /__fake/users`); unset fields take Moodle's defaults. */
export type FakeMoodleUserInput = Partial<Omit<FakeMoodleUser, 'id'>> & {
  username: string;
};

/** Input for courses added directly. */
export type FakeMoodleCourseInput = Partial<Omit<FakeMoodleCourse, 'id'>> & { shortname: string };

export const GUEST_USER_ID = 1;
export const ADMIN_USER_ID = 2;
export const WS_USER_ID = 3;
export const SITE_COURSE_ID = 1;

export const DEFAULT_ROLES: readonly FakeMoodleRole[] = [
  { id: 1, shortname: 'manager', assignable: true },
  { id: 3, shortname: 'editingteacher', assignable: true },
  { id: 4, shortname: 'teacher', assignable: true },
  { id: 5, shortname: 'student', assignable: true },
  { id: 6, shortname: 'guest', assignable: false },
  { id: 7, shortname: 'user', assignable: false },
];

/** The entry courses of the original system's example configuration (`{"aspirante": ["I1", "I2"]}`). */
export const DEFAULT_COURSES: readonly FakeMoodleCourseInput[] = [
  { shortname: 'I1', fullname: 'Cursillo de ingreso - Módulo 1', idnumber: 'ING-1' },
  { shortname: 'I2', fullname: 'Cursillo de ingreso - Módulo 2', idnumber: 'ING-2' },
  { shortname: 'TGA', fullname: 'Tecnicatura en Gestión Administrativa - Ingreso', idnumber: 'ING-TGA' },
];

interface SiteData {
  users: FakeMoodleUser[];
  courses: FakeMoodleCourse[];
  enrolments: FakeMoodleEnrolment[];
}

/** The mutable site behind the fake. */
export interface MoodleSite {
  readonly data: SiteData;
  readonly roles: readonly FakeMoodleRole[];
  /** Runs `fn`; restores users, courses and enrolments if it throws. */
  transaction<T>(fn: () => T): T;
  addUser(input: FakeMoodleUserInput): FakeMoodleUser;
  addCourse(input: FakeMoodleCourseInput): FakeMoodleCourse;
  /** An active (not deleted) user by id. */
  activeUser(id: number): FakeMoodleUser | undefined;
  /** Drops everything and re-seeds. */
  reset(): void;
}

export interface MoodleSiteOptions {
  now: () => Date;
  courses: readonly FakeMoodleCourseInput[];
  users: readonly FakeMoodleUserInput[];
  wsUsername: string;
}

const unixNow = (now: () => Date): number => Math.floor(now().getTime() / 1000);

export function createMoodleSite(options: MoodleSiteOptions): MoodleSite {
  let nextUserId = 1;
  let nextCourseId = 1;
  const data: SiteData = { users: [], courses: [], enrolments: [] };

  const addUser = (input: FakeMoodleUserInput): FakeMoodleUser => {
    const time = unixNow(options.now);
    const user: FakeMoodleUser = {
      auth: 'manual',
      password: null,
      createpassword: false,
      firstname: '',
      lastname: '',
      email: '',
      idnumber: '',
      lang: 'es',
      calendartype: 'gregorian',
      theme: '',
      timezone: '99',
      mailformat: 1,
      maildisplay: 2,
      description: '',
      city: '',
      country: '',
      institution: '',
      department: '',
      suspended: false,
      confirmed: true,
      deleted: false,
      siteadmin: false,
      customfields: [],
      preferences: [],
      timecreated: time,
      timemodified: time,
      ...input,
      id: nextUserId++,
    };
    data.users.push(user);
    return user;
  };

  const addCourse = (input: FakeMoodleCourseInput): FakeMoodleCourse => {
    const course: FakeMoodleCourse = {
      fullname: input.shortname,
      idnumber: '',
      categoryid: 1,
      format: 'topics',
      manualEnrol: true,
      ...input,
      id: nextCourseId++,
    };
    data.courses.push(course);
    return course;
  };

  const seed = (): void => {
    nextUserId = 1;
    nextCourseId = 1;
    data.users.length = 0;
    data.courses.length = 0;
    data.enrolments.length = 0;
    addUser({
      username: 'guest',
      firstname: 'Guest user',
      lastname: ' ',
      email: 'root@localhost',
      lang: 'en',
    });
    addUser({
      username: 'admin',
      firstname: 'Admin',
      lastname: 'User',
      email: 'admin@v.eco.unrc.edu.ar',
      siteadmin: true,
    });
    addUser({
      username: options.wsUsername,
      firstname: 'Lucy',
      lastname: 'Web service',
      email: 'lucy-ws@v.eco.unrc.edu.ar',
      auth: 'webservice',
    });
    addCourse({
      shortname: 'V.ECO',
      fullname: 'Ecosistema Virtual FCE - V.ECO',
      format: 'site',
      categoryid: 0,
      manualEnrol: false,
    });
    for (const course of options.courses) addCourse(course);
    for (const user of options.users) addUser(user);
  };
  seed();

  return {
    data,
    roles: DEFAULT_ROLES,
    transaction<T>(fn: () => T): T {
      const snapshot = structuredClone(data);
      try {
        return fn();
      } catch (err) {
        data.users = snapshot.users;
        data.courses = snapshot.courses;
        data.enrolments = snapshot.enrolments;
        throw err;
      }
    },
    addUser,
    addCourse,
    activeUser: (id) => data.users.find((u) => u.id === id && !u.deleted),
    reset: seed,
  };
}
