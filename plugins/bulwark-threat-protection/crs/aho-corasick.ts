// Aho–Corasick automaton for ModSecurity's @pm / @pmFromFile: case-insensitive (ASCII), over byte strings, one
// pass over the input whatever the number of phrases (CRS's data files hold up to a few thousand).

export class PhraseMatcher {
  /** Trie edges, keyed state * 256 + byte (one map: CRS's data files make tens of thousands of states). */
  private readonly edges = new Map<number, number>();
  private stateCount = 1;
  /** The children of each state, for the breadth-first failure computation. */
  private readonly children: number[][] = [[]];
  private fail: Int32Array = new Int32Array(1);
  /** A phrase ending in each state (itself or through its failure chain), -1 if none. */
  private readonly output: number[] = [-1];
  readonly phrases: readonly string[];

  constructor(phrases: readonly string[]) {
    this.phrases = phrases.map((p) => p.replace(/[A-Z]/g, (c) => c.toLowerCase()));
    this.phrases.forEach((phrase, index) => {
      if (phrase.length === 0) return;
      let state = 0;
      for (let i = 0; i < phrase.length; i++) {
        const c = phrase.charCodeAt(i) & 0xff;
        let to = this.edges.get(state * 256 + c);
        if (to === undefined) {
          to = this.stateCount++;
          this.output.push(-1);
          this.children.push([]);
          this.children[state]!.push(c);
          this.edges.set(state * 256 + c, to);
        }
        state = to;
      }
      if (this.output[state] === -1) this.output[state] = index;
    });
    this.build();
  }

  private build(): void {
    this.fail = new Int32Array(this.stateCount);
    const queue: number[] = this.children[0]!.map((c) => this.edges.get(c)!);
    for (let q = 0; q < queue.length; q++) {
      const state = queue[q]!;
      for (const c of this.children[state]!) {
        const to = this.edges.get(state * 256 + c)!;
        let f = this.fail[state]!;
        while (f !== 0 && !this.edges.has(f * 256 + c)) f = this.fail[f]!;
        const target = this.edges.get(f * 256 + c);
        this.fail[to] = target !== undefined && target !== to ? target : 0;
        if (this.output[to] === -1) this.output[to] = this.output[this.fail[to]!]!;
        queue.push(to);
      }
    }
  }

  /** The first phrase found (case-insensitively), or undefined. Amortised linear in the input. */
  find(s: string): string | undefined {
    let state = 0;
    for (let i = 0; i < s.length; i++) {
      let c = s.charCodeAt(i) & 0xff;
      if (c >= 0x41 && c <= 0x5a) c += 0x20;
      let to = this.edges.get(state * 256 + c);
      while (to === undefined && state !== 0) {
        state = this.fail[state]!;
        to = this.edges.get(state * 256 + c);
      }
      state = to ?? 0;
      const out = this.output[state]!;
      if (out !== -1) return this.phrases[out];
    }
    return undefined;
  }

  /** Whether any phrase consists only of characters `allowed` accepts (either case). */
  hasPhraseWithin(allowed: (c: number) => boolean): boolean {
    return this.phrases.some(
      (p) => p.length > 0 && [...p].every((ch) => allowed(ch.charCodeAt(0)) || allowed(ch.toUpperCase().charCodeAt(0))),
    );
  }
}

/** @pm arguments: space-separated phrases. */
export function splitPhrases(arg: string): string[] {
  return arg.split(/\s+/).filter((p) => p !== '');
}

/** A .data file: one phrase a line, `#` comments and blank lines skipped. */
export function parseDataFile(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}
