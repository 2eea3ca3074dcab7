// Owns the peer's grip on one accepted socket: applying a close, a drop
// (TCP cut, no close frame), an expiry or a wedge, pausing reads, and recording how
// the socket ended and who ended it. The fault controls and the session use
// it; it never reads protocol.

import type { WebSocket } from 'ws';
import type { FaultAction, SocketControl } from './faults.js';
import type { Emit, SessionRecord } from './recording.js';
import type { RealtimeSession } from './session.js';

export class PeerSocket implements SocketControl {
  private protocol: RealtimeSession | null = null;
  private closeIntent: { code: number; reason: string; abrupt: boolean } | null = null;

  constructor(
    private readonly ws: WebSocket,
    private readonly rec: SessionRecord,
    private readonly emit: Emit,
  ) {}

  get session(): SessionRecord {
    return this.rec;
  }

  get open(): boolean {
    return this.rec.closed === null && this.closeIntent === null;
  }

  attach(protocol: RealtimeSession): void {
    this.protocol = protocol;
  }

  apply(action: FaultAction): void {
    if (!this.open) return;
    if (action.kind === 'wedge') {
      this.protocol?.wedge(action.transcribe);
      return;
    }
    if (action.kind === 'expire') {
      // session.expire() sends the error, then calls back into apply({close 1001}).
      if (this.protocol !== null) return this.protocol.expire();
      return this.apply({ kind: 'close', code: 1001, reason: 'session_expired' });
    }
    this.protocol?.dispose();
    if (action.kind === 'drop' || action.code === 1006) {
      this.closeIntent = { code: 1006, reason: '', abrupt: true };
      this.ws.terminate();
      return;
    }
    this.closeIntent = { code: action.code, reason: action.reason, abrupt: false };
    this.ws.close(action.code, action.reason);
  }

  pauseReading(): void {
    this.ws.pause();
  }

  resumeReading(): void {
    this.ws.resume();
  }

  /** Peer shutdown: a polite 1001 the server then follows with a TCP cut. */
  shutdown(): void {
    if (this.open) this.apply({ kind: 'close', code: 1001, reason: 'peer shutting down' });
  }

  onClosed(code: number, reason: string): void {
    this.protocol?.dispose();
    if (this.rec.closed !== null) return;
    const intent = this.closeIntent;
    this.rec.closed =
      intent !== null
        ? { at: performance.now(), code: intent.code, reason: intent.reason, by: 'peer', abrupt: intent.abrupt }
        : { at: performance.now(), code, reason, by: 'client', abrupt: code === 1006 };
    this.emit('sessionClosed', this.rec);
  }
}
