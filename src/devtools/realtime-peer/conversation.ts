// Owns one session's conversation: the ordered list of items with the wire
// shape the service reports, insertion after `previous_item_id`, deletion,
// and the audio length of assistant items that truncation is checked
// against. Pure data; never sends anything.

export type ItemContent =
  | { type: 'input_audio'; transcript: string | null }
  | { type: 'input_text'; text: string }
  | { type: 'output_text'; text: string }
  | { type: 'output_audio'; transcript: string };

export type ConversationItem =
  | { id: string; object: 'realtime.item'; type: 'message'; status: 'in_progress' | 'completed' | 'incomplete'; role: 'user' | 'system' | 'assistant'; content: ItemContent[] }
  | { id: string; object: 'realtime.item'; type: 'function_call'; status: 'in_progress' | 'completed' | 'incomplete'; call_id: string; name: string; arguments: string }
  | { id: string; object: 'realtime.item'; type: 'function_call_output'; status: 'completed'; call_id: string; output: string };

export type InsertResult = { readonly ok: true; readonly previousItemId: string | null } | { readonly ok: false; readonly code: string; readonly message: string };

/** A deep copy, so an event already sent never changes when the item does later. */
export function snapshotItem(item: ConversationItem): ConversationItem {
  return structuredClone(item);
}

export class Conversation {
  private readonly list: ConversationItem[] = [];
  /** Milliseconds of audio generated for each assistant audio item (what truncation may cut). */
  private readonly audioMs = new Map<string, number>();

  get items(): readonly ConversationItem[] {
    return this.list;
  }

  has(id: string): boolean {
    return this.list.some((i) => i.id === id);
  }

  get(id: string): ConversationItem | undefined {
    return this.list.find((i) => i.id === id);
  }

  lastId(): string | null {
    return this.list.at(-1)?.id ?? null;
  }

  /**
   * Inserts as the service does: `undefined`/`null` appends, `"root"` puts the
   * item first, an existing id puts it right after that item, any other id is
   * an error.
   */
  insert(item: ConversationItem, previousItemId?: string | null): InsertResult {
    if (this.has(item.id)) return { ok: false, code: 'item_already_exists', message: `Item with id '${item.id}' already exists.` };
    if (previousItemId === undefined || previousItemId === null) {
      const prev = this.lastId();
      this.list.push(item);
      return { ok: true, previousItemId: prev };
    }
    if (previousItemId === 'root') {
      this.list.unshift(item);
      return { ok: true, previousItemId: null };
    }
    const at = this.list.findIndex((i) => i.id === previousItemId);
    if (at < 0) return { ok: false, code: 'item_not_found', message: `Previous item with id '${previousItemId}' not found.` };
    this.list.splice(at + 1, 0, item);
    return { ok: true, previousItemId };
  }

  delete(id: string): boolean {
    const at = this.list.findIndex((i) => i.id === id);
    if (at < 0) return false;
    this.list.splice(at, 1);
    this.audioMs.delete(id);
    return true;
  }

  addAudio(id: string, ms: number): void {
    this.audioMs.set(id, (this.audioMs.get(id) ?? 0) + ms);
  }

  audioDurationMs(id: string): number {
    return this.audioMs.get(id) ?? 0;
  }

  /** Cuts an assistant item's audio; its transcript is dropped as the service does, since the peer cannot align words to time. */
  truncate(id: string, audioEndMs: number): void {
    this.audioMs.set(id, audioEndMs);
    const item = this.get(id);
    if (item?.type === 'message') {
      for (const part of item.content) if (part.type === 'output_audio') part.transcript = '';
    }
  }
}
