// The plan of a rollout in waves, made by the suite for the whole fleet (not by SSM per group
// of 50): which hosts deploy in which wave, and in which steps of at most max-concurrency
// hosts. Pure: no clients, no clock.
import { invalidInput } from '../../kit/src/index.js'
import { concurrencyOf } from './command.js'

/** One entry of a `waves` list: a cumulative host count, or a cumulative share of the fleet. */
export type WaveSize = { count: number } | { percent: number }

const WAVES_RULE =
  "use a comma list of cumulative sizes that grow, each a host count or a percentage of the fleet from 1% to 100%, such as '1, 25%, 100%'"

/**
 * Reads a `waves` list (`1, 25%, 100%`). Each size is cumulative: the share of the fleet
 * deployed once that wave is done. Counts must grow among counts and percentages among
 * percentages (how they compare with each other depends on the fleet's size).
 */
export function parseWaveSpec(spec: string, input = 'waves'): WaveSize[] {
  const trimmed = spec.trim()
  if (trimmed === '') return []
  const sizes: WaveSize[] = []
  let lastCount = 0
  let lastPercent = 0
  for (const item of trimmed.split(',').map(part => part.trim())) {
    const match = /^([1-9]\d{0,6})(%?)$/.exec(item)
    if (!match) throw invalidInput(input, spec, `${describeItem(item)}: ${WAVES_RULE}`)
    const value = Number(match[1])
    if (match[2]) {
      if (value > 100 || value <= lastPercent)
        throw invalidInput(input, spec, `${describeItem(item)}: ${WAVES_RULE}`)
      lastPercent = value
      sizes.push({ percent: value })
    } else {
      if (value <= lastCount)
        throw invalidInput(input, spec, `${describeItem(item)}: ${WAVES_RULE}`)
      lastCount = value
      sizes.push({ count: value })
    }
  }
  return sizes
}

function describeItem(item: string): string {
  return item === '' ? 'an empty size' : `size '${item.replace(/[^\x20-\x7e]/g, '?').slice(0, 20)}'`
}

/** How many of `total` hosts a cumulative size covers (a share rounds up, a count is capped). */
function covered(size: WaveSize, total: number): number {
  return 'percent' in size ? Math.ceil((total * size.percent) / 100) : Math.min(size.count, total)
}

/**
 * The fleet in waves, in the order given. With `spec` (see {@link parseWaveSpec}), wave n
 * brings the deployed hosts up to its cumulative size; a size that adds no host (1 and 10%
 * of 5 hosts) makes no wave, and when the last size leaves hosts over, they make one more,
 * final wave. Without it, waves of `maxConcurrency` hosts (a count, or a share of the fleet).
 */
export function planWaves(
  instanceIds: readonly string[],
  spec: string,
  maxConcurrency: string,
): string[][] {
  const total = instanceIds.length
  const sizes = parseWaveSpec(spec)
  if (sizes.length === 0) return stepsOf(instanceIds, maxConcurrency, total)
  const ends = sizes.map(size => covered(size, total))
  if ((ends.at(-1) ?? 0) < total) ends.push(total)
  const waves: string[][] = []
  let start = 0
  for (const end of ends) {
    if (end <= start) continue
    waves.push(instanceIds.slice(start, end))
    start = end
  }
  return waves
}

/**
 * A wave in steps of at most `maxConcurrency` hosts (a count, or a share of the whole fleet of
 * `fleetSize`): the most hosts that may deploy at once, whatever the wave's size.
 */
export function stepsOf(
  wave: readonly string[],
  maxConcurrency: string,
  fleetSize: number,
): string[][] {
  const size = concurrencyOf(maxConcurrency, fleetSize)
  const steps: string[][] = []
  for (let i = 0; i < wave.length; i += size) steps.push(wave.slice(i, i + size))
  return steps
}

/**
 * How many failed hosts a rollout tolerates under `max-errors` (a count, or a share of the
 * fleet rounded down, as SSM counts MaxErrors): one failure more stops it.
 */
export function errorBudget(maxErrors: string, fleetSize: number): number {
  const percent = /^(\d+)%$/.exec(maxErrors)
  const count = percent
    ? Math.floor((fleetSize * Number(percent[1])) / 100)
    : Number.parseInt(maxErrors, 10)
  return Number.isFinite(count) && count >= 0 ? count : 0
}
