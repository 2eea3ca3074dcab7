// Owns reading the TwiML the bridge answers to the voice webhook: finds
// <Response><Connect><Stream url="…"> and its <Parameter> children. A small
// tag scanner, not a general XML parser: it handles what TwiML can contain
// (declaration, comments, CDATA, quoted attributes holding `>`, character and
// entity references) and reports anything it cannot make sense of.

export interface TwimlStream {
  /** The `url` attribute, entities decoded (Twilio connects to exactly this). */
  readonly url: string;
  /** `<Parameter name value>` children in document order (later duplicates win). */
  readonly parameters: Readonly<Record<string, string>>;
  /** Every attribute of `<Stream>`, decoded (url, statusCallback, track, …). */
  readonly attributes: Readonly<Record<string, string>>;
}

export interface ParsedTwiml {
  /** Verbs directly under `<Response>`, in order (e.g. ['Connect'] or ['Say', 'Connect']). */
  readonly verbs: readonly string[];
  /** The bidirectional stream, when `<Connect><Stream>` is present. */
  readonly stream?: TwimlStream;
  /** Why the document is not a usable Connect/Stream answer, when it is not. */
  readonly error?: string;
}

const NAMED_ENTITIES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** Decodes XML character and predefined entity references in one pass (so `&amp;lt;` stays `&lt;`). */
export function decodeXmlEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (whole, ref: string) => {
    if (ref.startsWith('#x') || ref.startsWith('#X')) return codePoint(Number.parseInt(ref.slice(2), 16), whole);
    if (ref.startsWith('#')) return codePoint(Number.parseInt(ref.slice(1), 10), whole);
    return NAMED_ENTITIES[ref] ?? whole;
  });
}

function codePoint(cp: number, fallback: string): string {
  return Number.isInteger(cp) && cp >= 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : fallback;
}

interface Tag {
  readonly name: string;
  readonly closing: boolean;
  readonly selfClosing: boolean;
  readonly attributes: Record<string, string>;
}

// Attribute text may contain `>` inside quotes, so the tag body is matched as
// a run of unquoted characters or whole quoted strings.
const TAG = /<(\/?)([A-Za-z_][\w:.-]*)((?:[^>"']|"[^"]*"|'[^']*')*?)(\/?)>/g;
const ATTRIBUTE = /([A-Za-z_][\w:.-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

function* scanTags(xml: string): Generator<Tag> {
  // Comments, CDATA and processing instructions hold no TwiML elements.
  const stripped = xml
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<!\[CDATA\[[\s\S]*?\]\]>/g, '')
    .replace(/<\?[\s\S]*?\?>/g, '');
  for (const m of stripped.matchAll(TAG)) {
    const attributes: Record<string, string> = {};
    for (const a of (m[3] ?? '').matchAll(ATTRIBUTE)) {
      attributes[a[1]!] = decodeXmlEntities(a[2] ?? a[3] ?? '');
    }
    yield { name: m[2]!, closing: m[1] === '/', selfClosing: m[4] === '/', attributes };
  }
}

/** Parses a TwiML answer; never throws. */
export function parseTwiml(xml: string): ParsedTwiml {
  const path: string[] = [];
  const verbs: string[] = [];
  let stream: { url: string; parameters: Record<string, string>; attributes: Record<string, string> } | undefined;
  let streamCount = 0;
  let error: string | undefined;
  const fail = (why: string): void => {
    error ??= why;
  };

  for (const tag of scanTags(xml)) {
    if (tag.closing) {
      if (path[path.length - 1] !== tag.name) {
        fail(`mismatched </${tag.name}>`);
        break;
      }
      path.pop();
      continue;
    }
    const parent = path[path.length - 1];
    if (path.length === 0 && tag.name !== 'Response') fail(`root element is <${tag.name}>, not <Response>`);
    if (parent === 'Response') verbs.push(tag.name);
    if (tag.name === 'Stream') {
      streamCount++;
      if (parent !== 'Connect') {
        fail(`<Stream> inside <${parent ?? 'nothing'}>: only <Connect><Stream> is bidirectional`);
      } else if (path[path.length - 2] !== 'Response') {
        fail('<Connect> is not directly under <Response>');
      } else if (stream === undefined) {
        stream = { url: tag.attributes['url'] ?? '', parameters: {}, attributes: tag.attributes };
      }
    }
    if (tag.name === 'Parameter' && parent === 'Stream' && stream !== undefined && streamCount === 1) {
      const name = tag.attributes['name'];
      if (name === undefined) fail('<Parameter> without a name');
      else stream.parameters[name] = tag.attributes['value'] ?? '';
    }
    if (!tag.selfClosing) path.push(tag.name);
  }

  if (error === undefined && path.length > 0) fail(`unclosed <${path[path.length - 1]}>`);
  if (error === undefined && verbs.length === 0 && !/<Response\b/.test(xml)) fail('no <Response> element');
  if (error === undefined && stream === undefined) fail('no <Connect><Stream> in the answer');
  if (error === undefined && stream !== undefined) {
    if (stream.url === '') fail('<Stream> has no url');
    else if (!stream.url.startsWith('wss://')) fail(`stream url is not wss:// (${stream.url})`);
    else if (stream.url.includes('?')) fail('stream url carries a query string, which Twilio drops');
  }
  if (streamCount > 1) fail('more than one <Stream>');

  const result: ParsedTwiml = { verbs };
  return { ...result, ...(stream ? { stream } : {}), ...(error !== undefined ? { error } : {}) };
}
