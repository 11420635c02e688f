// pm2 keeps the script path and cwd it resolved when the app was first started. Both go
// through <deploy-dir>/current, so every reload starts the release current points to, and a
// rollback (current switched back) starts the old release again. Cluster mode: a reload
// starts the new worker before it stops the old one, so no request is refused.
const { join, resolve } = require('node:path')

// The engine runs hooks inside releases/<id> and exports DEPLOY_DIR; module.path is this
// file's directory, releases/<id>.
const deployDir = process.env.DEPLOY_DIR || resolve(module.path, '..', '..')
const current = join(deployDir, 'current')

module.exports = {
  apps: [
    {
      name: 'api',
      cwd: current,
      script: join(current, 'server.js'),
      exec_mode: 'cluster',
      instances: 1,
      wait_ready: true,
      listen_timeout: 10000,
      kill_timeout: 5000,
    },
  ],
}
