// Owns the call's conversation as text, in order: what the caller said (as
// transcribed), what the assistant said as the caller heard it (cut where the
// caller interrupted or the session dropped), and tool calls with their
// outputs. A new realtime session cannot resume a dropped one, so this log is
// replayed into it as `conversation.item.create` events. Pure; bounded.

type Entry =
  | { kind: 'user'; itemId: string; text: string | undefined }
  | { kind: 'assistant'; itemId: string; text: string; final: boolean; interrupted: boolean }
  | { kind: 'function_call'; callId: string; name: string; arguments: string }
  | { kind: 'function_call_output'; callId: string; output: string };

/** Beyond this much text the oldest entries are forgotten: replay must stay small and fast. */
const MAX_CHARS = 24_000;

export class ConversationLog {
  #entries: Entry[] = [];
  #chars = 0;

  get length(): number {
    return this.#entries.length;
  }

  /** The caller began an utterance; its text arrives later, but its place in the order is now. */
  userSpeech(itemId: string): void {
    if (this.#find('user', itemId) === undefined) this.#push({ kind: 'user', itemId, text: undefined });
  }

  userTranscript(itemId: string, text: string): void {
    const entry = this.#find('user', itemId);
    const trimmed = text.trim();
    if (entry === undefined) this.#push({ kind: 'user', itemId, text: trimmed });
    else {
      this.#chars -= entry.text?.length ?? 0;
      entry.text = trimmed;
    }
    this.#chars += trimmed.length;
    this.#trim();
  }

  assistantDelta(itemId: string, delta: string): void {
    const entry = this.#find('assistant', itemId);
    if (entry === undefined) this.#push({ kind: 'assistant', itemId, text: delta, final: false, interrupted: false });
    else if (!entry.final && !entry.interrupted) entry.text += delta;
    this.#chars += delta.length;
    this.#trim();
  }

  assistantDone(itemId: string, transcript: string): void {
    const entry = this.#find('assistant', itemId);
    if (entry === undefined) {
      this.#push({ kind: 'assistant', itemId, text: transcript, final: true, interrupted: false });
      this.#chars += transcript.length;
    } else if (!entry.interrupted) {
      this.#chars += transcript.length - entry.text.length;
      entry.text = transcript;
      entry.final = true;
    }
    this.#trim();
  }

  /**
   * The caller heard only `heardMs` of `totalMs` of this item. The text is
   * cut in proportion, at a word boundary, so the model knows what was said.
   */
  assistantInterrupted(itemId: string, heardMs: number, totalMs: number): void {
    const entry = this.#find('assistant', itemId);
    if (entry === undefined || entry.interrupted) return;
    entry.interrupted = true;
    if (totalMs <= 0 || heardMs >= totalMs) return;
    const keep = Math.floor((entry.text.length * Math.max(0, heardMs)) / totalMs);
    const cut = entry.text.lastIndexOf(' ', keep);
    const before = entry.text.length;
    entry.text = (cut > 0 ? entry.text.slice(0, cut) : entry.text.slice(0, keep)).trimEnd();
    this.#chars -= before - entry.text.length;
  }

  functionCall(callId: string, name: string, args: string): void {
    this.#push({ kind: 'function_call', callId, name, arguments: args });
    this.#chars += args.length;
    this.#trim();
  }

  functionOutput(callId: string, output: string): void {
    this.#push({ kind: 'function_call_output', callId, output });
    this.#chars += output.length;
    this.#trim();
  }

  /** True when the last thing said was a tool's output: the model owes an answer to it. */
  get owesResponse(): boolean {
    return this.#entries[this.#entries.length - 1]?.kind === 'function_call_output';
  }

  /**
   * True when the conversation ends in the caller's words and every one of those latest utterances has its
   * transcript here, so a replay carries all the caller said since the assistant last spoke.
   */
  get unansweredTranscribed(): boolean {
    let seen = 0;
    for (let i = this.#entries.length - 1; i >= 0 && this.#entries[i]!.kind === 'user'; i--, seen++) {
      if (!isTranscript((this.#entries[i] as Extract<Entry, { kind: 'user' }>).text)) return false;
    }
    return seen > 0;
  }

  /** True if the caller's utterance `itemId` has a transcript here. */
  hasTranscript(itemId: string): boolean {
    return isTranscript(this.#find('user', itemId)?.text);
  }

  /** True if this assistant item was cut short (barge-in or a dropped session). */
  wasInterrupted(itemId: string): boolean {
    return this.#find('assistant', itemId)?.interrupted ?? false;
  }

  /**
   * The caller's utterances `itemIds` are handed to a new session as audio: their words come back as that
   * session's own items (transcribed there), so they leave the log and no later replay carries them twice.
   */
  forgetUserItems(itemIds: readonly string[]): void {
    if (itemIds.length === 0) return;
    const forget = new Set(itemIds);
    this.#entries = this.#entries.filter((e) => {
      if (e.kind !== 'user' || !forget.has(e.itemId)) return true;
      this.#chars -= size(e);
      return false;
    });
  }

  /** `conversation.item.create` events that rebuild the conversation in a new session, oldest first. */
  replayEvents(): string[] {
    const events: string[] = [];
    for (const entry of this.#entries) {
      const item = toItem(entry);
      if (item !== undefined) events.push(JSON.stringify({ type: 'conversation.item.create', item }));
    }
    return events;
  }

  #find<K extends 'user' | 'assistant'>(kind: K, itemId: string): Extract<Entry, { kind: K }> | undefined {
    for (let i = this.#entries.length - 1; i >= 0; i--) {
      const e = this.#entries[i]!;
      if (e.kind === kind && (e as { itemId: string }).itemId === itemId) return e as Extract<Entry, { kind: K }>;
    }
    return undefined;
  }

  #push(entry: Entry): void {
    this.#entries.push(entry);
  }

  #trim(): void {
    while (this.#chars > MAX_CHARS && this.#entries.length > 1) {
      const old = this.#entries.shift()!;
      this.#chars -= size(old);
    }
  }
}

function size(e: Entry): number {
  switch (e.kind) {
    case 'user':
      return e.text?.length ?? 0;
    case 'assistant':
      return e.text.length;
    case 'function_call':
      return e.arguments.length;
    case 'function_call_output':
      return e.output.length;
  }
}

function toItem(e: Entry): Record<string, unknown> | undefined {
  switch (e.kind) {
    case 'user':
      return e.text ? { type: 'message', role: 'user', content: [{ type: 'input_text', text: e.text }] } : undefined;
    case 'assistant':
      return e.text ? { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: e.text }] } : undefined;
    case 'function_call':
      return { type: 'function_call', call_id: e.callId, name: e.name, arguments: e.arguments };
    case 'function_call_output':
      return { type: 'function_call_output', call_id: e.callId, output: e.output };
  }
}

/** An utterance counts as transcribed only with words: an empty transcript says nothing the AI can answer. */
function isTranscript(text: string | undefined): text is string {
  return text !== undefined && text !== '';
}
