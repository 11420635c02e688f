/**
 * GitHub's expression language for the runner stand-in, evaluated by GitHub's own engine
 * (`@actions/expressions`, the one GitHub's workflow parser and language server use): the
 * `${{ }}` templates of a workflow's values, and `if:` conditions with the status functions
 * `success()`, `failure()`, `cancelled()` and `always()`.
 */
import { Evaluator, Lexer, Parser, data, type Expr } from '@actions/expressions'
import {
  Binary,
  FunctionCall,
  Grouping,
  IndexAccess,
  Logical,
  Unary,
} from '@actions/expressions/ast'
import { truthy } from '@actions/expressions/result'

/** Context values by name (`inputs`, `needs`, `steps`, `github`, …), as plain JSON. */
export type Contexts = Record<string, unknown>

/** What the status functions return where a condition is evaluated (`always()` is true). */
export interface Status {
  success: boolean
  failure: boolean
  cancelled: boolean
}

const STATUS_FUNCTIONS = ['success', 'failure', 'cancelled', 'always'] as const

/** A piece of a value: literal text, or the inside of one `${{ }}`. */
export type Piece = string | { expression: string }

/**
 * Splits a value into text and `${{ }}` pieces the way GitHub's template reader does: the
 * first `}}` outside a '…' literal closes an expression.
 */
export function templatePieces(value: string): Piece[] {
  const pieces: Piece[] = []
  let at = 0
  for (let open = value.indexOf('${{'); open >= 0; open = value.indexOf('${{', at)) {
    if (open > at) pieces.push(value.slice(at, open))
    let inString = false
    let close = -1
    for (let i = open + 3; i < value.length; i++) {
      if (value[i] === "'") inString = !inString
      else if (!inString && value[i] === '}' && value[i - 1] === '}') {
        close = i
        break
      }
    }
    if (close < 0) throw new Error(`\${{ is not closed by }} in ${JSON.stringify(value)}`)
    pieces.push({ expression: value.slice(open + 3, close - 1).trim() })
    at = close + 1
  }
  if (at < value.length) pieces.push(value.slice(at))
  return pieces
}

/** Parses one expression; only `contexts` may be named, and status functions only in conditions. */
export function parseExpression(
  expression: string,
  contexts: readonly string[],
  condition = false,
): Expr {
  const functions = condition
    ? STATUS_FUNCTIONS.map(name => ({ name, minArgs: 0, maxArgs: 0 }))
    : []
  return new Parser(new Lexer(expression).lex().tokens, [...contexts], functions).parse()
}

/** Whether an expression calls a status function (otherwise GitHub adds `success() &&`). */
function callsStatusFunction(node: Expr): boolean {
  if (node instanceof FunctionCall) {
    const name = node.functionName.lexeme.toLowerCase()
    return (
      (STATUS_FUNCTIONS as readonly string[]).includes(name) || node.args.some(callsStatusFunction)
    )
  }
  if (node instanceof Binary)
    return callsStatusFunction(node.left) || callsStatusFunction(node.right)
  if (node instanceof Logical) return node.args.some(callsStatusFunction)
  if (node instanceof Unary) return callsStatusFunction(node.expr)
  if (node instanceof Grouping) return callsStatusFunction(node.group)
  if (node instanceof IndexAccess)
    return callsStatusFunction(node.expr) || callsStatusFunction(node.index)
  return false
}

/**
 * A job's or step's `if:` as the expression GitHub evaluates: the `${{ }}` around it is
 * optional, empty means `success()`, and a condition without a status function means
 * `success() && (…)`. Throws when it does not parse with `contexts`.
 */
export function conditionExpression(value: unknown, contexts: readonly string[]): string {
  const text = value === undefined || value === null ? '' : String(value).trim()
  const pieces = text === '' ? [] : templatePieces(text)
  const [first] = pieces
  let expression = text
  if (pieces.length === 1 && typeof first === 'object') expression = first.expression
  else if (pieces.some(piece => typeof piece === 'object')) {
    throw new Error(`text around \${{ }} makes GitHub read the condition as a string: always true`)
  }
  if (expression === '') return 'success()'
  const parsed = parseExpression(expression, contexts, true)
  return callsStatusFunction(parsed) ? expression : `success() && (${expression})`
}

/** Throws when a value's `${{ }}` expressions do not parse with `contexts`. */
export function checkValue(value: unknown, contexts: readonly string[]): void {
  if (typeof value !== 'string') return
  for (const piece of templatePieces(value)) {
    if (typeof piece === 'object') parseExpression(piece.expression, contexts)
  }
}

function evaluate(
  expression: string,
  contexts: Contexts,
  status: Status | undefined,
): data.ExpressionData {
  const parsed = parseExpression(expression, Object.keys(contexts), status !== undefined)
  const functions = new Map(
    STATUS_FUNCTIONS.map(name => [
      name,
      {
        name,
        minArgs: 0,
        maxArgs: 0,
        call: () => new data.BooleanData(name === 'always' || (status?.[name] ?? false)),
      },
    ]),
  )
  const values = JSON.parse(JSON.stringify(contexts), data.reviver) as data.Dictionary
  return new Evaluator(parsed, values, functions).evaluate()
}

/**
 * A workflow value (a `with:` entry, an output, a name): a value that is one `${{ }}` keeps
 * the expression's type, text with expressions becomes a string, anything else is itself.
 */
export function evaluateValue(value: unknown, contexts: Contexts): data.ExpressionData {
  if (typeof value !== 'string') return JSON.parse(JSON.stringify(value ?? null), data.reviver)
  const pieces = templatePieces(value)
  const [first] = pieces
  if (pieces.length === 1 && typeof first === 'object') {
    return evaluate(first.expression, contexts, undefined)
  }
  return new data.StringData(
    pieces
      .map(piece =>
        typeof piece === 'string' ? piece : asText(evaluate(piece.expression, contexts, undefined)),
      )
      .join(''),
  )
}

function asText(value: data.ExpressionData): string {
  if (!value.primitive) throw new Error(`an expression gave ${value.coerceString()}, not a string`)
  return value.coerceString()
}

/** A workflow value as the string a runner hands on (an action input, an env var, an output). */
export function evaluateString(value: unknown, contexts: Contexts): string {
  return asText(evaluateValue(value, contexts))
}

/** A condition from {@link conditionExpression}, evaluated with the status functions' answers. */
export function evaluateCondition(condition: string, contexts: Contexts, status: Status): boolean {
  return truthy(evaluate(condition, contexts, status))
}
