// Reads which environment variables a service's src/config.ts declares, and which of them are required, from
// the TypeScript syntax tree (no code is run): the keys of every `z.object({...})` literal and of every
// `const ...Shape = {...}` in the file, with `...spread` and `z.object(name)` resolved against the same file and
// the platform's config.ts. A variable is optional when its expression has `.default(`, `.optional(` or
// `.nullish(`, or is a platform helper that carries a default (portVar, boolVar, intVar, urlVar with a fallback).
import { readFileSync } from 'node:fs';
import ts from 'typescript';

export interface EnvVar {
  name: string;
  /** No default: the service refuses to start without it. */
  required: boolean;
  /** Its default points at this machine (127.0.0.1/localhost): wrong in a container, so deployments set it. */
  localDefault: boolean;
  file: string;
}

/** Helpers of platform/src/config.ts: whether a call with `args` arguments has a default. */
const HELPERS: Record<string, (args: number) => boolean> = {
  portVar: () => true,
  boolVar: () => true,
  intVar: () => true,
  urlVar: (args) => args >= 2,
};

const VAR_NAME = /^[A-Z][A-Z0-9_]*$/;

/** The shape objects of one file by name, and its z.object literals. */
function collect(file: string, text: string) {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const shapes = new Map<string, ts.ObjectLiteralExpression>();
  const objects: Array<ts.ObjectLiteralExpression | ts.Identifier> = [];
  const visit = (node: ts.Node) => {
    if (
      ts.isVariableDeclaration(node) &&
      ts.isIdentifier(node.name) &&
      node.initializer &&
      /Shape$/.test(node.name.text)
    ) {
      let init: ts.Expression = node.initializer;
      while (ts.isAsExpression(init) || ts.isSatisfiesExpression(init) || ts.isParenthesizedExpression(init))
        init = init.expression;
      if (ts.isObjectLiteralExpression(init)) shapes.set(node.name.text, init);
    }
    if (
      ts.isCallExpression(node) &&
      ts.isPropertyAccessExpression(node.expression) &&
      node.expression.name.text === 'object' &&
      ts.isIdentifier(node.expression.expression) &&
      node.expression.expression.text === 'z' &&
      node.arguments[0] &&
      (ts.isObjectLiteralExpression(node.arguments[0]) || ts.isIdentifier(node.arguments[0]))
    )
      objects.push(node.arguments[0]);
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return { shapes, objects };
}

const LOCAL = /127\.0\.0\.1|localhost|\[::1\]/;

/** Whether a variable's zod expression yields a value when the variable is unset, and whether that is local. */
function defaultOf(expr: ts.Expression, where: string): { has: boolean; local: boolean } {
  let e: ts.Expression = expr;
  for (;;) {
    if (ts.isCallExpression(e)) {
      const callee = e.expression;
      if (ts.isPropertyAccessExpression(callee)) {
        // z.string(), z.enum([...]): the root of the chain, reached without a default.
        if (ts.isIdentifier(callee.expression) && callee.expression.text === 'z')
          return { has: false, local: false };
        if (['optional', 'nullish'].includes(callee.name.text)) return { has: true, local: false };
        if (['default', 'catch'].includes(callee.name.text))
          return { has: true, local: LOCAL.test(e.arguments[0]?.getText() ?? '') };
        e = callee.expression;
        continue;
      }
      if (ts.isIdentifier(callee)) {
        const helper = HELPERS[callee.text];
        if (!helper)
          throw new Error(`${where}: unknown helper ${callee.text}(); teach deploy/test/config-vars.ts`);
        const has = helper(e.arguments.length);
        return { has, local: has && e.arguments.some((arg) => LOCAL.test(arg.getText())) };
      }
      throw new Error(`${where}: cannot read ${expr.getText()}`);
    }
    if (ts.isPropertyAccessExpression(e)) {
      // z.string, z.coerce.number, z.enum: the chain's root.
      if (ts.isIdentifier(e.expression) && e.expression.text === 'z') return { has: false, local: false };
      e = e.expression;
      continue;
    }
    if (ts.isIdentifier(e)) {
      // A schema kept in a constant of the same file is not followed: say so rather than guess.
      throw new Error(`${where}: ${e.text} is a constant; inline it or teach deploy/test/config-vars.ts`);
    }
    throw new Error(`${where}: cannot read ${expr.getText()}`);
  }
}

/**
 * Every variable a config file declares. `platformFile` resolves spreads of platform shapes (platformEnvShape,
 * secretBoxEnvShape); an unresolvable spread or expression throws, so the test fails loudly instead of passing.
 */
export function envVars(file: string, platformFile: string, text = readFileSync(file, 'utf8')): EnvVar[] {
  const own = collect(file, text);
  const platform = collect(platformFile, readFileSync(platformFile, 'utf8'));
  const out = new Map<string, EnvVar>();
  const lookup = (name: string) => own.shapes.get(name) ?? platform.shapes.get(name);
  const read = (obj: ts.ObjectLiteralExpression, from: string, depth = 0) => {
    if (depth > 5) throw new Error(`${file}: shapes spread too deep`);
    for (const p of obj.properties) {
      if (ts.isSpreadAssignment(p)) {
        if (!ts.isIdentifier(p.expression))
          throw new Error(`${file}: cannot resolve ...${p.expression.getText()}`);
        const shape = lookup(p.expression.text);
        if (!shape) throw new Error(`${file}: cannot resolve ...${p.expression.text}`);
        read(shape, shape.getSourceFile().fileName, depth + 1);
        continue;
      }
      if (!ts.isPropertyAssignment(p)) continue;
      const name = ts.isIdentifier(p.name) || ts.isStringLiteral(p.name) ? p.name.text : undefined;
      if (!name || !VAR_NAME.test(name)) continue;
      const d = defaultOf(p.initializer, `${from}: ${name}`);
      // A later declaration of the same variable (a service overriding a platform one) wins, as in the object.
      out.set(name, { name, required: !d.has, localDefault: d.local, file: from });
    }
  };
  for (const o of own.objects) {
    if (ts.isObjectLiteralExpression(o)) read(o, file);
    else {
      const shape = lookup(o.text);
      if (!shape) throw new Error(`${file}: cannot resolve z.object(${o.text})`);
      read(shape, shape.getSourceFile().fileName);
    }
  }
  for (const [name, shape] of own.shapes)
    if (!own.objects.some((o) => ts.isIdentifier(o) && o.text === name)) read(shape, file);
  return [...out.values()];
}

/**
 * The variables a hand-written config (the admin's) reads: `env.NAME`, `env['NAME']`, `{ env: 'NAME' }` table
 * entries and helper calls `f(env, 'NAME', ...)`, where `env` is the environment record.
 */
export function envReads(file: string, text = readFileSync(file, 'utf8')): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const names = new Set<string>();
  const isEnv = (n: ts.Node) => ts.isIdentifier(n) && n.text === 'env';
  const visit = (node: ts.Node) => {
    if (ts.isPropertyAccessExpression(node) && isEnv(node.expression) && VAR_NAME.test(node.name.text))
      names.add(node.name.text);
    if (
      ts.isElementAccessExpression(node) &&
      isEnv(node.expression) &&
      ts.isStringLiteralLike(node.argumentExpression) &&
      VAR_NAME.test(node.argumentExpression.text)
    )
      names.add(node.argumentExpression.text);
    if (
      ts.isPropertyAssignment(node) &&
      ts.isIdentifier(node.name) &&
      node.name.text === 'env' &&
      ts.isStringLiteralLike(node.initializer) &&
      VAR_NAME.test(node.initializer.text)
    )
      names.add(node.initializer.text);
    if (ts.isCallExpression(node))
      node.arguments.forEach((a, i) => {
        const next = node.arguments[i + 1];
        if (isEnv(a) && next && ts.isStringLiteralLike(next) && VAR_NAME.test(next.text))
          names.add(next.text);
      });
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return [...names].sort();
}
