// LLMPolicy allowedHosts: the hosts a namespace's backends may send data to. A pattern is a host
// name (`api.anthropic.com`), an IP address (`10.0.0.7`, `[fd00::7]`), or `*.` and a domain, which
// matches every name under that domain at any depth but not the domain itself (as in Istio's
// ServiceEntry hosts). Lower case only: hosts are compared as URL parsing normalises them. The
// syntax is checked by the schemas (HOST_PATTERN in config/schema.ts). Pure.

const domainOf = (wildcard: string) => wildcard.slice(2);
const isWildcard = (pattern: string) => pattern.startsWith('*.');

/** A host as URL parsing writes it, so `[fd00:0:0::7]` is `[fd00::7]` as in a parsed baseURL. */
function canonicalHost(pattern: string): string {
  return URL.canParse(`http://${pattern}`) ? new URL(`http://${pattern}`).hostname : pattern;
}

/** Whether `host` (a URL's hostname) is one the pattern allows. */
/** An IP address as URL parsing writes one: dotted IPv4, or bracketed IPv6. */
const IP_ADDRESS = /^(\d+\.\d+\.\d+\.\d+|\[.*\])$/;

export function hostMatches(host: string, pattern: string): boolean {
  // `*.0.7` names no domain: an address matches only when listed itself (10.0.0.7, however written).
  if (isWildcard(pattern)) return !IP_ADDRESS.test(host) && host.endsWith(`.${domainOf(pattern)}`);
  return host === canonicalHost(pattern);
}

/** The pattern matching exactly the hosts both match, if any host does. */
function intersectPattern(a: string, b: string): string | undefined {
  if (!isWildcard(a)) return hostMatches(canonicalHost(a), b) ? a : undefined;
  if (!isWildcard(b)) return hostMatches(canonicalHost(b), a) ? b : undefined;
  const [x, y] = [domainOf(a), domainOf(b)];
  if (x === y || x.endsWith(`.${y}`)) return a;
  if (y.endsWith(`.${x}`)) return b;
  return undefined;
}

/**
 * The patterns matching exactly the hosts both lists allow, so that several policies in a namespace
 * combine as one list (`[*.azure.com]` and `[shop.openai.azure.com, api.openai.com]` make
 * `[shop.openai.azure.com]`). Sorted, without duplicates.
 */
export function intersectHostPatterns(a: readonly string[], b: readonly string[]): string[] {
  const both = new Set<string>();
  for (const p of a) for (const q of b) {
    const common = intersectPattern(p, q);
    if (common !== undefined) both.add(common);
  }
  // A pattern another one already covers adds nothing (`x.shop.com` under `*.shop.com`).
  const patterns = [...both];
  return patterns.filter((p) => !patterns.some((q) => q !== p && isWildcard(q) && (isWildcard(p) ? domainOf(p).endsWith(`.${domainOf(q)}`) : hostMatches(canonicalHost(p), q)))).sort();
}
