// Resolve hook for Node.js without module.registerHooks (before 22.15),
// registered by index.cjs: a bare specifier that resolves nowhere else is
// resolved again from the layers' nodejs/ directory (data.parentURL).
let parentURL;

export function initialize(data) {
  parentURL = data.parentURL;
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (e) {
    if (e?.code !== 'ERR_MODULE_NOT_FOUND' || /^(\.{0,2}\/|[a-zA-Z][a-zA-Z0-9+.-]*:)/.test(specifier)) throw e;
    try {
      return await nextResolve(specifier, { ...context, parentURL });
    } catch {
      throw e;
    }
  }
}
