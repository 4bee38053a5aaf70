// What staff type (or a password manager fills) before a page's scripts have run must survive hydration. Svelte
// hydrates a field rendered with `value={…}`, `checked={…}` or `selected={…}` by writing the server-rendered value
// back into it, over whatever was typed meanwhile — on a slow link or a busy machine a filter ran without the text
// typed, a login form was sent with an empty user name (refused by the browser: required), a date was saved empty.
// `keepTyped` notes, just before hydration, every form field whose value differs from the one the server rendered;
// the function it returns, called once hydration is done, puts those values back and tells the page (an `input`
// and a `change` event, as typing would), so the component's own state follows.

type Field = HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement;

// Fields nobody types into, or whose value the browser itself makes up when the server rendered none.
const UNTYPED = new Set(['hidden', 'file', 'submit', 'button', 'reset', 'image', 'range', 'color']);

function tell(el: Field): void {
  el.dispatchEvent(new Event('input', { bubbles: true }));
  el.dispatchEvent(new Event('change', { bubbles: true }));
}

/** One field's typed value, and how to put it back; undefined when nothing was typed into it. */
function noteField(el: Field): (() => void) | undefined {
  // Nobody typed into a field that cannot be typed into.
  if (el.disabled || ('readOnly' in el && el.readOnly)) return undefined;
  if (el instanceof HTMLSelectElement) {
    const options = [...el.options];
    const chosen = options.map((o) => o.selected);
    // What the browser shows untouched: the options rendered selected, else (one-line single select) the first.
    const untouched = options.map((o) => o.defaultSelected);
    if (!el.multiple && el.size <= 1 && options.length > 0 && !untouched.some(Boolean)) untouched[0] = true;
    if (options.every((_o, i) => chosen[i] === untouched[i])) return undefined;
    return () => {
      let changed = false;
      [...el.options].forEach((o, i) => {
        if (i < chosen.length && o.selected !== chosen[i]) {
          o.selected = chosen[i]!;
          changed = true;
        }
      });
      if (changed) tell(el);
    };
  }
  if (el instanceof HTMLInputElement && (el.type === 'checkbox' || el.type === 'radio')) {
    if (el.checked === el.defaultChecked) return undefined;
    // Of a radio group only the one chosen is put back (that unchecks the others, as a click does).
    if (el.type === 'radio' && !el.checked) return undefined;
    const checked = el.checked;
    return () => {
      if (el.checked === checked) return;
      el.checked = checked;
      tell(el);
    };
  }
  if (el instanceof HTMLInputElement && UNTYPED.has(el.type)) return undefined;
  // Half-typed text a number or date field cannot hold reads as "": putting that back would empty the field.
  if (el instanceof HTMLInputElement && el.validity.badInput) return undefined;
  if (el.value === el.defaultValue) return undefined;
  const value = el.value;
  return () => {
    if (el.value === value) return;
    el.value = value;
    tell(el);
  };
}

/**
 * Notes the form fields of `root` that hold something other than what the server rendered; the returned function
 * puts it back into the fields still on the page. Call it right before hydration, and the result right after.
 */
export function keepTyped(root: ParentNode): () => void {
  const kept: { el: Field; restore: () => void }[] = [];
  for (const el of root.querySelectorAll<Field>('input, textarea, select')) {
    const restore = noteField(el);
    if (restore) kept.push({ el, restore });
  }
  return () => {
    for (const { el, restore } of kept) if (el.isConnected) restore();
    // What was typed (a password among it) is not kept in memory any longer than needed.
    kept.length = 0;
  };
}
