// The packages as their source says they are: which files import which, the package graph
// that makes, its cycles and its arrows against a layering, and the names each index exports.
// Read with TypeScript's own parser, so every form of import counts (multi-line, `import type`,
// `export … from`, `import()`), and comments or strings that look like imports do not.
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import ts from 'typescript'

/** The package names: the folders of packages/. */
export function packageNames(root: string): string[] {
  return readdirSync(join(root, 'packages'), { withFileTypes: true })
    .filter(entry => entry.isDirectory())
    .map(entry => entry.name)
    .sort()
}

/** Every .ts file under `dir`, as absolute paths. */
export function typeScriptFiles(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter(entry => entry.isFile() && entry.name.endsWith('.ts'))
    .map(entry => join(entry.parentPath, entry.name))
    .sort()
}

function parse(file: string): ts.SourceFile {
  return ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)
}

/** The module specifiers of every import and re-export in `file`, dynamic ones included. */
export function importSpecifiers(file: string): string[] {
  const found: string[] = []
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      found.push(node.moduleSpecifier.text)
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteralLike(node.arguments[0])
    ) {
      found.push(node.arguments[0].text)
    } else if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      found.push(node.argument.literal.text)
    }
    ts.forEachChild(node, visit)
  }
  visit(parse(file))
  return found
}

/** The absolute path of the source file a relative specifier in `file` names (`.js` → `.ts`). */
function sourceOf(file: string, specifier: string): string {
  return resolve(dirname(file), specifier.replace(/\.js$/, '.ts'))
}

/** One relative import that leaves its package: `from` (a package) imports `file`. */
export interface Arrow {
  /** The importing package. */
  from: string
  /** The importing file, relative to the repository. */
  source: string
  /** The imported file, relative to the repository (`.js` read as the `.ts` it is built from). */
  target: string
  /** The imported package, or undefined when the target is outside packages/. */
  to: string | undefined
}

/** Every import in packages/ that reaches outside its own package. */
export function packageArrows(root: string): Arrow[] {
  const arrows: Arrow[] = []
  for (const from of packageNames(root)) {
    const home = join(root, 'packages', from)
    for (const file of typeScriptFiles(join(home, 'src'))) {
      for (const specifier of importSpecifiers(file)) {
        if (!specifier.startsWith('.')) continue
        const target = sourceOf(file, specifier)
        if (target.startsWith(home + sep)) continue
        const [top, to] = relative(root, target).split(sep)
        arrows.push({
          from,
          source: relative(root, file),
          target: relative(root, target),
          to: top === 'packages' ? to : undefined,
        })
      }
    }
  }
  return arrows
}

/** Arrows between named nodes: packages, or files. */
export type Graph = ReadonlyMap<string, ReadonlySet<string>>

/** Which files of its own package each file of packages/ imports (paths from the repository). */
export function fileGraph(root: string): Graph {
  const graph = new Map<string, Set<string>>()
  for (const name of packageNames(root)) {
    const home = join(root, 'packages', name)
    for (const file of typeScriptFiles(join(home, 'src'))) {
      const targets = new Set<string>()
      for (const specifier of importSpecifiers(file)) {
        if (!specifier.startsWith('.')) continue
        const target = sourceOf(file, specifier)
        if (target.startsWith(home + sep)) targets.add(relative(root, target))
      }
      graph.set(relative(root, file), targets)
    }
  }
  return graph
}

/** Which packages each package imports. */
export function packageGraph(arrows: readonly Arrow[]): Graph {
  const graph = new Map<string, Set<string>>()
  for (const { from, to } of arrows) {
    if (to === undefined) continue
    graph.set(from, (graph.get(from) ?? new Set()).add(to))
  }
  return graph
}

/**
 * One cycle through every strongly connected group of the graph (Tarjan), each written
 * as the path that closes it: ['kit', 'aws', 'kit']. Empty when the graph is acyclic.
 */
