/**
 * The base of the fake SMS providers: a small HTTP server on 127.0.0.1 that records every
 * request and answers from a script. Besides each provider's own answers, any fake can hang
 * (never answer), trickle (a byte now and then, never finishing), fail with HTTP 500, or answer
 * garbage with HTTP 200.
 */
import http from 'node:http';

export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Form fields or, for JSON bodies, the object. */
  fields: Record<string, any>;
  /** When the whole request had arrived (`performance.now()`). */
  at: number;
}

export type CommonMode = 'ok' | 'hang' | 'trickle' | 'http500' | 'garbage';

export abstract class FakeProvider<Mode extends string = string> {
  readonly requests: FakeRequest[] = [];
  /** Answers for the next requests, in order; `ok` when empty. */
  readonly script: Array<Mode | CommonMode> = [];
  private server!: http.Server;
  private trickles: NodeJS.Timeout[] = [];
  url = '';
  /** Answer every request this much later (a slow provider). */
  delayMs = 0;

  /** The provider's own answer for one request in one mode. */
  protected abstract answer(
    req: FakeRequest,
    mode: Mode | 'ok',
  ): { status?: number; type?: string; body: string };

  queue(...modes: Array<Mode | CommonMode>) {
    this.script.push(...modes);
    return this;
  }

  sent(path: string): FakeRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://127.0.0.1');
        const type = String(req.headers['content-type'] ?? '');
        let fields: Record<string, any> = Object.fromEntries(url.searchParams);
        if (type.includes('application/json')) fields = { ...fields, ...JSON.parse(body || '{}') };
        else if (type.includes('x-www-form-urlencoded'))
          fields = { ...fields, ...Object.fromEntries(new URLSearchParams(body)) };
        const request: FakeRequest = {
          method: req.method ?? 'GET',
          path: url.pathname,
          query: url.searchParams,
          headers: req.headers,
          body,
          fields,
          at: performance.now(),
        };
        this.requests.push(request);
        const mode = this.script.shift() ?? 'ok';
        if (mode === 'hang') return; // never answers
        if (mode === 'trickle') {
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.write('{');
          this.trickles.push(setInterval(() => res.write(' '), 100));
          return;
        }
        if (mode === 'http500') {
          res.writeHead(500, { 'Content-Type': 'text/html' });
          return res.end('<html><body>Internal Server Error</body></html>');
        }
        if (mode === 'garbage') {
          res.writeHead(200, { 'Content-Type': 'text/html' });
          return res.end('<html><body>Service temporarily in maintenance</body></html>');
        }
        const out = this.answer(request, mode as Mode);
        const send = () => {
          res.writeHead(out.status ?? 200, { 'Content-Type': out.type ?? 'application/json; charset=utf-8' });
          res.end(out.body);
        };
        if (this.delayMs > 0) setTimeout(send, this.delayMs);
        else send();
      });
    });
    await new Promise<void>((ok) => this.server.listen(0, '127.0.0.1', ok));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this;
  }

  async stop() {
    this.trickles.forEach(clearInterval);
    this.server.closeAllConnections();
    await new Promise<void>((ok) => this.server.close(() => ok()));
  }
}
