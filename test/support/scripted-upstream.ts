// A minimal realtime-service stand-in whose socket behaviour each test
// scripts: it mints a token for any request, accepts every upgrade, and
// hands the socket to `onSocket`. For faults the local peer does not model
// (hostile or misbehaving servers).

import { createServer } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';

export interface ScriptedUpstream {
  readonly baseUrl: string;
  /** Sockets accepted so far. */
  readonly accepted: () => number;
  close(): Promise<void>;
}

export async function startScriptedUpstream(onSocket: (ws: WebSocket) => void): Promise<ScriptedUpstream> {
  const http = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ value: 'ek_scripted', expires_at: Math.floor(Date.now() / 1000) + 60 }));
  });
  const wss = new WebSocketServer({ server: http });
  let accepted = 0;
  wss.on('connection', (ws) => {
    accepted++;
    onSocket(ws);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const port = (http.address() as { port: number }).port;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    accepted: () => accepted,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