export function findCycles(graph: Graph): string[][] {
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const groups: string[][] = []
  const connect = (node: string): void => {
    index.set(node, index.size)
    low.set(node, index.get(node)!)
    stack.push(node)
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        connect(next)
        low.set(node, Math.min(low.get(node)!, low.get(next)!))
      } else if (stack.includes(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!))
      }
    }
    if (low.get(node) === index.get(node)) {
      const group = stack.splice(stack.indexOf(node))
      if (group.length > 1 || graph.get(node)?.has(node)) groups.push(group)
    }
  }
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) connect(node)
  return groups.map(group => cycleWithin(graph, new Set(group)))
}

/** A path from the group's first member (in name order) back to it, inside the group. */
function cycleWithin(graph: Graph, group: ReadonlySet<string>): string[] {
  const start = [...group].sort()[0]!
  const path = [start]
  const seen = new Set<string>()
  const walk = (node: string): boolean => {
    for (const next of [...(graph.get(node) ?? [])].sort()) {
      if (!group.has(next)) continue
      if (next === start) {
        path.push(next)
        return true
      }
      if (seen.has(next)) continue
      seen.add(next)
      path.push(next)
      if (walk(next)) return true
      path.pop()
    }
    return false
  }
  walk(start)
  return path
}

/** Every package `name` stands on, directly or through another (the layering's closure). */
export function below(layering: Graph, name: string): Set<string> {
  const found = new Set<string>()
  const visit = (node: string): void => {
    for (const next of layering.get(node) ?? []) {
      if (found.has(next)) continue
      found.add(next)
      visit(next)
    }
  }
  visit(name)
  return found
}

/**
 * The arrows of `graph` that the layering does not allow, in words. An arrow may only go
 * down: from a package to one it stands on, directly or not.
 */
export function layeringViolations(graph: Graph, layering: Graph): string[] {
  const problems: string[] = []
  for (const [from, targets] of [...graph].sort(([a], [b]) => a.localeCompare(b))) {
    if (!layering.has(from)) {
      problems.push(`${from} is not in the layering: give it a floor`)
      continue
    }
    const allowed = below(layering, from)
    for (const to of [...targets].sort()) {
      if (allowed.has(to)) continue
      const way = below(layering, to).has(from)
        ? `goes up: ${to} stands on ${from}`
        : `is sideways: the layering puts neither on the other`
      problems.push(`${from} → ${to} ${way}`)
    }
  }
  return problems
}

/**
 * The names a module exports, following `export * from './x.js'` through its own package:
 * what `import { … } from '<package>/src/index.js'` can name.
 */
export function exportedNames(file: string): string[] {
  const names = new Set<string>()
  const hasExport = (node: ts.Node) =>
    ts.canHaveModifiers(node) &&
    (ts.getModifiers(node) ?? []).some(m => m.kind === ts.SyntaxKind.ExportKeyword)
  for (const statement of parse(file).statements) {
    if (ts.isExportDeclaration(statement)) {
      const clause = statement.exportClause
      const specifier =
        statement.moduleSpecifier && ts.isStringLiteral(statement.moduleSpecifier)
          ? statement.moduleSpecifier.text
          : undefined
      if (clause === undefined && specifier !== undefined) {
        for (const name of exportedNames(sourceOf(file, specifier))) names.add(name)
      } else if (clause && ts.isNamedExports(clause)) {
        for (const element of clause.elements) names.add(element.name.text)
      } else if (clause && ts.isNamespaceExport(clause)) {
        names.add(clause.name.text)
      }
    } else if (ts.isExportAssignment(statement)) {
      names.add('default')
    } else if (ts.isVariableStatement(statement) && hasExport(statement)) {
      for (const declaration of statement.declarationList.declarations) {
        if (ts.isIdentifier(declaration.name)) names.add(declaration.name.text)
      }
    } else if (
      (ts.isFunctionDeclaration(statement) ||
        ts.isClassDeclaration(statement) ||
        ts.isInterfaceDeclaration(statement) ||
        ts.isTypeAliasDeclaration(statement) ||
        ts.isEnumDeclaration(statement)) &&
      statement.name &&
      hasExport(statement)
    ) {
      names.add(statement.name.text)
    }
  }
  return [...names].sort()
}
