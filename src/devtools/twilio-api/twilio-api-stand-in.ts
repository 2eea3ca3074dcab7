// A local stand-in for the slice of Twilio's REST API the bridge uses on a
// live call: `POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json`
// with `Twiml` (hand the call to new TwiML) or `Status=completed` (hang up).
// It checks HTTP basic auth as Twilio does, records every request, and tells
// listeners so a simulated call can end its stream the way Twilio would.
// Developer tool: the product never imports it.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { EventEmitter } from 'node:events';

export interface CallUpdate {
  readonly callSid: string;
  readonly twiml?: string;
  readonly status?: string;
  readonly at: number;
}

export interface TwilioApiStandInOptions {
  readonly accountSid: string;
  readonly authToken: string;
  /** Calls this stand-in answers 404 (code 20404) for, as for calls already gone. */
  readonly unknownCalls?: ReadonlySet<string>;
  /** Answer every update with this HTTP status (a failing API). */
  readonly failWith?: number;
}

export class TwilioApiStandIn {
  readonly updates: CallUpdate[] = [];
  /** Requests refused for bad credentials. */
  unauthorized = 0;
  readonly #events = new EventEmitter();

  private constructor(
    private readonly server: Server,
    readonly baseUrl: string,
  ) {}

  static async start(opts: TwilioApiStandInOptions): Promise<TwilioApiStandIn> {
    let standIn: TwilioApiStandIn | undefined;
    const server = createServer((req, res) => void standIn!.handle(req, res, opts));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    standIn = new TwilioApiStandIn(server, `http://127.0.0.1:${port}`);
    return standIn;
  }

  onUpdate(listener: (update: CallUpdate) => void): void {
    this.#events.on('update', listener);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse, opts: TwilioApiStandInOptions): Promise<void> {
    const body = await new Promise<string>((resolve) => {
      let data = '';
      req.on('data', (chunk: Buffer) => (data += chunk.toString()));
      req.on('end', () => resolve(data));
    });
    const reply = (status: number, json: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(json));
    };
    const expected = 'Basic ' + Buffer.from(`${opts.accountSid}:${opts.authToken}`).toString('base64');
    if (req.headers.authorization !== expected) {
      this.unauthorized++;
      return reply(401, { code: 20003, message: 'Authenticate', status: 401 });
    }
    const match = /^\/2010-04-01\/Accounts\/(AC[0-9a-fA-F]{32})\/Calls\/(CA[0-9a-fA-F]{32})\.json$/.exec(req.url ?? '');
    if (req.method !== 'POST' || !match || match[1] !== opts.accountSid) return reply(404, { code: 20404, message: 'Not found', status: 404 });
    const callSid = match[2]!;
    if (opts.unknownCalls?.has(callSid)) return reply(404, { code: 20404, message: `The requested resource ${callSid} was not found`, status: 404 });
    if (opts.failWith !== undefined) return reply(opts.failWith, { code: 20500, message: 'Internal error', status: opts.failWith });
    const params = new URLSearchParams(body);
    const update: CallUpdate = {
      callSid,
      ...(params.get('Twiml') !== null ? { twiml: params.get('Twiml')! } : {}),
      ...(params.get('Status') !== null ? { status: params.get('Status')! } : {}),
      at: Date.now(),
    };
    this.updates.push(update);
    reply(200, { sid: callSid, account_sid: opts.accountSid, status: update.status ?? 'in-progress' });
    this.#events.emit('update', update);
  }
}
