import { describe, expect, it } from 'vitest';
import { JsonArraySplitter } from './json-array-splitter.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Splits `text` fed in the given chunks; returns each element's text and the count from end(). */
function split(chunks: readonly Uint8Array[]): { elements: string[]; count: number } {
  const elements: string[] = [];
  const splitter = new JsonArraySplitter((bytes, position) => {
    expect(position).toBe(elements.length);
    elements.push(decoder.decode(bytes));
  });
  for (const chunk of chunks) splitter.push(chunk);
  return { elements, count: splitter.end() };
}

/** The bytes of `text` cut at the given byte offsets. */
function cut(text: string, at: readonly number[]): Uint8Array[] {
  const bytes = encoder.encode(text);
  const out: Uint8Array[] = [];
  let from = 0;
  for (const to of [...at, bytes.length]) {
    out.push(bytes.slice(from, to));
    from = to;
  }
  return out;
}

/** Every way of cutting `text` in two, plus one byte at a time: each must give JSON.parse's elements. */
function expectSplitsLikeJsonParse(text: string): void {
  const expected = (JSON.parse(text) as unknown[]).map((v) => JSON.stringify(v));
  const length = encoder.encode(text).length;
  const cuts: number[][] = [[], Array.from({ length: length - 1 }, (_, i) => i + 1)];
  for (let at = 1; at < length; at++) cuts.push([at]);
  for (const at of cuts) {
    const { elements, count } = split(cut(text, at));
    expect(
      elements.map((e) => JSON.stringify(JSON.parse(e))),
      `cut at ${at.join(',')}`,
    ).toEqual(expected);
    expect(count).toBe(expected.length);
  }
}

function errorOf(text: string, at: readonly number[] = []): unknown {
  try {
    split(cut(text, at));
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('JsonArraySplitter', () => {
  it('splits records and keeps each one verbatim', () => {
    const text = '[{"a":1,"b":[1,2]} , {"c":"x"}]';
    expect(split(cut(text, [])).elements).toEqual(['{"a":1,"b":[1,2]}', '{"c":"x"}']);
  });

  it('splits at every chunk boundary, inside strings, escapes and nested values', () => {
    expectSplitsLikeJsonParse(
      '[{"n":"a \\"quoted\\" ] } , [ name","e":"back\\\\slash\\\\","u":"\\u00e9\\"","k":{"x":[{"y":[]}]}},[1,[2,[3]]],{}]',
    );
  });

  it('joins a multibyte UTF-8 character split across chunks', () => {
    expectSplitsLikeJsonParse('[{"carrera":"LICENCIATURA EN ADMINISTRACIÓN","x":"Ñandú 𝄞 ü"},"ÉÉ"]');
  });

  it('accepts whitespace anywhere between tokens', () => {
    expectSplitsLikeJsonParse(' \r\n\t[ \n {"a" : 1 } \t,\r\n{ "b":[ 1 , 2 ] }\n ] \n');
  });

  it('splits scalar elements: numbers, literals and strings', () => {
    expectSplitsLikeJsonParse('[1,-2.5e3, true,null ,"s,]",false]');
    expect(split(cut('[7]', [])).elements).toEqual(['7']);
  });

  it('gives nothing for an empty array', () => {
    expect(split(cut(' [ ] ', []))).toEqual({ elements: [], count: 0 });
    expect(split(cut('[]', [1]))).toEqual({ elements: [], count: 0 });
  });

  it('rejects an unterminated array, also when it ends inside a string or an element', () => {
    for (const text of ['[', '[{"a":1}', '[{"a":1},', '[{"a":"x', '[{"tipodoc": "DNI", "nrodoc": 4012', '[1'])
      expect(errorOf(text), text).toBeInstanceOf(SyntaxError);
    expect((errorOf('[{"a":1}') as Error).message).toContain('termina antes del cierre');
  });

  it('rejects an empty body', () => {
    expect((errorOf('  ') as Error).message).toContain('vacío');
  });

  it('rejects garbage after the array', () => {
    const err = errorOf('[{"a":1}] x', [9]);
    expect(err).toBeInstanceOf(SyntaxError);
    expect((err as Error).message).toBe('hay datos después del cierre de la lista (byte 10)');
    expect(errorOf('[1]]')).toBeInstanceOf(SyntaxError);
  });

  it('rejects broken punctuation of the array itself', () => {
    expect((errorOf('[{"a":1} {"b":2}]') as Error).message).toContain('se esperaba «,» o «]»');
    expect((errorOf('[{"a":1},]') as Error).message).toContain('sobra una «,»');
    expect((errorOf('[,{"a":1}]') as Error).message).toContain('falta un elemento');
    expect((errorOf('[}]') as Error).message).toContain('«}» inesperada');
  });

  it('says when the body is not an array and stops there', () => {
    const splitter = new JsonArraySplitter(() => undefined);
    expect(() => splitter.push(encoder.encode(' {"resultados":[]}'))).toThrow(SyntaxError);
    expect(splitter.notAnArray).toBe(true);
    expect(() => splitter.push(encoder.encode('[]'))).toThrow(SyntaxError);
    const array = new JsonArraySplitter(() => undefined);
    array.push(encoder.encode('[1'));
    expect(array.notAnArray).toBe(false);
  });

  it('leaves the inside of an element to JSON.parse', () => {
    // A mismatched bracket inside an element still ends it at depth 0; parsing that element then fails.
    const { elements } = split(cut('[{"a":1],{"b":2}]', []));
    expect(elements).toEqual(['{"a":1]', '{"b":2}']);
    expect(() => JSON.parse(elements[0]!) as unknown).toThrow(SyntaxError);
  });

  it('propagates what the handler throws', () => {
    const splitter = new JsonArraySplitter(() => {
      throw new RangeError('stop');
    });
    expect(() => splitter.push(encoder.encode('[1,2]'))).toThrow(RangeError);
  });

  it('counts elements as it goes', () => {
    const splitter = new JsonArraySplitter(() => undefined);
    splitter.push(encoder.encode('[{"a":1},{"b"'));
    expect(splitter.elements).toBe(1);
    splitter.push(encoder.encode(':2}]'));
    expect(splitter.elements).toBe(2);
    expect(splitter.end()).toBe(2);
  });
});
