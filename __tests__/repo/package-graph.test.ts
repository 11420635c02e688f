// The package graph, read from the import statements of packages/*/src: no cycle, no arrow up
// to actions/ or out to dev/, every arrow through the other package's index, and every arrow
// going down the layering below (docs/adr/0012-package-walls.md).
import { afterEach, describe, expect, it } from '@jest/globals'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { repoRoot } from '../support/bundled-action.js'
import {
  fileGraph,
  findCycles,
  layeringViolations,
  packageArrows,
  packageGraph,
  packageNames,
  type Graph,
} from '../support/packages.js'

const graphOf = (edges: Record<string, string[]>): Graph =>
  new Map(Object.entries(edges).map(([from, to]) => [from, new Set(to)]))

/**
 * What each package stands on. kit is the ground floor; github, the edge to GitHub, stands
 * above aws and is imported by actions/ only. A package may import any package below it,
 * directly or not; never one above it or beside it.
 */
const LAYERING = graphOf({
  kit: [],
  artifact: ['kit'],
  aws: ['kit'],
  refs: ['kit'],
  remote: ['kit'],
  'release-store': ['aws'],
  fleet: ['aws', 'remote'],
  health: ['fleet'],
  report: ['remote'],
  // github builds the run context that release-store's records hold (its type).
  github: ['aws', 'release-store'],
})

describe('findCycles', () => {
  it('finds none in an acyclic graph', () => {
    expect(findCycles(LAYERING)).toEqual([])
    expect(findCycles(graphOf({ a: ['b', 'c'], b: ['c'], c: [] }))).toEqual([])
  })

  it('names the knot of the house at 22d4118: kit ↔ aws, and aws → artifact → kit', () => {
    // kit's github-aws.ts imported aws; aws held the S3 store, whose records used artifact.
    const before = graphOf({
      artifact: ['kit'],
      aws: ['kit', 'artifact'],
      fleet: ['aws', 'kit', 'remote'],
      health: ['kit', 'fleet'],
      kit: ['aws'],
      refs: ['kit'],
      remote: ['kit'],
      report: ['remote', 'kit'],
    })
    expect(findCycles(before)).toEqual([['artifact', 'kit', 'aws', 'artifact']])
  })

  it("names a cycle between two files of a package (report's live.ts ↔ summary.ts at 22d4118)", () => {
    const live = 'packages/report/src/live.ts'
    const summary = 'packages/report/src/summary.ts'
    expect(findCycles(graphOf({ [live]: [summary], [summary]: [live] }))).toEqual([
      [live, summary, live],
    ])
  })

  it('names one cycle per knot: a longer loop, and a package importing itself', () => {
    const knotted = graphOf({
      a: ['b'],
      b: ['c'],
      c: ['a', 'd'],
      d: [],
      e: ['e'],
      f: ['a'],
    })
    expect(findCycles(knotted)).toEqual([
      ['a', 'b', 'c', 'a'],
      ['e', 'e'],
    ])
  })
})

describe('layeringViolations', () => {
  it('allows arrows down, directly or across floors', () => {
    expect(
      layeringViolations(
        graphOf({ health: ['fleet', 'kit'], github: ['aws', 'kit'], fleet: ['remote'] }),
        LAYERING,
      ),
    ).toEqual([])
  })

  it('names arrows that go up, sideways, or from a package the layering does not know', () => {
    expect(
      layeringViolations(
        graphOf({ kit: ['aws'], report: ['fleet'], fleet: ['github'], newcomer: ['kit'] }),
        LAYERING,
      ),
    ).toEqual([
      'fleet → github is sideways: the layering puts neither on the other',
      'kit → aws goes up: aws stands on kit',
      'newcomer is not in the layering: give it a floor',
      'report → fleet is sideways: the layering puts neither on the other',
    ])
  })
})

