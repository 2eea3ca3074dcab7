// Owns the REST calls the bridge makes on a live call, through the twilio
// library: hand the call to fallback TwiML (this ends the media stream) or
// hang it up. The API origin can be pointed elsewhere (a regional edge, or a
// local stand-in in tests) by TWILIO_API_BASE_URL. Never logs credentials.

import twilio from 'twilio';

export interface CallControl {
  /** Replaces the call's TwiML. Resolves false when the call is already gone. */
  redirect(callSid: string, twiml: string): Promise<boolean>;
  /** Hangs the call up. Resolves false when the call is already gone. */
  hangup(callSid: string): Promise<boolean>;
}

export class CallControlError extends Error {
  readonly code = 'BRIDGE_ERR_TWILIO_REST';
}

type RequestOptions<T> = Parameters<InstanceType<typeof twilio.RequestClient>['request']>[0] & { data?: T };
type RequestResponse<T> = Awaited<ReturnType<InstanceType<typeof twilio.RequestClient>['request']>> & { body: T };

const TWILIO_API_ORIGIN = 'https://api.twilio.com';
/** Twilio's error for a call that no longer exists. */
const CALL_NOT_FOUND = 20404;

/** The library's own HTTP client, with requests for api.twilio.com sent to another origin. */
class RebasedRequestClient extends twilio.RequestClient {
  constructor(
    private readonly origin: string,
    timeoutMs: number,
  ) {
    super({ timeout: timeoutMs });
  }

  override request<TData>(opts: RequestOptions<TData>): Promise<RequestResponse<TData>> {
    const uri = opts.uri.startsWith(TWILIO_API_ORIGIN) ? this.origin + opts.uri.slice(TWILIO_API_ORIGIN.length) : opts.uri;
    return super.request<TData>({ ...opts, uri });
  }
}

export function twilioCallControl(accountSid: string, authToken: string, apiBaseUrl: string, timeoutMs: number): CallControl {
  const httpClient: InstanceType<typeof twilio.RequestClient> =
    apiBaseUrl === TWILIO_API_ORIGIN ? new twilio.RequestClient({ timeout: timeoutMs }) : new RebasedRequestClient(apiBaseUrl, timeoutMs);
  const client = twilio(accountSid, authToken, { httpClient });
  const update = async (callSid: string, params: { twiml: string } | { status: 'completed' }): Promise<boolean> => {
    try {
      await client.calls(callSid).update(params);
      return true;
    } catch (err) {
      if ((err as { code?: unknown }).code === CALL_NOT_FOUND) return false;
      const status = (err as { status?: unknown }).status;
      throw new CallControlError(`Twilio REST call update failed${typeof status === 'number' ? ` (HTTP ${status})` : ''}`);
    }
  };
  return {
    redirect: (callSid, twiml) => update(callSid, { twiml }),
    hangup: (callSid) => update(callSid, { status: 'completed' }),
  };
}
