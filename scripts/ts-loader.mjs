// Lets Node 24 run the sandbox's TypeScript sources directly (`npm run sandbox`): Node strips
// the types itself; this hook maps the `.js` specifiers of NodeNext-style imports to the `.ts`
// files that exist in the source tree.
import { registerHooks } from 'node:module'

registerHooks({
  resolve(specifier, context, nextResolve) {
    try {
      return nextResolve(specifier, context)
    } catch (error) {
      const relative = specifier.startsWith('.') || specifier.startsWith('/')
      if (relative && specifier.endsWith('.js') && error?.code === 'ERR_MODULE_NOT_FOUND') {
        return nextResolve(`${specifier.slice(0, -3)}.ts`, context)
      }
      throw error
    }
  },
})
