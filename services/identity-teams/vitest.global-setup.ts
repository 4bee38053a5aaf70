/** Trusts the Graph fake's certificate in the test workers: @lucy/fake-graph's own global setup, reused as is. */
export { default } from '@lucy/fake-graph/vitest-global-setup';
