/** SemVer 2.0.0 (semver.org), without a leading 'v'. */
export const SEMVER_PATTERN =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/

export interface SemVer {
  major: number
  minor: number
  patch: number
  prerelease: string[]
  build: string
  /** As written, without a leading 'v'. */
  text: string
}

/** Parses `1.2.3` or `v1.2.3` (with optional pre-release and build); undefined otherwise. */
export function parseSemver(value: string): SemVer | undefined {
  const text = value.startsWith('v') ? value.slice(1) : value
  const match = SEMVER_PATTERN.exec(text)
  if (!match) return undefined
  const major = Number(match[1])
  const minor = Number(match[2])
  const patch = Number(match[3])
  if (![major, minor, patch].every(Number.isSafeInteger)) return undefined
  return {
    major,
    minor,
    patch,
    prerelease: match[4]?.split('.') ?? [],
    build: match[5] ?? '',
    text,
  }
}

/** SemVer precedence: negative when a < b. Build metadata is ignored, as the spec says. */
export function compareSemver(a: SemVer, b: SemVer): number {
  for (const key of ['major', 'minor', 'patch'] as const) {
    if (a[key] !== b[key]) return a[key] - b[key]
  }
  if (a.prerelease.length === 0 || b.prerelease.length === 0) {
    return b.prerelease.length - a.prerelease.length
  }
  for (let i = 0; i < Math.max(a.prerelease.length, b.prerelease.length); i++) {
    const x = a.prerelease[i]
    const y = b.prerelease[i]
    if (x === undefined) return -1
    if (y === undefined) return 1
    if (x === y) continue
    const xNum = /^\d+$/.test(x)
    const yNum = /^\d+$/.test(y)
    if (xNum && yNum) return Number(x) - Number(y)
    if (xNum) return -1
    if (yNum) return 1
    return x < y ? -1 : 1
  }
  return 0
}
