/**
 * Splits a JSON text whose top level is an array into the UTF-8 bytes of its elements, chunk by chunk, so a large
 * list response can be parsed one element at a time while it arrives: the whole text and the whole parsed array
 * never exist at once.
 *
 * It is a byte scanner, not a parser: it tracks strings (with their escapes) and bracket depth to find where each
 * top-level element ends, and checks the array's own punctuation (`[`, `,`, `]`, whitespace, nothing after `]`).
 * The inside of an element is left to `JSON.parse`, which rejects whatever the scanner let through (a mismatched
 * bracket inside an element, a bad literal). Scanning bytes is safe for UTF-8: every byte of a multibyte character
 * is ≥ 0x80, so none of them can be mistaken for a quote, backslash, bracket or comma, and an element's bytes are
 * only decoded once complete, so a character split across chunks is joined before it is decoded.
 */

const OPEN_BRACKET = 0x5b; // [
const CLOSE_BRACKET = 0x5d; // ]
const OPEN_BRACE = 0x7b; // {
const CLOSE_BRACE = 0x7d; // }
const QUOTE = 0x22; // "
const BACKSLASH = 0x5c; // \
const COMMA = 0x2c; // ,

const isWhitespace = (b: number): boolean => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

// Where the scanner is in the text.
/** Before the opening `[`. */
const START = 0;
/** After `[`: an element or `]`. */
const FIRST = 1;
/** After `,`: an element. */
const NEXT = 2;
/** Inside an element. */
const ELEMENT = 3;
/** After an element: `,` or `]`. */
const AFTER = 4;
/** After the closing `]`: only whitespace. */
const DONE = 5;
/** The text did not start with `[`. */
const NOT_ARRAY = 6;

/** The text is not a well-formed JSON array (as far as the scanner sees). */
export class JsonArraySyntaxError extends SyntaxError {
  override readonly name = 'SyntaxError';
}

/** Receives each element: its UTF-8 bytes (valid only during the call) and its 0-based position. */
export type ElementHandler = (bytes: Uint8Array, position: number) => void;

/** Incremental splitter of one top-level JSON array; see the module documentation. */
export class JsonArraySplitter {
  private state = START;
  /** Bracket depth inside the current element (0 while in a scalar or a top-level string). */
  private depth = 0;
  private inString = false;
  /** The previous chunk ended on a backslash inside a string. */
  private escaped = false;
  /** Parts of the current element from earlier chunks. */
  private pending: Uint8Array[] = [];
  private count = 0;
  /** Bytes scanned before the current chunk, for error messages. */
  private offset = 0;

  constructor(private readonly onElement: ElementHandler) {}

  /** Elements emitted so far. */
  get elements(): number {
    return this.count;
  }

  /**
   * Whether the text is known not to be an array: its first non-whitespace byte was something else (`push` threw).
   * The caller decides what to do with such a body, e.g. parse it whole to say what it is.
   */
  get notAnArray(): boolean {
    return this.state === NOT_ARRAY;
  }

  /**
   * Scans the next chunk, calling the handler for every element it completes.
   * @throws JsonArraySyntaxError when the text cannot be a JSON array (errors thrown by the handler propagate as
   * they are).
   */
  push(chunk: Uint8Array): void {
    const length = chunk.length;
    if (length === 0) return;
    let state = this.state;
    let depth = this.depth;
    let inString = this.inString;
    // Where the current element began in this chunk (0 when it began in an earlier one).
    let start = 0;
    let i = 0;
    if (this.escaped) {
      this.escaped = false;
      i = 1; // the escaped byte cannot end the string
    }
    try {
      while (i < length) {
        if (state === ELEMENT) {
          if (inString) {
            // Skip to the closing quote, jumping over escapes.
            while (i < length) {
              const c = chunk[i]!;
              if (c === QUOTE) break;
              i += c === BACKSLASH ? 2 : 1;
            }
            if (i >= length) {
              if (i > length) this.escaped = true; // the chunk ended between a backslash and its byte
              break;
            }
            inString = false;
            i++;
            if (depth === 0) {
              state = AFTER;
              this.emit(chunk, start, i);
            }
            continue;
          }
          const b = chunk[i]!;
          if (b === QUOTE) inString = true;
          else if (b === OPEN_BRACE || b === OPEN_BRACKET) depth++;
          else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
            if (depth === 0) {
              // The end of a scalar: the `]` (or a stray `}`) is the array's, looked at again in AFTER.
              state = AFTER;
              this.emit(chunk, start, i);
              continue;
            }
            if (--depth === 0) {
              state = AFTER;
              this.emit(chunk, start, i + 1);
            }
          } else if (depth === 0 && (b === COMMA || isWhitespace(b))) {
            state = AFTER;
            this.emit(chunk, start, i);
            continue;
          }
          i++;
          continue;
        }
        const b = chunk[i]!;
        if (isWhitespace(b)) {
          i++;
          continue;
        }
        switch (state) {
          case START:
            if (b !== OPEN_BRACKET) {
              state = NOT_ARRAY;
              throw this.error('el cuerpo no es una lista', i);
            }
            state = FIRST;
            break;
          case AFTER:
            if (b === COMMA) state = NEXT;
            else if (b === CLOSE_BRACKET) state = DONE;
            else throw this.error(`se esperaba «,» o «]» y llegó «${String.fromCharCode(b)}»`, i);
            break;
          case FIRST:
          case NEXT:
            if (b === CLOSE_BRACKET) {
              if (state === NEXT) throw this.error('sobra una «,» antes de «]»', i);
              state = DONE;
              break;
            }
            if (b === COMMA) throw this.error('falta un elemento antes de «,»', i);
            if (b === CLOSE_BRACE) throw this.error('«}» inesperada', i);
            // The first byte of an element: looked at again in ELEMENT.
            state = ELEMENT;
            depth = 0;
            inString = false;
            start = i;
            continue;
          case DONE:
            throw this.error('hay datos después del cierre de la lista', i);
          case NOT_ARRAY:
            throw this.error('el cuerpo no es una lista', i);
        }
        i++;
      }
      if (state === ELEMENT) this.pending.push(chunk.subarray(start));
    } finally {
      this.state = state;
      this.depth = depth;
      this.inString = inString;
      this.offset += length;
    }
  }

  /**
   * Ends the text.
   * @returns the number of elements.
   * @throws JsonArraySyntaxError when the array is not closed, or the text was empty.
   */
  end(): number {
    if (this.state !== DONE) {
      throw this.error(
        this.state === START ? 'el cuerpo está vacío' : 'el texto termina antes del cierre de la lista',
        0,
      );
    }
    return this.count;
  }

  private emit(chunk: Uint8Array, from: number, to: number): void {
    let bytes = chunk.subarray(from, to);
    if (this.pending.length > 0) {
      const parts = this.pending;
      this.pending = [];
      let size = bytes.length;
      for (const p of parts) size += p.length;
      const joined = new Uint8Array(size);
      let at = 0;
      for (const p of parts) {
        joined.set(p, at);
        at += p.length;
      }
      joined.set(bytes, at);
      bytes = joined;
    }
    this.onElement(bytes, this.count++);
  }

  private error(detail: string, index: number): JsonArraySyntaxError {
    return new JsonArraySyntaxError(`${detail} (byte ${this.offset + index})`);
  }
}
