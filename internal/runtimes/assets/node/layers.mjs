// Resolve hook for Node.js without module.registerHooks (before 22.15),
// registered by index.cjs: a bare specifier that resolves nowhere else is
// resolved again as if imported from each of data.parents in turn (the
// layers' nodejs/ directory, then beside the runtime's SDK).
let parents = [];

export function initialize(data) {
  parents = data.parents;
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (e) {
    if (e?.code !== 'ERR_MODULE_NOT_FOUND' || /^(\.{0,2}\/|[a-zA-Z][a-zA-Z0-9+.-]*:)/.test(specifier)) throw e;
    for (const parentURL of parents) {
      try {
        return await nextResolve(specifier, { ...context, parentURL });
      } catch {
        // not there either
      }
    }
    throw e;
  }
}
