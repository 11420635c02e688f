// Applies migrations/*.sql in name order to data/app.db (data/ is a shared path, so the
// database outlives every release), each once, each in its own transaction. Needs Node 22.5+
// for node:sqlite. Run by the before-switch hook: a failed migration fails the deploy before
// the switch.
const { mkdirSync, readdirSync, readFileSync } = require('node:fs')
const { join } = require('node:path')
const { DatabaseSync } = require('node:sqlite')
const { releaseDir } = require('./release.js')

const dataDir = join(releaseDir, 'data')
const migrationsDir = join(releaseDir, 'migrations')

mkdirSync(dataDir, { recursive: true })
const db = new DatabaseSync(join(dataDir, 'app.db'))
db.exec(
  'CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)',
)
const applied = new Set(
  db
    .prepare('SELECT name FROM schema_migrations')
    .all()
    .map(row => row.name),
)
const pending = readdirSync(migrationsDir)
  .filter(name => name.endsWith('.sql') && !applied.has(name))
  .sort()

for (const name of pending) {
  db.exec('BEGIN')
  try {
    db.exec(readFileSync(join(migrationsDir, name), 'utf8'))
    db.prepare('INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)').run(
      name,
      new Date().toISOString(),
    )
    db.exec('COMMIT')
  } catch (error) {
    db.exec('ROLLBACK')
    console.error(`migration ${name} failed: ${error.message}`)
    process.exit(1)
  }
  console.log(`applied ${name}`)
}
console.log(`schema up to date (${applied.size + pending.length} migrations)`)
db.close()
