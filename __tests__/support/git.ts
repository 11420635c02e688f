import { execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A throwaway git repository with an identity of its own (CI machines may have none). */
export class TempRepo {
  readonly dir = mkdtempSync(join(tmpdir(), 'repo-'))

  constructor() {
    this.git('init', '-q', '-b', 'master')
  }

  git(...args: string[]): string {
    return execFileSync(
      'git',
      [
        '-c',
        'user.name=test',
        '-c',
        'user.email=test@example.invalid',
        '-c',
        'tag.gpgSign=false',
        ...args,
      ],
      {
        cwd: this.dir,
        encoding: 'utf8',
        env: {
          ...process.env,
          GIT_COMMITTER_DATE: '2026-01-02T03:04:05Z',
          GIT_AUTHOR_DATE: '2026-01-02T03:04:05Z',
        },
      },
    ).trim()
  }

  /** Commits a change and returns the new commit's sha. */
  commit(message: string): string {
    writeFileSync(join(this.dir, 'file.txt'), `${message}\n`)
    this.git('add', 'file.txt')
    this.git('commit', '-q', '-m', message)
    return this.git('rev-parse', 'HEAD')
  }
}
