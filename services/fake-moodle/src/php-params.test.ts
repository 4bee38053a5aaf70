import { describe, expect, it } from 'vitest';
import { mergePhpArrays, parsePhpForm, phpPrintR } from './php-params.js';

const toPlain = (value: unknown): unknown =>
  value instanceof Map ? [...(value as Map<string, unknown>)].map(([k, v]) => [k, toPlain(v)]) : value;

describe('PHP form parsing', () => {
  it('nests bracketed names and keeps the order the client sent', () => {
    const form = 'users[1][username]=b&users[0][username]=a&users[0][email]=a%40x.ar&wsfunction=f';
    expect(toPlain(parsePhpForm(form))).toEqual([
      [
        'users',
        [
          ['1', [['username', 'b']]],
          [
            '0',
            [
              ['username', 'a'],
              ['email', 'a@x.ar'],
            ],
          ],
        ],
      ],
      ['wsfunction', 'f'],
    ]);
  });

  it('appends with [] after the largest integer key', () => {
    expect(toPlain(parsePhpForm('v[]=a&v[5]=b&v[]=c'))).toEqual([
      [
        'v',
        [
          ['0', 'a'],
          ['5', 'b'],
          ['6', 'c'],
        ],
      ],
    ]);
  });

  it('replaces a scalar by a later array, turns dots of the base name into underscores', () => {
    expect(toPlain(parsePhpForm('a=1&a[x]=2&b.c=3'))).toEqual([
      ['a', [['x', '2']]],
      ['b_c', '3'],
    ]);
  });

  it('lets POST variables win over GET ones', () => {
    const merged = mergePhpArrays(parsePhpForm('a=get&b=get'), parsePhpForm('a=post'));
    expect(toPlain(merged)).toEqual([
      ['a', 'post'],
      ['b', 'get'],
    ]);
  });

  it('prints arrays like print_r', () => {
    expect(phpPrintR(parsePhpForm('x[0]=a').get('x'))).toBe('Array\n(\n    [0] => a\n)\n');
  });
});
