// Loading `jose` (v6, an ES module only) from this CommonJS code.
//
// In the compiled dist (tsc, module=commonjs) a static `import` becomes `require('jose')`. Node 20.19+ and
// 22.12+ load ES modules through require() ("require(esm)", unflagged; jose has no top-level await), which is
// what happens under both plugin servers on this project's Node 20.20. On an older Node, require() throws
// ERR_REQUIRE_ESM; the fallback is a real dynamic import(), built with `new Function` because tsc would
// otherwise rewrite `import()` into `require()` as well. Loaded once per process, on first use.
import type * as JoseModule from 'jose';

export type Jose = typeof JoseModule;

// eslint-disable-next-line @typescript-eslint/no-implied-eval
const dynamicImport = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<unknown>;

let loading: Promise<Jose> | undefined;

export function loadJose(): Promise<Jose> {
  if (loading === undefined) {
    loading = (async () => {
      try {
        return require('jose') as Jose;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ERR_REQUIRE_ESM') throw err;
        return (await dynamicImport('jose')) as Jose;
      }
    })();
    // A failed load is not cached: the next request tries again (and fails closed meanwhile).
    loading.catch(() => {
      loading = undefined;
    });
  }
  return loading;
}
