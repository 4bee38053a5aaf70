import type { Staff } from '$lib/server/auth';

declare global {
  namespace App {
    interface Locals {
      staff?: Staff;
      sessionToken?: string;
    }
    interface Error {
      message: string;
      id?: string;
    }
  }
}

export {};
