// Aho–Corasick automaton for ModSecurity's @pm / @pmFromFile: case-insensitive (ASCII), over byte strings, one
// pass over the input whatever the number of phrases (CRS's data files hold up to a few thousand).

/** Most states a Uint16Array table can number (state ids are 0 … 65,535). */
const MAX_UINT16_STATES = 0x10000;

export class PhraseMatcher {
  /**
   * The automaton as a dense table: next state = delta[state * classCount + classOf[byte]], failure links folded in
   * (a DFA), so `find` does one array read per input byte. Bytes that occur in no phrase share class 0; CRS 4's PL1
   * shared phrase scan gives ~20,000 states over 85 classes, where a Map of edges plus failure-link walks cost
   * ~2.5 µs per call and was the engine's largest single cost on the request mix.
   *
   * What a request touches is kept small: entries are 16-bit while the states fit (Int32Array beyond 65,536), and
   * states are numbered breadth first, those without a phrase before those with one, so the shallow states most
   * input stays in share a few pages of the table (numbered in insertion order, they were spread over all of it),
   * and "a phrase ends here" is `state >= outputFrom` instead of a read of a per-state array.
   */
  private readonly delta: Uint16Array | Int32Array;
  private readonly classOf = new Uint16Array(256);
  private readonly classCount: number;
  /** The first state where a phrase ends: states below have none, states from it on have one. */
  private readonly outputFrom: number;
  /** Per state from outputFrom on (index state - outputFrom): a phrase ending there (itself or through its failure
   * chain); the phrase ending exactly there (-1 if none) and the nearest state on its failure chain that has one
   * (its index, -1 if none): with them `collect` reports every phrase found, not just the first. */
  private readonly output: Int32Array;
  private readonly own: Int32Array;
  private readonly dictLink: Int32Array;
  readonly stateCount: number;
  readonly phrases: readonly string[];

  constructor(phrases: readonly string[]) {
    this.phrases = phrases.map((p) => p.replace(/[A-Z]/g, (c) => c.toLowerCase()));
    let classCount = 1;
    for (const phrase of this.phrases) {
      for (let i = 0; i < phrase.length; i++) {
        const c = phrase.charCodeAt(i) & 0xff;
        if (this.classOf[c] === 0) this.classOf[c] = classCount++;
      }
    }
    // ASCII upper case reads as lower case.
    for (let c = 0x41; c <= 0x5a; c++) this.classOf[c] = this.classOf[c + 0x20]!;
    this.classCount = classCount;

    // Trie: edges keyed state * classCount + class.
    const edges = new Map<number, number>();
    const children: number[][] = [[]];
    const output: number[] = [-1];
    this.phrases.forEach((phrase, index) => {
      if (phrase.length === 0) return;
      let state = 0;
      for (let i = 0; i < phrase.length; i++) {
        const k = this.classOf[phrase.charCodeAt(i) & 0xff]!;
        let to = edges.get(state * classCount + k);
        if (to === undefined) {
          to = output.length;
          output.push(-1);
          children.push([]);
          children[state]!.push(k);
          edges.set(state * classCount + k, to);
        }
        state = to;
      }
      if (output[state] === -1) output[state] = index;
    });
    const stateCount = output.length;
    this.stateCount = stateCount;

    // Breadth first: a state's failure state is shallower, so its row is final when the state's row is filled.
    const delta = new Int32Array(stateCount * classCount);
    const fail = new Int32Array(stateCount);
    const own = Int32Array.from(output);
    const dictLink = new Int32Array(stateCount).fill(-1);
    for (const k of children[0]!) delta[k] = edges.get(k)!;
    const queue: number[] = [0, ...children[0]!.map((k) => edges.get(k)!)];
    for (let q = 1; q < queue.length; q++) {
      const state = queue[q]!;
      const f = fail[state]!;
      if (output[state] === -1) output[state] = output[f]!;
      if (state !== f) dictLink[state] = own[f] !== -1 ? f : dictLink[f]!;
      for (let k = 0; k < classCount; k++) delta[state * classCount + k] = delta[f * classCount + k]!;
      for (const k of children[state]!) {
        const to = edges.get(state * classCount + k)!;
        fail[to] = delta[f * classCount + k]!;
        delta[state * classCount + k] = to;
        queue.push(to);
      }
    }

    // Renumbered: breadth first (the queue's order), states without a phrase first. The root has none (empty
    // phrases are skipped), so it stays 0.
    const plain = queue.filter((s) => output[s] === -1);
    const ending = queue.filter((s) => output[s] !== -1);
    const order = [...plain, ...ending];
    const id = new Int32Array(stateCount);
    order.forEach((s, n) => (id[s] = n));
    const outputFrom = plain.length;
    const table = stateCount <= MAX_UINT16_STATES ? new Uint16Array(delta.length) : new Int32Array(delta.length);
    order.forEach((s, n) => {
      for (let k = 0; k < classCount; k++) table[n * classCount + k] = id[delta[s * classCount + k]!]!;
    });
    this.delta = table;
    this.outputFrom = outputFrom;
    this.output = Int32Array.from(ending, (s) => output[s]!);
    this.own = Int32Array.from(ending, (s) => own[s]!);
    this.dictLink = Int32Array.from(ending, (s) => (dictLink[s] === -1 ? -1 : id[dictLink[s]!]! - outputFrom));
  }

  /** The first phrase found (case-insensitively), or undefined. One table read per input byte. */
  find(s: string): string | undefined {
    const { delta, classOf, classCount, outputFrom } = this;
    let state = 0;
    for (let i = 0; i < s.length; i++) {
      state = delta[state * classCount + classOf[s.charCodeAt(i) & 0xff]!]!;
      if (state >= outputFrom) return this.phrases[this.output[state - outputFrom]!];
    }
    return undefined;
  }

  /** Whether a phrase occurs in `s` (case-insensitively), or `s` holds a char above 0xFF (not a byte string: the
   * automaton cannot rule it out). */
  mayOccurIn(s: string): boolean {
    const { delta, classOf, classCount, outputFrom } = this;
    let state = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c > 0xff) return true;
      state = delta[state * classCount + classOf[c]!]!;
      if (state >= outputFrom) return true;
    }
    return false;
  }

  /**
   * Every distinct phrase found (case-insensitively): each index is pushed once onto `found` and flagged in `seen`
   * (one flag per phrase; the caller clears the flags of `found` after use). False, with nothing collected, when `s`
   * holds a char above 0xFF: the automaton reads bytes, so such a string is not a byte string it can judge.
   */
  collect(s: string, seen: Uint8Array, found: number[]): boolean {
    const { delta, classOf, classCount, outputFrom, own, dictLink } = this;
    let state = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c > 0xff) {
        for (const index of found) seen[index] = 0;
        found.length = 0;
        return false;
      }
      state = delta[state * classCount + classOf[c]!]!;
      if (state < outputFrom) continue;
      const at = state - outputFrom;
      for (let t = own[at] !== -1 ? at : dictLink[at]!; t !== -1; t = dictLink[t]!) {
        const index = own[t]!;
        if (seen[index] === 0) {
          seen[index] = 1;
          found.push(index);
        }
      }
    }
    return true;
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
