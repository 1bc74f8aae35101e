// bulwark-threat-protection compiles its CRS rules in the background once its instance starts, and answers 503
// (rules_not_ready) meanwhile (plugins/bulwark-threat-protection/engine-load.ts). Suites that run kong.yml's whole
// chain wait that out once, with a request that plugin blocks once ready, so that nothing reaches the upstream.

/** A User-Agent bulwark-threat-protection blocks (403) once its rules are compiled (CRS XSS rules). */
export const BLOCKED_USER_AGENT = '<script>alert(document.cookie)</script>';

/** Sends until the answer is no longer 503 (at most `timeoutMs`); returns the last status. */
export async function untilThreatRulesReady(
  send: () => Promise<{ status: number }>,
  timeoutMs = 60_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { status } = await send();
    if (status !== 503 || Date.now() > deadline) return status;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
