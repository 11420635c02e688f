import { ConfigurationError, describeValue } from './errors.js'

const PLACEHOLDER = /\{([^{}]*)\}/g

/**
 * Renders `{name}` placeholders, as in `{app}-{version}.zip`. A placeholder with no value,
 * an empty value, or a stray brace is an error naming the input: a name with a literal
 * `{version}` left in it would be worse than a failed step.
 */
export function renderTemplate(
  input: string,
  template: string,
  values: Readonly<Record<string, string | undefined>>,
): string {
  const known = Object.keys(values).sort()
  const rendered = template.replace(PLACEHOLDER, (_whole, key: string) => {
    if (!Object.hasOwn(values, key)) {
      throw new ConfigurationError(
        `input '${input}': ${describeValue(template)} uses the unknown placeholder {${key}}: ` +
          `use ${known.map(k => `{${k}}`).join(', ')}`,
      )
    }
    const value = values[key]
    if (value === undefined || value === '') {
      throw new ConfigurationError(
        `input '${input}': ${describeValue(template)} uses {${key}}, which has no value here`,
      )
    }
    return value
  })
  // A brace left after substitution was not part of a well-formed placeholder.
  const withoutValues = template.replace(PLACEHOLDER, '')
  if (/[{}]/.test(withoutValues)) {
    throw new ConfigurationError(
      `input '${input}': ${describeValue(template)} has an unmatched '{' or '}': ` +
        'write placeholders as {name}',
    )
  }
  return rendered
}
