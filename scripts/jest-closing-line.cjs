// Ends every jest run with one plain line, "tests: N passed, N failed[, N skipped]", so a CI
// log can be read at a glance. Jest prints its own summary after all reporters, so the line
// is written when the process exits, to stderr like the rest of jest's report.
const { writeSync } = require('node:fs')

class ClosingLineReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites
    const line = `tests: ${results.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`
    process.once('exit', () => writeSync(2, line))
  }
}
module.exports = ClosingLineReporter
