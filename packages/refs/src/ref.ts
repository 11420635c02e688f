/** What a git ref names: a branch, a tag, or anything else (pull request merges, notes…). */
export type RefType = 'branch' | 'tag' | 'other'

export interface ParsedRef {
  type: RefType
  /** The short name: 'release/1.2' for refs/heads/release/1.2; the full ref for 'other'. */
  name: string
  /** The ref as given. */
  ref: string
}

/** Splits `refs/heads/x` and `refs/tags/x`; everything else is 'other', never an error. */
export function parseRef(ref: string): ParsedRef {
  if (ref.startsWith('refs/heads/') && ref.length > 'refs/heads/'.length) {
    return { type: 'branch', name: ref.slice('refs/heads/'.length), ref }
  }
  if (ref.startsWith('refs/tags/') && ref.length > 'refs/tags/'.length) {
    return { type: 'tag', name: ref.slice('refs/tags/'.length), ref }
  }
  return { type: 'other', name: ref, ref }
}