describe('packageArrows, on a tree made to break every wall', () => {
  let root: string | undefined
  afterEach(() => {
    if (root) rmSync(root, { recursive: true, force: true })
  })

  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(root!, path)), { recursive: true })
    writeFileSync(join(root!, path), text)
  }

  it('sees every import form, and ignores what only looks like one', () => {
    root = mkdtempSync(join(tmpdir(), 'package-graph-'))
    write(
      'packages/a/src/index.ts',
      [
        'import {',
        '  b,',
        "} from '../../b/src/index.js'",
        "import type { C } from '../../c/src/deep.js'",
        "export * from './own.js'",
        "export { d } from '../../d/src/index.js'",
        "export const later = () => import('../../../actions/x/inputs.js')",
        "export type T = import('../../../dev/aws-sandbox/src/index.js').Sandbox",
        "// import { z } from '../../z/src/index.js'",
        'export const text = "from \'../../y/src/index.js\'"',
        'export const all = [b] as unknown as C',
      ].join('\n'),
    )
    write('packages/a/src/own.ts', "export { a } from './index.js'\n")
    write(
      'packages/b/src/index.ts',
      "export { a } from '../../a/src/index.js'\nexport const b = 1\n",
    )

    const arrows = packageArrows(root)
    expect(arrows.map(({ source, target, to }) => ({ source, target, to }))).toEqual([
      { source: 'packages/a/src/index.ts', target: 'packages/b/src/index.ts', to: 'b' },
      { source: 'packages/a/src/index.ts', target: 'packages/c/src/deep.ts', to: 'c' },
      { source: 'packages/a/src/index.ts', target: 'packages/d/src/index.ts', to: 'd' },
      { source: 'packages/a/src/index.ts', target: 'actions/x/inputs.ts', to: undefined },
      {
        source: 'packages/a/src/index.ts',
        target: 'dev/aws-sandbox/src/index.ts',
        to: undefined,
      },
      { source: 'packages/b/src/index.ts', target: 'packages/a/src/index.ts', to: 'a' },
    ])
    expect(findCycles(packageGraph(arrows))).toEqual([['a', 'b', 'a']])
    expect(behindIndex(arrows)).toEqual(['packages/a/src/index.ts imports packages/c/src/deep.ts'])
    expect(leavingPackages(arrows)).toEqual([
      'packages/a/src/index.ts imports actions/x/inputs.ts',
      'packages/a/src/index.ts imports dev/aws-sandbox/src/index.ts',
    ])
  })
})

const behindIndex = (arrows: ReturnType<typeof packageArrows>) =>
  arrows
    .filter(arrow => arrow.to !== undefined && arrow.target !== `packages/${arrow.to}/src/index.ts`)
    .map(arrow => `${arrow.source} imports ${arrow.target}`)

const leavingPackages = (arrows: ReturnType<typeof packageArrows>) =>
  arrows
    .filter(arrow => arrow.to === undefined)
    .map(arrow => `${arrow.source} imports ${arrow.target}`)

describe('the packages of this repository', () => {
  const arrows = packageArrows(repoRoot)
  const graph = packageGraph(arrows)

  it('import one another, many times', () => {
    expect(arrows.length).toBeGreaterThan(30)
    expect([...graph.keys()].length).toBeGreaterThan(8)
  })

  it('form no cycle', () => {
    expect(findCycles(graph)).toEqual([])
  })

  it('hold no cycle among the files of one package either', () => {
    const files = fileGraph(repoRoot)
    expect(files.size).toBeGreaterThan(50)
    expect(findCycles(files)).toEqual([])
  })

  it('never import actions/, dev/ or anything else outside packages/', () => {
    expect(leavingPackages(arrows)).toEqual([])
  })

  it('import one another through the index only', () => {
    expect(behindIndex(arrows)).toEqual([])
  })

  it('import only packages below them in the layering', () => {
    expect(layeringViolations(graph, LAYERING)).toEqual([])
  })

  it('are all in the layering, and it names only arrows that exist', () => {
    expect([...LAYERING.keys()].sort()).toEqual(packageNames(repoRoot))
    const unused = [...LAYERING].flatMap(([from, targets]) =>
      [...targets]
        .filter(to => !graph.get(from)?.has(to))
        .map(to => `${from} stands on ${to} in the layering, but no file of ${from} imports it`),
    )
    expect(unused).toEqual([])
  })
})
