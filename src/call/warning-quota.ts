// Owns how many warn lines one kind of repeated bad input may write in a
// call: the first few show what arrived, the rest are only counted (the count
// goes to the call summary), so a broken or hostile peer sending thousands
// cannot flood the log. Pure: the caller does the logging.

/** Enough to show what kind of bad input arrived and that it repeats. */
export const WARNINGS_LOGGED_PER_CALL = 5;

export class WarningQuota {
  #count = 0;

  constructor(private readonly logged = WARNINGS_LOGGED_PER_CALL) {}

  /** Occurrences counted so far, logged or not. */
  get count(): number {
    return this.#count;
  }

  /** Counts one occurrence; true while it may still be logged. */
  take(): boolean {
    return ++this.#count <= this.logged;
  }
}
